"""The registered search: its plan, the edge rule, and a tiny search run end to end (Optuna + Dask)."""

import json
import re

import pytest

from dfa_lafs import search
from dfa_lafs.config import RunConfig
from dfa_lafs.model import MLP


def test_param_count_matches_the_network_the_library_builds():
    for hidden in [(100,), (100, 100, 100), (800, 800, 800), (37, 5)]:
        net = MLP.from_config(RunConfig(rule="bp", hidden=hidden, device="cpu"))
        assert search.param_count(hidden) == sum(t.numel() for t in net.W + net.b)


def test_matched_width_has_about_as_many_parameters():
    # 3 x 100: 785*100 + 2*101*100 + 101*10 = 99,710 = 795 w + 10 -> w = 125.4
    assert search.matched_width((100, 100, 100)) == 125
    assert search.matched_width((800, 800, 800)) == 2412
    assert search.matched_width((300,)) == 300  # one hidden layer is its own match
    for hidden in [(200, 200, 200), (100, 100), (400, 400, 400)]:
        w = search.matched_width(hidden)
        assert abs(search.param_count((w,)) - search.param_count(hidden)) <= 795 / 2 + 1


def test_ladder_steps_along_1_3_10():
    assert search.ladder(1.0, +1) == 3.0 and search.ladder(3.0, +1) == 10.0
    assert search.ladder(0.1, -1) == 0.03 and search.ladder(0.03, -1) == 0.01
    assert search.ladder(30.0, +1) == 100.0 and search.ladder(0.01, -1) == 0.003


CELL = search.Cell("dfa", (8,), {"lr": (0.1, 0.3, 1.0), "feedback_scale": (1.0, 3.0)}, pruned=False)


def trial(lr, scale, state="complete", value=None, number=0):
    return {"number": number, "params": {"lr": lr, "feedback_scale": scale}, "state": state, "value": value}


def test_choice_is_the_best_validation_accuracy_ties_to_smaller_lr():
    trials = [trial(0.1, 1.0, value=0.9), trial(0.3, 1.0, value=0.95), trial(1.0, 1.0, value=0.95),
              trial(0.3, 3.0, "pruned")]
    assert search.choose(trials)["params"] == {"lr": 0.3, "feedback_scale": 1.0}
    assert search.choose([trial(0.1, 1.0, "pruned")]) is None


def test_a_choice_at_an_edge_is_extended_outward_along_its_line():
    trials = [trial(lr, s, value=v) for (lr, s), v in
              {(0.1, 1.0): 0.90, (0.3, 1.0): 0.91, (1.0, 1.0): 0.93, (0.1, 3.0): 0.92, (0.3, 3.0): 0.94,
               (1.0, 3.0): 0.96}.items()]
    assert search.edges(CELL, trials) == {"lr": "high edge", "feedback_scale": "high edge"}
    assert sorted(map(str, search.extensions(CELL, trials, {"lr": (1e-4, 10), "feedback_scale": (0.01, 1000)}))) \
        == sorted(map(str, [{"lr": 3.0, "feedback_scale": 3.0}, {"lr": 1.0, "feedback_scale": 10.0}]))
    # a worse (or pruned, or diverged) value beyond the choice makes it interior
    trials += [trial(3.0, 3.0, "diverged"), trial(1.0, 10.0, value=0.95)]
    assert search.edges(CELL, trials) == {"lr": "interior", "feedback_scale": "interior"}
    assert search.extensions(CELL, trials, {"lr": (1e-4, 10), "feedback_scale": (0.01, 1000)}) == []


def test_extension_stops_at_the_cap():
    trials = [trial(0.3, 1.0, value=0.9), trial(1.0, 1.0, value=0.95), trial(1.0, 3.0, value=0.94),
              trial(1.0, 0.3, value=0.93)]
    assert search.extensions(CELL, trials, {"lr": (1e-4, 1.0), "feedback_scale": (0.01, 1000)}) == []


def test_failed_trials_are_retried_by_a_new_search_only():
    cell = search.Cell("bp", (8,), {"lr": (0.1, 1.0)}, pruned=False)
    records = [{"number": 0, "params": {"lr": 0.1}, "state": "complete", "value": 0.9},
               {"number": 1, "params": {"lr": 1.0}, "state": "failed", "value": None}]
    plan = search.Plan({}, 0, (cell,), {"lr": (1e-4, 10)}, {}, None)
    assert search.pending(plan, cell, records, first_new=2) == [{"lr": 1.0}]  # from an earlier search
    # failed in this search: not retried in a loop (0.1 is then the choice, at both edges of what ran)
    assert search.pending(plan, cell, records, first_new=1) == [{"lr": 0.03}, {"lr": 0.3}]


