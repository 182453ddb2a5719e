"""The comparison protocol against scipy's own computations and hand-made tables."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from dfa_lafs.protocol import choose_lr, interval, summarize, verdict, welch


def _runs():
    rows = []
    for lr, val in [(0.03, 0.90), (0.1, 0.95), (0.3, 0.93)]:
        rows.append({"rule": "dfa", "depth": 1, "lr": lr, "val_accuracy": val})
    for lr, val in [(0.03, 0.80), (0.1, 0.85), (0.3, 0.97)]:
        rows.append({"rule": "lafs", "depth": 1, "lr": lr, "val_accuracy": val})
    return pd.DataFrame(rows)


def test_choose_lr_picks_best_validation_and_flags_edges():
    chosen = choose_lr(_runs()).set_index("rule")
    assert chosen.loc["dfa", "lr"] == 0.1 and not chosen.loc["dfa", "at_edge"]
    assert chosen.loc["lafs", "lr"] == 0.3 and chosen.loc["lafs", "at_edge"]


def test_interval_is_student_t():
    x = [0.91, 0.93, 0.92, 0.95, 0.90]
    mean, low, high, n = interval(x)
    half = scipy.stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / np.sqrt(5)
    assert (mean, n) == (pytest.approx(np.mean(x)), 5) and high - mean == pytest.approx(half)
    assert np.isnan(interval([0.9])[1])


def test_welch_matches_scipy_and_verdicts():
    a, b = [0.97, 0.972, 0.969, 0.971, 0.973], [0.95, 0.951, 0.949, 0.952, 0.95]
    c = welch(a, b)
    assert c["p"] == pytest.approx(scipy.stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert c["low"] > 0 and verdict(c) == "beats" and verdict(welch(b, a)) == "falls short of"
    assert verdict(welch(a, [0.96, 0.98, 0.97, 0.972, 0.968])) == "is not distinguishable from"
    with pytest.raises(ValueError, match="at least 2 runs"):
        welch([0.9], b)


def test_summarize_counts_cap_hits():
    runs = pd.DataFrame({"rule": ["dfa"] * 3, "depth": [1] * 3, "test_accuracy": [0.9, 0.91, 0.92],
                         "val_accuracy": [0.9] * 3, "best_epoch": [10, 20, 30], "hit_cap": [True, False, False]})
    row = summarize(runs).iloc[0]
    assert row["n"] == 3 and row["hit_cap_rate"] == pytest.approx(1 / 3) and row["best_epoch"] == 20


def _fake_result(rule, seed, values):
    from dfa_lafs.config import RunConfig
    from dfa_lafs.results import Result

    nan = float("nan")
    history = {"step": [0, 10, 100]}
    for size in ("64", "512", "4096", "all"):
        history[f"noise/dfa_vs_lafs_update/{size}/1"] = [values[size], nan, values[size] + 1]
    history["probe/dfa_vs_lafs_update/1"] = [1.0, 2.0, 3.0 + seed]
    return Result(RunConfig(rule=rule, hidden=(8,), seed=seed), history, {}, {})


def test_noise_tables_skip_unmeasured_steps_and_average_seeds():
    from dfa_lafs.analysis import final_values, noise_summary, noise_table

    runs = [_fake_result("dfa", s, {"64": 10.0 + s, "512": 20.0, "4096": 30.0, "all": 40.0}) for s in range(3)]
    table = noise_table(runs)
    assert len(table) == 3 * 2 * 4 and set(table["step"]) == {0, 100}
    summary = noise_summary(table).set_index(["step", "batch"])
    assert summary.loc[(0, "64"), "mean"] == pytest.approx(11.0) and summary.loc[(0, "64"), "n"] == 3
    assert summary.loc[(100, "all"), "mean"] == pytest.approx(41.0)
    assert np.isclose(summary.loc[(0, "512"), "low"], 20.0)  # no spread across seeds
    finals = final_values(runs, {"update": "probe/dfa_vs_lafs_update/{i}"}, [1]).iloc[0]
    assert finals["mean"] == pytest.approx(4.0) and finals["n"] == 3


def test_seed_grid_reruns_each_rows_chosen_lr_with_its_extra_seeds():
    import yaml

    from dfa_lafs.config import RunConfig
    from dfa_lafs.protocol import extra_seeds, seed_grid_yaml
    from dfa_lafs.results import Result

    def result(rule, hidden, lr, val):
        final = {"val/accuracy": val, "test/accuracy": val, "best_epoch": 3, "epochs_run": 5, "hit_cap": False}
        return Result(RunConfig(rule=rule, hidden=hidden, lr=lr, val_size=100, patience=2), {}, {}, {}, final)

    search = {f"{r}{h}{lr}": result(r, h, lr, val) for r, h, lr, val in [
        ("fa", (8, 8), 0.1, 0.9), ("fa", (8, 8), 0.3, 0.95), ("bp", (), 0.1, 0.9), ("bp", (), 0.3, 0.8)]}
    spec = yaml.safe_load(seed_grid_yaml(search, {"val_size": 100}, "depth", extra_seeds))
    assert spec["name"] == "depth" and spec["base"] == {"val_size": 100}
    assert [(p["rule"], tuple(p["hidden"]), p["lr"], p["seed"]) for p in spec["points"]] == [
        ("fa", (8, 8), 0.3, 1), ("fa", (8, 8), 0.3, 2)] + [("bp", (), 0.1, s) for s in (1, 2, 3, 4)]


def test_claim_tables_on_hand_made_histories():
    from dfa_lafs.analysis import alignment_claim, late_learning, readout_claim
    from dfa_lafs.config import RunConfig
    from dfa_lafs.results import Result

    def run(seed, readout, network, angle, linear):
        h = {"step": [0, 10, 100], "test/readout_accuracy/1": readout, "test/accuracy": network,
             "test/readout_accuracy_control/1": [0.1] * 3, "test/linear_accuracy": [0.92] * 3,
             "test/angle_centered/1": angle, "test/angle_linear_centered": linear,
             "test/angle_centered_control/1": [90.0] * 3}
        return Result(RunConfig(rule="dfa", hidden=(8,), seed=seed), h, {}, {})

    runs = [run(s, [0.1, 0.8, 0.5 + s / 100], [0.1, 0.9, 0.95], [90.0, 30.0, 60.0], [90.0, 40.0, 35.0])
            for s in range(3)]
    ro = readout_claim(runs, [1]).iloc[0]
    assert ro["peak"] == pytest.approx(0.8) and ro["end"] == pytest.approx(0.51) and ro["linear"] == 0.92
    al = alignment_claim(runs, [1]).iloc[0]
    assert al["end_gap"] == pytest.approx(25.0) and al["best_gap"] == pytest.approx(-10.0)
    assert al["best_step"] == 10 and al["below_linear_steps"] == [10]
    late = late_learning(runs)
    assert late["readout"][0] == pytest.approx(0.51 - 0.8) and late["network"][0] == pytest.approx(0.05)


def test_after_peak_pairs_each_run_with_its_own_peak_and_interval_text():
    from dfa_lafs.analysis import after_peak, interval_text
    from dfa_lafs.config import RunConfig
    from dfa_lafs.results import Result

    def run(seed, readout, margin):
        h = {"step": [0, 10, 100, 1000], "train/readout_accuracy/1": readout, "train/readout_margin/1": margin}
        return Result(RunConfig(rule="dfa", hidden=(8,), seed=seed), h, {}, {})

    runs = [run(0, [0.1, 0.9, 0.5, 0.4], [0.0, 1.0, 0.5, 0.2]),  # peak at step 10
            run(1, [0.1, 0.5, 0.8, 0.6], [0.0, 0.3, 2.0, 1.0]),  # peak at step 100
            run(2, [0.1, 0.5, 0.8, 0.7], [0.0, 0.3, 1.5, 1.1])]  # peak at step 100
    table = after_peak(runs, {"readout": "{split}/readout_accuracy/{i}", "margin": "{split}/readout_margin/{i}"},
                       [1]).set_index("metric")
    assert table.loc["margin", "at_peak"] == pytest.approx(1.5)
    assert table.loc["margin", "end"] == pytest.approx(0.77, abs=0.01)
    assert table.loc["margin", "change"] == pytest.approx(np.mean([-0.8, -1.0, -0.4]))
    assert table.loc["readout", "peak_step"] == 100 and table.loc["readout", "n"] == 3
    mean, low, high, _ = interval([-0.8, -1.0, -0.4])
    assert (table.loc["margin", "change_low"], table.loc["margin", "change_high"]) == pytest.approx((low, high))
    assert interval_text([1.0, 2.0, 3.0], digits=1) == "2.0 [-0.5, 4.5]"
    assert interval_text([0.5, 0.5], digits=0, scale=100) == "50 [50, 50]"


def test_after_epoch_pairs_the_first_record_past_the_epoch_with_the_end():
    from dfa_lafs.analysis import after_epoch, trend
    from dfa_lafs.config import RunConfig
    from dfa_lafs.results import Result

    def run(seed, schedule, readout, network):
        h = {"step": [0, 10, 20, 30], "epoch": [0.0, 10.0, 20.0, 30.0], "test/readout_accuracy/1": readout,
             "test/accuracy": network}
        return Result(RunConfig(rule="dfa", hidden=(8,), seed=seed, lr_schedule=schedule, epochs=30), h, {}, {})

    runs = [run(s, "constant", [0.1, 0.9, 0.8, 0.5 - s / 100], [0.1, 0.9, 0.9, 0.9]) for s in range(3)]
    runs += [run(s, "cosine", [0.1, 0.9, 0.8, 0.8 + s / 100], [0.1, 0.9, 0.9, 0.9 + s / 100]) for s in range(3)]
    table = after_epoch(runs, {"readout": "{split}/readout_accuracy/{i}", "network": "{split}/accuracy"}, [1],
                        epoch=15).set_index(["lr_schedule", "metric"])
    row = table.loc[("constant", "readout")]
    assert row["from_epoch"] == 20.0 and row["to_epoch"] == 30.0 and row["layer"] == 1
    mean, low, high, n = interval([0.5 - 0.8, 0.49 - 0.8, 0.48 - 0.8])
    assert (row["change"], row["change_low"], row["change_high"], row["n"]) == pytest.approx((mean, low, high, 3))
    assert row["trend"] == "falls"
    assert table.loc[("constant", "network"), "layer"] == 0
    assert table.loc[("constant", "network"), "trend"] == "no detectable change"  # no change at all
    assert table.loc[("cosine", "network"), "trend"] == "no detectable change"  # 0, +0.01, +0.02: CI spans 0
    assert trend(0.01, 0.02) == "rises" and trend(-0.2, -0.1, falls="keeps falling") == "keeps falling"
    with pytest.raises(ValueError, match="no record at or after epoch 40"):
        after_epoch(runs, {"readout": "{split}/readout_accuracy/{i}"}, [1], epoch=40)


def test_robustness_tables_pick_each_studys_runs_and_compare_with_the_linear_baseline():
    from dfa_lafs.analysis import robustness_angles, robustness_runs, robustness_table
    from dfa_lafs.config import RunConfig
    from dfa_lafs.results import Result

    def run(rule, seed, acc, hidden=(8,), centred=50.0, **fields):
        final = {"test/accuracy": acc, "val/accuracy": acc, "best_epoch": 4, "hit_cap": False,
                 "test/angle_linear": 40.0, "test/angle_linear_centered": 60.0}
        for i in range(1, len(hidden) + 1):
            final.update({f"test/readout_accuracy/{i}": 0.8, f"test/readout_accuracy_control/{i}": 0.1,
                          f"test/angle/{i}": 30.0, f"test/angle_control/{i}": 35.0,
                          f"test/angle_centered/{i}": centred + seed, f"test/angle_centered_control/{i}": 90.0})
        return Result(RunConfig(rule=rule, hidden=hidden, seed=seed, val_size=100, patience=2, **fields), {}, {},
                      {}, final)

    results = [run("bp", s, 0.90 + s / 1000, hidden=()) for s in range(3)]  # linear, MNIST
    results += [run("bp", s, 0.80 + s / 1000, hidden=(), dataset="fashion-mnist") for s in range(3)]
    results += [run("dfa", s, 0.95 + s / 1000) for s in range(3)]  # the default point
    results += [run("dfa", s, 0.89 + s / 1000, lr=0.01) for s in range(3)]
    results += [run("dfa", s, 0.85 + s / 1000, dataset="fashion-mnist") for s in range(3)]
    results += [run("dfa", s, 0.5, feedback_scale=10.0) for s in range(3)]  # another study: excluded below

    lr_runs = robustness_runs(results, "lr")
    assert sorted(lr_runs["lr"].unique()) == [0.01, 0.1] and set(lr_runs["rule"]) == {"linear", "dfa"}
    assert set(lr_runs["dataset"]) == {"mnist"} and len(lr_runs) == 9
    table = robustness_table(lr_runs, "lr").set_index(["lr", "rule"])
    assert list(table.index) == [(0.01, "dfa"), (0.1, "dfa")]  # the baseline is a column, not a row
    assert table.loc[(0.1, "dfa"), "vs_linear"] == pytest.approx(0.05)
    assert table.loc[(0.1, "dfa"), "vs_linear_verdict"] == "beats"
    assert table.loc[(0.01, "dfa"), "vs_linear_verdict"] == "falls short of"

    data_runs = robustness_runs(results, "dataset")
    table = robustness_table(data_runs, "dataset").set_index(["dataset", "rule"])
    assert table.loc[("fashion-mnist", "dfa"), "vs_linear"] == pytest.approx(0.05)  # against Fashion's own baseline
    assert table.loc[("fashion-mnist", "linear"), "test_mean"] == pytest.approx(0.801)

    angles = robustness_angles(lr_runs, "lr", layers=(1,)).set_index(["lr", "rule", "layer"])
    row = angles.loc[(0.1, "dfa", 1)]
    assert row["centred"] == pytest.approx(51.0) and row["centred_linear"] == 60.0
    mean, low, high, _ = interval([50.0 - 60, 51.0 - 60, 52.0 - 60])
    assert (row["gap"], row["gap_low"], row["gap_high"]) == pytest.approx((mean, low, high))
    with pytest.raises(ValueError, match="unknown factor 'width'"):
        robustness_runs(results, "width")


def test_long_verdict_names_what_still_moves_after_the_epoch():
    from dfa_lafs.analysis import long_verdict

    def row(metric, layer, change, low, high, schedule="constant"):
        trend = "falls" if high < 0 else "rises" if low > 0 else "no detectable change"
        return {"rule": "dfa", "lr_schedule": schedule, "metric": metric, "layer": layer, "change": change,
                "change_low": low, "change_high": high, "trend": trend, "from_epoch": 23.0, "to_epoch": 100.0}

    moved = pd.DataFrame([row("readout accuracy", 1, -0.2, -0.3, -0.1), row("readout accuracy", 2, 0.0, -0.1, 0.1),
                          row("network accuracy", 0, 0.01, 0.005, 0.015), row("readout margin", 1, -1, -2, -0.5),
                          row("readout accuracy", 1, 0.0, -0.1, 0.1, "cosine"),
                          row("network accuracy", 0, 0.0, -0.1, 0.1, "cosine")])
    assert long_verdict(moved) == ("not long enough: from epoch 23 to 100, DFA's readout 1 falls (-0.200 [-0.300, "
                                   "-0.100]); network accuracy rises (+0.010 [+0.005, +0.015])")
    assert long_verdict(moved, schedule="cosine").startswith("long enough: from epoch 23 to 100 no readout")


def test_robustness_studies_count_only_values_with_every_seed_and_the_baseline():
    from types import SimpleNamespace

    from dfa_lafs.analysis import robustness_beats, robustness_studies, robustness_table
    from dfa_lafs.config import RunConfig
    from dfa_lafs.results import Result

    def config(rule, seed, hidden=(8,), **fields):
        return RunConfig(rule=rule, hidden=hidden, seed=seed, val_size=100, patience=2, **fields)

    def result(cfg, acc):
        final = {"test/accuracy": acc, "val/accuracy": acc, "best_epoch": 4, "hit_cap": False,
                 "test/angle_linear": 40.0, "test/angle_linear_centered": 60.0}
        for i in range(1, len(cfg.hidden) + 1):
            final.update({f"test/readout_accuracy/{i}": 0.8, f"test/readout_accuracy_control/{i}": 0.1,
                          f"test/angle/{i}": 30.0, f"test/angle_control/{i}": 35.0,
                          f"test/angle_centered/{i}": 50.0, f"test/angle_centered_control/{i}": 90.0})
        return Result(cfg, {}, {}, {}, final)

    planned = [config("bp", s, hidden=()) for s in range(3)]
    planned += [config(rule, s, lr=lr) for rule in ("dfa", "lafs") for lr in (0.1, 0.01) for s in range(3)]
    points = [SimpleNamespace(config=c) for c in planned]
    stored = [result(c, (0.9 if not c.hidden else 0.95) + c.seed / 1000) for c in planned
              if not (c.rule == "lafs" and c.lr == 0.01 and c.seed == 2)]  # one run still missing
    studies = robustness_studies(points, stored)
    lr = studies["lr"]
    assert lr["values"] == [0.01, 0.1] and lr["complete"] == [0.1] and (lr["done"], lr["planned"]) == (11, 12)
    assert lr["linear"] and set(lr["runs"]["lr"]) == {0.1} and len(lr["runs"]) == 3 + 6
    assert lr["measured"] == []  # only the default setting is complete: nothing measured yet
    # the default point belongs to every study; a study with no other value has only it
    assert studies["activation"]["complete"] == ["tanh"]
    tables = {f: robustness_table(s["runs"], f) for f, s in studies.items() if s["complete"]}
    assert robustness_beats(tables, "dfa") == (1, 1)  # the default setting, counted once across studies
    without_baseline = robustness_studies(points, [r for r in stored if r.config.hidden])
    assert without_baseline["lr"]["complete"] == [] and not without_baseline["lr"]["linear"]
    nothing = robustness_studies(points, [])  # a sweep not started: every study empty, none complete
    assert all(s["complete"] == [] and s["done"] == 0 for s in nothing.values())


def test_robustness_capped_lists_each_unconverged_setting_once():
    from dfa_lafs.analysis import robustness_capped

    act = pd.DataFrame({"activation": ["tanh", "sigmoid", "sigmoid"], "rule": ["lafs", "dfa", "lafs"],
                        "hit_cap": [1, 3, 0], "n": [3, 3, 3]})
    lr = pd.DataFrame({"lr": [0.1, 0.01], "rule": ["lafs", "lafs"], "hit_cap": [1, 0], "n": [3, 3]})
    assert robustness_capped({"activation": act, "lr": lr}) == ["default setting, LAFS: 1 of 3 runs",
                                                                "activation sigmoid, DFA: 3 of 3 runs"]


def _width_runs(shift):
    """Hand-made runs of one width: accuracy = base of the row + shift + seed noise."""
    base = {("bp", 1): 0.970, ("bp", 3): 0.980, ("fa", 1): 0.960, ("fa", 3): 0.960,
            ("dfa", 1): 0.965, ("dfa", 3): 0.966, ("lafs", 1): 0.950, ("lafs", 3): 0.940}
    rows = []
    for (rule, depth), acc in base.items():
        for seed, noise in enumerate((-0.001, 0.0, 0.001)):
            test = acc + shift.get((rule, depth), 0.0) + noise
            rows.append({"rule": rule, "depth": depth, "seed": seed, "test_accuracy": test,
                         "val_accuracy": test + 0.002 * (depth == 3 and rule == "lafs")})
    return pd.DataFrame(rows)


def test_best_depth_is_chosen_on_validation_not_test():
    from dfa_lafs.protocol import best_depth

    runs = _width_runs({})
    assert best_depth(runs, "bp") == 3
    # LAFS: better at depth 1 on test, but depth 3 wins on validation (0.940 + 0.012 > 0.950)
    runs.loc[(runs["rule"] == "lafs") & (runs["depth"] == 3), "val_accuracy"] += 0.012
    assert best_depth(runs, "lafs") == 3
    with pytest.raises(ValueError, match="no runs of rule 'xyz'"):
        best_depth(runs, "xyz")


def test_depth_claims_and_carry_over_against_welch_by_hand():
    from dfa_lafs.protocol import carry_over, depth_claims

    linear = [0.920, 0.921, 0.922]
    ref = depth_claims(_width_runs({}), linear).set_index("claim")
    assert len(ref) == 7 + 4 + 8
    c = welch([0.979, 0.980, 0.981], [0.969, 0.970, 0.971])
    assert ref.loc["BP: 3 vs 1 hidden", "diff"] == pytest.approx(c["diff"])
    assert ref.loc["BP: 3 vs 1 hidden", "verdict"] == "gains from depth"
    assert ref.loc["FA: 3 vs 1 hidden", "verdict"] == "no detectable change"
    assert ref.loc["LAFS: 3 vs 1 hidden", "verdict"] == "loses with depth"
    assert ref.loc["LAFS, 1 hidden vs BP, 1 hidden", "verdict"] == "falls short of"
    assert ref.loc["DFA, 1 hidden vs linear", "verdict"] == "beats"
    # the other width: DFA at depth 3 now beats the bar, LAFS's loss with depth is gone, FA gains
    other = depth_claims(_width_runs({("dfa", 3): 0.01, ("lafs", 3): 0.01, ("fa", 3): 0.01}), linear)
    table = carry_over(ref.reset_index(), other).set_index("claim")["agreement"]
    assert table["DFA, 3 hidden vs BP, 1 hidden"] == "opposite"
    assert table["LAFS: 3 vs 1 hidden"] == "decided at width 100 only"
    assert table["FA: 3 vs 1 hidden"] == "decided at width 800 only"
    assert table["BP: 3 vs 1 hidden"] == "same"
    size = carry_over(ref.reset_index(), other).set_index("claim")["size"]
    assert size["DFA, 3 hidden vs BP, 1 hidden"] == "changes" and size["BP: 3 vs 1 hidden"] == "overlaps"
    with pytest.raises(ValueError, match="do not list the same comparisons"):
        carry_over(ref.reset_index(), other.iloc[:-1])


def test_carry_verdict_words():
    from dfa_lafs.protocol import carry_verdict

    def table(*agreements, size=None):
        n = len(agreements)
        return pd.DataFrame({"claim": [f"c{i}" for i in range(n)], "agreement": agreements,
                             "size": size or ["overlaps"] * n, "diff (width 100)": [-0.026] * n,
                             "diff (width 800)": [-0.004] * n})

    assert carry_verdict(table("same", "same")) == "the verdicts carry over: all 2 comparisons give the same verdict"
    assert carry_verdict(table("same", "decided at width 100 only", "same")) == (
        "the verdicts carry over where decided: 2 of 3 comparisons give the same verdict, none reverses, "
        "1 decided at width 100 only, 0 decided at width 800 only")
    assert carry_verdict(table("same", "opposite", "decided at width 800 only")) == (
        "does not carry over: 1 of 3 comparisons reverse (c1)")
    assert carry_verdict(table("same", "same", size=["changes", "overlaps"])) == (
        "the verdicts carry over: all 2 comparisons give the same verdict; but the size changes "
        "(95% intervals apart) in 1: c0 -2.60 -> -0.40 points")


def test_runs_at_chosen_keeps_the_search_run_at_the_chosen_rate_and_every_seed_run():
    from dfa_lafs.config import RunConfig
    from dfa_lafs.protocol import runs_at_chosen
    from dfa_lafs.results import Result

    def result(lr, seed, val):
        final = {"val/accuracy": val, "test/accuracy": val, "best_epoch": 3, "epochs_run": 5, "hit_cap": False}
        return Result(RunConfig(rule="dfa", hidden=(8,), lr=lr, seed=seed, val_size=100, patience=2), {}, {}, {}, final)

    search = {"a": result(0.1, 0, 0.90), "b": result(0.3, 0, 0.95)}
    runs = runs_at_chosen(search, {"c": result(0.3, 1, 0.94), "d": result(0.3, 2, 0.93)})
    assert list(zip(runs["lr"], runs["seed"])) == [(0.3, 0), (0.3, 1), (0.3, 2)]
    with pytest.raises(ValueError, match="appears twice"):
        runs_at_chosen(search, {"c": result(0.3, 0, 0.94)})
