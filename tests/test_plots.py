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
    assert missing == {"empty": "not yet run", "half": "incomplete (1 of 2 points)", "never": "not yet run",
                       "old": "stale or invalid: 2 of 2 points of old have no fresh result"}


def test_long_panels_put_epochs_on_x_one_column_per_schedule():
    from dfa_lafs.plots import LAYER_COLORS, long_panels

    runs = []
    for schedule in ("constant", "cosine"):
        for seed in (0, 1, 2):
            r = _run("dfa", seed, epochs=10, lr_schedule=schedule)
            r.history["train/accuracy"] = [0.1, 0.5 + seed / 100, 0.9]
            runs.append(r)
    fig = long_panels(runs, {"readout": "{split}/readout_accuracy/{i}", "network": "{split}/accuracy"}, layers=(1, 2),
                      split="train")
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["learning rate: constant", "learning rate: cosine"]
    lines = _lines(axes[0, 1])
    x = axes[0, 1].get_lines()[0].get_xdata()
    assert np.allclose(x, [0, 1, 10])  # steps 0, 10, 100 of a 10-epoch run of 10 steps an epoch
    ys, color, style = lines["DFA layer 2 (n=3)"]
    assert np.allclose(ys, [1.2, 2.2, 3.2]) and color == LAYER_COLORS[1] and style == "-"
    ys, color, _ = _lines(axes[1, 0])["DFA (n=3)"]
    assert np.allclose(ys, [0.1, 0.51, 0.9]) and color == "black"  # no {i}: one line per rule


def test_robustness_panels_colour_each_rule_and_draw_the_linear_baseline():
    import pandas as pd

    from dfa_lafs.plots import RULE_COLORS, robustness_panels

    lr = pd.DataFrame({"lr": [0.01, 0.1, 0.01, 0.1], "rule": ["dfa", "dfa", "lafs", "lafs"],
                       "test_mean": [0.9, 0.95, 0.85, 0.93], "test_low": [0.89, 0.94, 0.84, 0.92],
                       "test_high": [0.91, 0.96, 0.86, 0.94], "vs_linear": [-0.02, 0.03, -0.07, 0.01]})
    data = pd.DataFrame({"dataset": ["mnist", "fashion-mnist", "mnist", "fashion-mnist"],
                         "rule": ["linear", "linear", "dfa", "dfa"], "test_mean": [0.92, 0.84, 0.95, 0.86],
                         "test_low": [0.91, 0.83, 0.94, 0.85], "test_high": [0.93, 0.85, 0.96, 0.87],
                         "vs_linear": [float("nan"), float("nan"), 0.03, 0.02]})
    fig = robustness_panels({"lr": lr, "dataset": data}, ncols=2)
    ax_lr, ax_data = fig.axes[:2]
    baseline = [line for line in ax_lr.get_lines() if line.get_label().startswith("linear")]
    assert len(baseline) == 1 and np.allclose(baseline[0].get_ydata(), 0.92)  # 0.95 - 0.03
    colors = {c.get_label(): c.lines[0].get_color() for c in ax_lr.containers}
    assert colors == {"DFA": RULE_COLORS["dfa"], "LAFS": RULE_COLORS["lafs"]}
    assert [t.get_text() for t in ax_data.get_xticklabels()] == ["fashion-mnist", "mnist"]
    assert {c.get_label() for c in ax_data.containers} == {"linear", "DFA"}