def test_a_cell_is_settled_when_every_configuration_finished_last():
    retried = [trial(0.1, 1.0, "failed", number=0), trial(0.3, 1.0, value=0.9, number=1),
               trial(0.1, 1.0, value=0.8, number=2)]  # interrupted, then run again
    assert search.settled(retried)
    assert not search.settled(retried + [trial(1.0, 1.0, "running", number=3)])
    assert not search.settled([trial(0.1, 1.0, value=0.8, number=0), trial(0.1, 1.0, "failed", number=1)])
    assert not search.settled([])


def test_the_registered_plan():
    plan = search.load_plan()
    names = {c.name for c in plan.cells}
    for rule in ("dfa", "lafs"):
        for width in (100, 200, 400, 800):
            assert {f"{rule}_1x{width}", f"{rule}_3x{width}"} <= names
    assert {"dfa_2x100", "lafs_4x100"} <= names
    # the bars: every width, and one hidden layer with as many parameters as each deeper network
    bars = {c.hidden[0] for c in plan.cells if c.rule == "bp"}
    assert bars == {100, 200, 400, 800, 113, 125, 138, 301, 804, 2412}
    assert all(c.pruned == (c.rule != "bp" and c.hidden[0] >= 200) for c in plan.cells)
    lafs = next(c for c in plan.cells if c.name == "lafs_3x800")
    scales = lafs.dims["feedback_scale"]
    assert max(scales) / min(scales) >= 30  # the scale of B^i spans at least 30x
    assert search.rungs(plan, lafs, 100) == [5, 15, 45]
    assert len(search.config_of(plan, lafs, {"lr": 0.1, "feedback_scale": 3.0}).hidden) == 3


PLAN = """
claims:
  open_question:
    search:
      folder: out
      seed: 0
      base: {val_size: 256, train_size: 512, patience: 2, epochs: 6, record_points: 3, baseline_epochs: 0,
             eval_size: 64, probe_size: 32, device: cpu}
      widths: [8]
      depths: [2]
      rules:
        dfa: {lr: [0.1, 1.0], feedback_scale: [1.0, 3.0]}
      bar: {rule: bp, lr: [0.3, 1.0]}
      edge: {ladder: [1, 3], caps: {lr: [0.0001, 10.0], feedback_scale: [0.01, 1000.0]}}
      pruner: {min_resource: 2, reduction_factor: 2, from_width: 8}
"""


def test_a_tiny_search_runs_every_point_prunes_extends_and_resumes(tmp_path, data_root):
    (tmp_path / "plan.yaml").write_text(PLAN)
    plan = search.load_plan(tmp_path / "plan.yaml")
    counts = search.run_search(plan, workers=2, data_root=data_root, progress=False)
    stored = json.loads((tmp_path / "out" / "trials.json").read_text())
    for cell in plan.cells:
        records = stored["trials"][cell.name]
        tried = [r["params"] for r in records]
        assert all(p in tried for p in cell.grid)  # every registered point ran
        assert all(r["state"] in ("complete", "pruned", "diverged") for r in records)
        assert search.extensions(cell, records, plan.caps) == []  # every choice interior (or capped)
        for r in records:
            if r["state"] == "pruned":  # stopped at a rung: 2 or 4 epochs
                assert len(r["curve"]) in search.rungs(plan, cell, 6)
            if r["state"] == "complete":
                result = json.loads((plan.folder / r["result"]).read_text())
                assert result["final"]["val/accuracy"] == r["value"]  # the study's value is the run's
                assert r["curve"][-1] == max(result["per_epoch"]["val/accuracy"])
    assert sum(counts.values()) == sum(len(r) for r in stored["trials"].values())
    # resumable: a second search finds nothing left to run
    assert search.run_search(plan, workers=1, data_root=data_root, progress=False) == counts


def test_a_search_runs_the_trials_an_interrupted_one_left_waiting(tmp_path, data_root):
    import optuna

    (tmp_path / "plan.yaml").write_text(PLAN)
    plan = search.load_plan(tmp_path / "plan.yaml")
    bar = next(c for c in plan.cells if c.rule == "bp")
    plan = search.Plan(plan.base, plan.seed, (bar,), plan.caps, plan.pruner, plan.folder)
    plan.folder.mkdir()
    study = optuna.create_study(study_name=bar.name, storage=search._storage(plan.folder), direction="maximize")
    for point in bar.grid:  # what a driver killed before its workers started leaves behind
        study.enqueue_trial(point)
    counts = search.run_search(plan, workers=1, data_root=data_root, progress=False)
    assert counts.get("waiting", 0) == 0 and counts["complete"] >= len(bar.grid)
    assert not list((plan.folder / "checkpoints").glob("*.ckpt"))


