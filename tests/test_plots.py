"""The book's band plots and the explorer, on hand-made histories (the plotted values are checked)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from dfa_lafs.config import RunConfig
from dfa_lafs.results import Result

STEPS = [0, 10, 100]


def _run(rule, seed, hidden=(8, 8), **config):
    """Every metric the band plots read, with value (seed + step index + layer/10) at each step."""
    h = {"step": STEPS}
    for i in range(1, len(hidden) + 1):
        for name in ("angle", "angle_centered", "angle_control", "readout_accuracy", "readout_margin"):
            h[f"train/{name}/{i}"] = [seed + k + i / 10 for k in range(3)]
        for name in ("update_angle", "dfa_update_angle", "lafs_update_angle"):
            offset = {"update_angle": 0, "dfa_update_angle": 100, "lafs_update_angle": 200}[name]
            h[f"probe/{name}/{i}"] = [offset + seed + k + i / 10 for k in range(3)]
    h["train/angle_linear"] = [50.0 + seed] * 3
    return Result(RunConfig(rule=rule, hidden=hidden, seed=seed, **config), h, {}, {})


def _runs():
    return [_run(rule, seed) for rule in ("dfa", "lafs") for seed in (0, 1, 2)]


def _lines(ax):
    return {line.get_label(): (line.get_ydata(), line.get_color(), line.get_linestyle()) for line in ax.get_lines()}


def test_figure1_bands_draws_the_seed_mean_per_rule_and_layer_colour_layer_style_rule():
    from dfa_lafs.plots import LAYER_COLORS, figure1_bands

    fig = figure1_bands(_runs(), layers=(1, 2))
    lines = _lines(fig.axes[0])
    y, color, style = lines["LAFS layer 2 (n=3)"]
    assert np.allclose(y, [1.2, 2.2, 3.2]) and color == LAYER_COLORS[1] and style == "--"
    assert lines["DFA layer 1 (n=3)"][2] == "-" and len(fig.axes[0].collections) == 4  # 4 bands


def test_baseline_grid_has_a_row_per_rule_and_draws_split_metrics_in_every_column():
    from dfa_lafs.plots import baseline_grid

    lines = [("readout", "{split}/angle/{i}", None, "-"), ("linear", "{split}/angle_linear", "black", ":")]
    fig = baseline_grid(_runs(), lines, layers=(1, 2))
    assert len(fig.axes) == 4 and fig.axes[2].get_title() == "LAFS, hidden layer 1"
    for ax in fig.axes:
        assert np.allclose(_lines(ax)["linear (n=3)"][0], 51.0)


def test_update_alignment_bands_colour_the_update_and_dash_the_other_rules_weights():
    from dfa_lafs.plots import RULE_COLORS, update_alignment_bands

    fig = update_alignment_bands(_runs(), layers=(1, 2))
    lines = _lines(fig.axes[1])
    y, color, style = lines["LAFS update at DFA's weights (n=3)"]
    assert np.allclose(y, [201.2, 202.2, 203.2]) and color == RULE_COLORS["lafs"] and style == "--"
    y, color, style = lines["DFA update at DFA's weights (n=3)"]
    assert np.allclose(y, [1.2, 2.2, 3.2]) and color == RULE_COLORS["dfa"] and style == "-"
    assert np.allclose(lines["DFA update at LAFS's weights (n=3)"][0], [101.2, 102.2, 103.2])
    assert len(set(RULE_COLORS.values())) == len(RULE_COLORS)


def test_static_explorer_has_one_view_per_sweep_rule_and_existing_layer():
    pytest.importorskip("plotly")
    from dfa_lafs.explorer import static_explorer

    deep = {f"d{d}s{s}lr{lr}": _run("dfa", s, hidden=(4,) * d, lr=lr)
            for d in (1, 2) for s in (0, 1) for lr in (0.1, 0.3)}
    fig = static_explorer({"seeds": {f"p{k}": r for k, r in enumerate(_runs())}, "depth": deep})
    labels = [b["label"] for b in fig.layout.updatemenus[0].buttons]
    assert labels == ["seeds | DFA | layer 1", "seeds | DFA | layer 2", "seeds | LAFS | layer 1",
                      "seeds | LAFS | layer 2", "depth | DFA | layer 1", "depth | DFA | layer 2"]
    first = [t.name for t in fig.data if t.visible]
    assert first == ["seed=0", "seed=1", "seed=2"] * 3  # three metrics, one line per run
    depth2 = fig.layout.updatemenus[0].buttons[-1]["args"][0]["visible"]
    names = {t.name for t, shown in zip(fig.data, depth2) if shown}
    assert names == {"hidden=2x4, lr=0.1, seed=0", "hidden=2x4, lr=0.1, seed=1", "hidden=2x4, lr=0.3, seed=0",
                     "hidden=2x4, lr=0.3, seed=1"}


def test_stored_sweeps_loads_what_is_complete_and_says_why_not_for_the_rest(tmp_path, monkeypatch):
    from dfa_lafs import experiments
    from dfa_lafs.explorer import stored_sweeps
    from dfa_lafs.results import ResultError
    from dfa_lafs.sweep.grid import load_grid

    grids, results = tmp_path / "sweeps", tmp_path / "results"
    grids.mkdir()
    for name in ("done", "never", "empty", "half", "old"):
        (grids / f"{name}.yaml").write_text(f"name: {name}\ngrid: {{seed: [0, 1]}}\n")
    for name, stored in (("empty", 0), ("half", 1), ("old", 2)):
        (results / "sweeps" / name).mkdir(parents=True)
        for point in load_grid(grids / f"{name}.yaml").points[:stored]:
            (results / "sweeps" / name / f"{point.id}.json").write_text("{}")

    def load(name):
        if name != "done":
            raise ResultError(f"2 of 2 points of {name} have no fresh result")
        return {"p": _run("dfa", 0)}

    monkeypatch.setattr(experiments, "SWEEPS_DIR", grids)
    monkeypatch.setattr(experiments, "RESULTS", results)
    monkeypatch.setattr(experiments, "load_stored_sweep", load)
    loaded, missing = stored_sweeps()
    assert list(loaded) == ["done"]
    assert missing == {"empty": "not yet run", "half": "incomplete", "never": "not yet run",
                       "old": "stale or invalid: 2 of 2 points of old have no fresh result"}