def test_the_verdict_grid_runs_every_choice_and_bar_with_the_registered_seeds(monkeypatch):
    import yaml

    from dfa_lafs.studies import open_question as oq

    plan = search.load_plan()
    records = {}
    for cell in plan.cells:  # a finished search: every cell's grid, one best point
        rows = [{"number": k, "params": p, "state": "complete", "value": 0.9 + 0.001 * k, "curve": [0.9]}
                for k, p in enumerate(cell.grid)]
        records[cell.name] = rows
    monkeypatch.setattr(oq, "trials", lambda: {"cells": [], "trials": records})
    spec = yaml.safe_load(oq.seed_grid_yaml())
    assert spec["name"] == "open_question" and spec["base"] == plan.base
    points = spec["points"]
    assert len(points) == 5 * len(plan.cells) and {p["seed"] for p in points} == {1, 2, 3, 4, 5}
    lafs = [p for p in points if p["rule"] == "lafs" and p["hidden"] == [800, 800, 800]]
    best = search.choose(records["lafs_3x800"])["params"]
    assert all(p["lr"] == best["lr"] and p["feedback_scale"] == best["feedback_scale"] for p in lafs)
    assert all("feedback_scale" not in p for p in points if p["rule"] == "bp")
    monkeypatch.setattr(oq, "trials", lambda: {"cells": [], "trials": {**records, "lafs_3x800": records["lafs_3x800"][:3]
                                                                        + [{**records["lafs_3x800"][3], "state": "waiting"}]}})
    with pytest.raises(ValueError, match="not finished"):
        oq.seed_grid_yaml()


def _finished_search(monkeypatch):
    """A finished search for every registered cell (each cell's last grid point best)."""
    from dfa_lafs.studies import open_question as oq

    records = {cell.name: [{"number": k, "params": p, "state": "complete", "value": 0.9 + 0.001 * k, "curve": [0.9]}
                           for k, p in enumerate(cell.grid)] for cell in search.load_plan().cells}
    monkeypatch.setattr(oq, "trials", lambda: {"cells": [], "trials": records})
    return records


def test_a_stage_of_the_verdict_grid_is_part_of_the_full_grid(monkeypatch):
    import yaml

    from dfa_lafs.studies import open_question as oq

    _finished_search(monkeypatch)
    full, stage = (yaml.safe_load(oq.seed_grid_yaml(w))["points"] for w in (None, [100]))
    key = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
    assert {key(p) for p in stage} < {key(p) for p in full}
    names = {f"{p['rule']}_{len(p['hidden'])}x{p['hidden'][0]}" for p in stage}
    # width 100: DFA 1-3 and LAFS 1, 3, 4 hidden layers; bars of 100 units and as many parameters as 2, 3 and 4 x 100
    assert names == {"dfa_1x100", "dfa_2x100", "dfa_3x100", "lafs_1x100", "lafs_3x100", "lafs_4x100",
                     "bp_1x100", "bp_1x113", "bp_1x125", "bp_1x138"}
    assert len(stage) == 5 * len(names)


def test_the_stored_verdict_grid_is_what_the_search_chose():
    import yaml

    from dfa_lafs.experiments import SWEEPS_DIR
    from dfa_lafs.studies import open_question as oq

    path = SWEEPS_DIR / "open_question.yaml"
    if not path.exists():
        pytest.skip("no verdict run is planned yet (sweeps/open_question.yaml is written when a width is chosen)")
    text = path.read_text()
    stage = re.search(r"# A stage: the cells of widths (\[[\d, ]+\]) only", text)
    assert text == oq.seed_grid_yaml(yaml.safe_load(stage.group(1)) if stage else None)


def test_interim_decides_only_what_holm_must_decide_whatever_the_other_widths_give(monkeypatch):
    import numpy as np
    import pandas as pd

    from dfa_lafs import stats
    from dfa_lafs.studies import open_question as oq
    from dfa_lafs.studies import search_report

    _finished_search(monkeypatch)
    rng, rows = np.random.default_rng(0), []
    means = {"dfa": 0.95, "lafs": 0.9782, "bp": 0.98}  # DFA far below the bars; LAFS below them, p between alpha/16 and alpha
    for name in oq.cells_of_width(100):
        rule, shape = name.split("_")
        depth, width = map(int, shape.split("x"))
        rows += [{"rule": rule, "width": width, "depth": depth, "seed": s, "val_accuracy": 0.0, "hit_cap": False,
                  "test_accuracy": means[rule] + 0.001 * rng.standard_normal()} for s in range(1, 6)]
    runs = pd.DataFrame(rows)
    monkeypatch.setattr(oq, "verdict_runs", lambda: runs)
    monkeypatch.setattr(search_report, "verdict_runs", lambda: runs)
    table = search_report.interim()
    assert set(table["width"]) == {100} and set(table["rule"]) == {"dfa", "lafs"}
    assert set(table[table["rule"] == "dfa"]["now"]) == {"falls short of"}
    assert set(table[table["rule"] == "lafs"]["now"]) == {"waits for the family"}
    m = 16  # two rules x two bars x four widths
    assert any(0.05 / m < p < 0.05 for p in table[table["rule"] == "lafs"]["p"])  # decided at 0.05 alone, not here
    for row in table.itertuples():
        assert (row.low > 0 or row.high < 0) == (row.now != "waits for the family")  # the interval at 1 - alpha/m
        if row.now != "waits for the family":  # Holm rejects it among any 15 other p-values, even the smallest
            for others in (np.zeros(m - 1), rng.uniform(size=m - 1), np.full(m - 1, row.p)):
                assert stats.holm([row.p, *others])[0][0]
    summary, listing = search_report.interim_summary(), search_report.interim_markdown()
    assert summary.startswith("width 100, decided already: DFA falls short of BP with same width") and "LAFS" not in summary
    assert len(listing.splitlines()) == len(table)
    assert listing.count("**waits for the family**") == (table["now"] == "waits for the family").sum() > 0
    runs_missing = runs[~((runs["rule"] == "bp") & (runs["width"] == 138) & (runs["seed"] == 5))]
    monkeypatch.setattr(oq, "verdict_runs", lambda: runs_missing)
    monkeypatch.setattr(search_report, "verdict_runs", lambda: runs_missing)
    assert search_report.interim().empty  # one run missing: width 100 waits


def test_the_search_finishes_one_width_before_the_next():
    from dfa_lafs.studies import open_question as oq

    pos = {c.name: i for i, c in enumerate(search.search_order(search.load_plan()))}
    widths = oq.load_plan_widths()
    assert sorted(pos) == sorted(n for w in widths for n in oq.cells_of_width(w))  # every cell, each once
    for narrow, wide in zip(widths, widths[1:]):
        assert max(pos[n] for n in oq.cells_of_width(narrow)) < min(pos[n] for n in oq.cells_of_width(wide))


def test_progress_counts_the_search_compute_from_the_stored_trials():
    from dfa_lafs.studies import search_report

    p = search_report.progress()
    records = [r for rows in search_report.trials()["trials"].values() for r in rows]
    assert sum(p["states"].values()) == len(records)
    assert p["epochs"] == sum(r.get("epochs_run") or 0 for r in records)
    assert 0 < p["completed_run_hours"] <= p["run_hours"]


def test_dask_runs_the_cells_in_the_search_order():
    plan = search.load_plan()
    priority = search.priorities(plan)
    ranked = [c.name for c in search.search_order(plan)]
    assert sorted(priority, key=priority.get, reverse=True) == ranked  # Dask: higher priority runs first


def test_the_best_network_so_far_is_chosen_on_validation_and_read_on_test(monkeypatch):
    import numpy as np
    import pandas as pd
    from scipy import stats as sps

    from dfa_lafs.studies import search_report

    cells = [("dfa", 100, 0.970, 0.969, 5), ("dfa", 200, 0.980, 0.950, 5),  # 200: better on validation, worse on test
             ("dfa", 400, 0.990, 0.990, 4), ("lafs", 100, None, None, 0)]  # 400: a seed missing; LAFS: no choice yet
    table = pd.DataFrame([{"rule": r, "width": w, "depth": 1, "lr": 0.1 if v else None, "feedback_scale": 3.0 if v else None,
                           "val_accuracy": v} for r, w, v, _, _ in cells])
    rng = np.random.default_rng(1)
    runs = pd.DataFrame([{"rule": r, "width": w, "depth": 1, "seed": s, "test_accuracy": t + 0.002 * rng.standard_normal()}
                         for r, w, _, t, n in cells for s in range(1, n + 1)])
    monkeypatch.setattr(search_report, "choices", lambda: table)
    monkeypatch.setattr(search_report, "verdict_runs", lambda: runs)
    best = search_report.best_on_validation("dfa")
    assert (best["width"], best["depth"], best["n"]) == (200, 1, 5)
    errors = 100 * (1 - runs[runs["width"] == 200]["test_accuracy"].to_numpy())
    low, high = sps.t.interval(0.95, len(errors) - 1, loc=errors.mean(), scale=sps.sem(errors))
    assert best["error"] == pytest.approx(errors.mean()) and (best["low"], best["high"]) == pytest.approx((low, high))
    assert search_report.best_on_validation("lafs") is None
    text = search_report.best_on_validation_markdown()
    assert text.startswith("- DFA, 1 x 200") and "above the 1.45%" in text and "LAFS" not in text
