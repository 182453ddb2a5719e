"""The book's figures, on hand-made histories: the plotted values, one colour per rule, and that
each figure reads at the size the page shows it (text, legends, labels)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from dfa_lafs import plots
from dfa_lafs.config import RunConfig
from dfa_lafs.results import Result

STEPS = [0, 10, 100]


def _run(rule, seed, hidden=(8, 8), **config):
    """Every metric the band plots read, with value (seed + step index + layer/10) at each step."""
    h = {"step": STEPS}
    for i in range(1, len(hidden) + 1):
        for name in ("angle", "angle_centered", "angle_control", "readout_accuracy", "readout_margin"):
            h[f"train/{name}/{i}"] = [seed + k + i / 10 for k in range(3)]
        for name in ("update_angle", "dfa_update_angle", "lafs_update_angle", "dfa_vs_lafs_update"):
            offset = {"update_angle": 0, "dfa_update_angle": 100, "lafs_update_angle": 200, "dfa_vs_lafs_update": 300}[name]
            h[f"probe/{name}/{i}"] = [offset + seed + k + i / 10 for k in range(3)]
    h["train/angle_linear"] = [50.0 + seed] * 3
    return Result(RunConfig(rule=rule, hidden=hidden, seed=seed, **config), h, {}, {})


def _runs(hidden=(8, 8)):
    return [_run(rule, seed, hidden) for rule in ("dfa", "lafs") for seed in (0, 1, 2)]


def _lines(ax):
    return {line.get_label(): (line.get_ydata(), line.get_color(), line.get_linestyle()) for line in ax.get_lines()}


def _accuracy_table(factor, values, rules=("dfa", "lafs"), linear=False):
    rows = [{factor: v, "rule": rule, "test_mean": 0.9 + k / 100, "test_low": 0.89 + k / 100,
             "test_high": 0.91 + k / 100, "vs_linear": 0.02} for k, v in enumerate(values) for rule in rules]
    if linear:
        rows += [{factor: v, "rule": "linear", "test_mean": 0.85, "test_low": 0.84, "test_high": 0.86,
                  "vs_linear": float("nan")} for v in values]
    return pd.DataFrame(rows)


def test_figure1_bands_draws_the_seed_mean_per_rule_and_layer_colour_rule_style_layer():
    fig = plots.figure1_bands(_runs(), layers=(1, 2))
    lines = _lines(fig.axes[0])
    y, color, style = lines["LAFS layer 2 (n=3)"]
    assert np.allclose(y, [1.2, 2.2, 3.2]) and color == plots.RULE_COLORS["lafs"] and style == "--"
    assert lines["DFA layer 1 (n=3)"][1:] == (plots.RULE_COLORS["dfa"], "-") and len(fig.axes[0].collections) == 4


def test_baseline_grid_has_a_row_per_rule_and_draws_split_metrics_in_every_column():
    lines = [("readout", "{split}/angle/{i}", None, "-"), ("linear", "{split}/angle_linear", "linear", ":"),
             ("control", "{split}/angle_control/{i}", "control", "--")]
    fig = plots.baseline_grid(_runs(), lines, layers=(1, 2))
    assert len(fig.axes) == 4 and fig.axes[2].get_title() == "LAFS, hidden layer 1"
    for ax, rule in zip(fig.axes, ("dfa", "dfa", "lafs", "lafs")):
        drawn = _lines(ax)
        assert np.allclose(drawn["linear (n=3)"][0], 51.0) and drawn["linear (n=3)"][1] == plots.RULE_COLORS["linear"]
        assert drawn["readout (n=3)"][1] == plots.RULE_COLORS[rule] and drawn["control (n=3)"][1] == plots.CONTROL_COLOR


def test_update_alignment_bands_colour_the_update_and_dash_the_other_rules_weights():
    fig = plots.update_alignment_bands(_runs(), layers=(1, 2))
    lines = _lines(fig.axes[1])
    y, color, style = lines["LAFS update at DFA's weights (n=3)"]
    assert np.allclose(y, [201.2, 202.2, 203.2]) and color == plots.RULE_COLORS["lafs"] and style == "--"
    y, color, style = lines["DFA update at DFA's weights (n=3)"]
    assert np.allclose(y, [1.2, 2.2, 3.2]) and color == plots.RULE_COLORS["dfa"] and style == "-"
    assert np.allclose(lines["DFA update at LAFS's weights (n=3)"][0], [101.2, 102.2, 103.2])


def test_long_panels_put_epochs_on_x_one_column_per_schedule():
    runs = []
    for schedule in ("constant", "cosine"):
        for seed in (0, 1, 2):
            r = _run("dfa", seed, epochs=10, lr_schedule=schedule)
            r.history["train/accuracy"] = [0.1, 0.5 + seed / 100, 0.9]
            runs.append(r)
    fig = plots.long_panels(runs, {"readout": "{split}/readout_accuracy/{i}", "network": "{split}/accuracy"},
                            layers=(1, 2), split="train")
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["learning rate: constant", "learning rate: cosine"]
    lines = _lines(axes[0, 1])
    x = axes[0, 1].get_lines()[0].get_xdata()
    assert np.allclose(x, [0, 1, 10])  # steps 0, 10, 100 of a 10-epoch run of 10 steps an epoch
    ys, color, style = lines["DFA layer 2 (n=3)"]
    assert np.allclose(ys, [1.2, 2.2, 3.2]) and color == plots.RULE_COLORS["dfa"] and style == "--"
    ys, color, style = _lines(axes[1, 0])["DFA (n=3)"]
    assert np.allclose(ys, [0.1, 0.51, 0.9]) and color == plots.RULE_COLORS["dfa"] and style == "-"  # no {i}


def test_robustness_panels_colour_each_rule_join_numeric_settings_only_and_draw_the_linear_baseline():
    lr = pd.DataFrame({"lr": [0.01, 0.1, 0.01, 0.1], "rule": ["dfa", "dfa", "lafs", "lafs"],
                       "test_mean": [0.9, 0.95, 0.85, 0.93], "test_low": [0.89, 0.94, 0.84, 0.92],
                       "test_high": [0.91, 0.96, 0.86, 0.94], "vs_linear": [-0.02, 0.03, -0.07, 0.01]})
    data = pd.DataFrame({"dataset": ["mnist", "fashion-mnist", "mnist", "fashion-mnist"],
                         "rule": ["linear", "linear", "dfa", "dfa"], "test_mean": [0.92, 0.84, 0.95, 0.86],
                         "test_low": [0.91, 0.83, 0.94, 0.85], "test_high": [0.93, 0.85, 0.96, 0.87],
                         "vs_linear": [float("nan"), float("nan"), 0.03, 0.02]})
    fig = plots.robustness_panels({"lr": lr, "dataset": data}, ncols=2)
    ax_lr, ax_data = fig.axes[:2]
    baseline = [line for line in ax_lr.get_lines() if line.get_label() == "linear model"]
    assert len(baseline) == 1 and np.allclose(baseline[0].get_ydata(), 0.92)  # 0.95 - 0.03
    assert baseline[0].get_color() == plots.RULE_COLORS["linear"]
    colors = {c.get_label(): c.lines[0].get_color() for c in ax_lr.containers}
    assert colors == {"DFA": plots.RULE_COLORS["dfa"], "LAFS": plots.RULE_COLORS["lafs"]}
    assert all(c.lines[0].get_linestyle() == "-" for c in ax_lr.containers)  # lr is a number: joined
    assert [t.get_text() for t in ax_data.get_xticklabels()] == ["fashion-mnist", "mnist"]
    assert {c.get_label() for c in ax_data.containers} == {"linear model", "DFA"}
    assert all(c.lines[0].get_linestyle() == "None" for c in ax_data.containers)  # data sets: points only
    assert {c.lines[0].get_color() for c in ax_data.containers} == {plots.RULE_COLORS["linear"], plots.RULE_COLORS["dfa"]}


def test_accuracy_by_depth_draws_each_rule_its_colour_with_the_bar_and_the_linear_model():
    table = pd.concat([_accuracy_table("depth", [1, 2, 3], rules=("bp", "dfa", "lafs")),
                       pd.DataFrame([{"depth": 0, "rule": "linear", "test_mean": 0.85, "test_low": 0.84,
                                      "test_high": 0.86}])])
    fig = plots.accuracy_by_depth({"width 100": table, "width 800": table[table["rule"] != "linear"]})
    for ax in fig.axes:
        lines = _lines(ax)
        assert np.allclose(lines["linear model"][0], 0.85) and np.allclose(lines["BP, 1 hidden layer (the bar)"][0], 0.9)
        assert {c.get_label(): c.lines[0].get_color() for c in ax.containers} == {
            "BP": plots.RULE_COLORS["bp"], "DFA": plots.RULE_COLORS["dfa"], "LAFS": plots.RULE_COLORS["lafs"]}
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]


def test_the_palette_gives_each_rule_and_the_linear_model_its_own_colour():
    assert set(plots.RULE_COLORS) == {"bp", "fa", "dfa", "lafs", "linear"}
    assert len(set(plots.RULE_COLORS.values())) == 5 and plots.CONTROL_COLOR not in plots.RULE_COLORS.values()


def test_text_on_page_measures_what_the_reader_sees():
    """A 10-inch figure is shown at 688/1000 of its size, so 10 pt text (13.9 px drawn) is 9.6 px on
    screen; two texts drawn at one place overlap."""
    fig, ax = plt.subplots(figsize=(10, 3), dpi=100)
    ax.set_xticks([0, 1], ["left", "right"])
    ax.tick_params(labelsize=10)
    ax.set_xlabel("x", fontsize=10)
    ax.text(0.5, 0.5, "here", fontsize=12)
    ax.text(0.5, 0.5, "here too", fontsize=12)
    fig.text(0, 0.5, "|", fontsize=12)  # texts at both edges: the tight box is the whole width
    fig.text(1, 0.5, "|", fontsize=12, ha="right")
    seen = plots.text_on_page(fig)
    assert seen["width_px"] == pytest.approx(1000, rel=0.02) and seen["scale"] == pytest.approx(0.688, rel=0.02)
    assert seen["min_text_px"] == pytest.approx(10 * 100 / 72 * 0.688, rel=0.02)
    assert ("here", "here too") in seen["overlaps"]
    plt.close(fig)


def _noise_summary():
    rows = [{"rule": "dfa", "step": step, "layer": layer, "batch": batch, "mean": 10.0 + k, "low": 9.0 + k,
             "high": 11.0 + k, "n": 3} for step in (0, 10, 100) for layer in (1, 2, 3)
            for k, batch in enumerate(["64", "512", "4096", "all"])]
    return pd.DataFrame(rows)


def _search():
    """A finished search of the registered plan's DFA cells: every grid point, a few pruned or diverged."""
    from dfa_lafs.search import load_plan

    cells = load_plan().cells
    records = {c.name: [{"number": k, "params": p, "state": ("pruned", "diverged", "complete")[k % 3],
                         "value": 0.9 + k / 1000} for k, p in enumerate(c.grid)] for c in cells if c.rule == "dfa"}
    return records, cells, "dfa"


def test_search_surfaces_mark_pruned_diverged_and_the_choice():
    records, cells, rule = _search()
    fig = plots.search_surfaces(records, cells, rule)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("p") == sum(r["state"] == "pruned" for rows in records.values() for r in rows)
    assert texts.count("x") == sum(r["state"] == "diverged" for rows in records.values() for r in rows)
    stars = [line for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == len(records)  # one choice per cell
    plt.close(fig)


# Every figure function, at the book's sizes (three hidden layers, as in the chapters).
FIGURES = {
    "figure1": lambda: plots.figure1([_run("dfa", 0, (8, 8, 8)), _run("lafs", 0, (8, 8, 8))]),
    "figure1_bands": lambda: plots.figure1_bands(_runs((8, 8, 8))),
    "band_panels": lambda: plots.band_panels(_runs((8, 8, 8)), {f"panel {k}": "{split}/readout_margin/{i}"
                                                                 for k in range(4)}),
    "baseline_grid": lambda: plots.baseline_grid(_runs((8, 8, 8)), [
        ("raw, readout $B^i$", "{split}/angle/{i}", None, "-"), ("raw, control $B'$", "{split}/angle_control/{i}",
                                                                 "control", "-"),
        ("raw, linear classifier", "{split}/angle_linear", "linear", "-"),
        ("centred, readout $B^i$", "{split}/angle_centered/{i}", None, "--")]),
    "thesis_panels": lambda: plots.thesis_panels(_runs((8, 8, 8))),
    "noise_panels": lambda: plots.noise_panels(_noise_summary(), "dfa"),
    "update_alignment_bands": lambda: plots.update_alignment_bands(_runs((8, 8, 8))),
    "robustness_panels": lambda: plots.robustness_panels({
        "lr": _accuracy_table("lr", [0.01, 0.03, 0.1, 0.3, 1.0], ("bp", "dfa", "lafs")),
        "feedback_scale": _accuracy_table("feedback_scale", [0.1, 0.3, 1.0, 3.0, 10.0]),
        "activation": _accuracy_table("activation", ["relu", "sigmoid", "tanh"], ("bp", "dfa", "lafs")),
        "dataset": _accuracy_table("dataset", ["fashion-mnist", "mnist"], ("bp", "dfa", "lafs"), linear=True)}),
    "accuracy_by_depth": lambda: plots.accuracy_by_depth({"width 100": _accuracy_table("depth", [1, 2, 3, 4, 6],
                                                                                       ("bp", "fa", "dfa", "lafs"))}),
    "search_surfaces": lambda: plots.search_surfaces(*_search()),
    "width_curve": lambda: plots.width_curve(pd.DataFrame(
        [{"rule": r, "bar": b, "width": w, "diff": d, "low": d - 0.004, "high": d + 0.004}
         for r in ("dfa", "lafs") for b in ("same width", "as many parameters") for w, d in ((100, -0.02), (800, 0.001))]
        + [{"rule": "linear", "bar": "same width", "width": w, "diff": -0.05, "low": -0.055, "high": -0.045}
           for w in (100, 800)])),
    "long_panels": lambda: plots.long_panels([_run(rule, seed, (8, 8, 8), epochs=10, lr_schedule=schedule)
                                              for rule in ("dfa", "lafs") for seed in (0, 1)
                                              for schedule in ("constant", "cosine")],
                                             {"readout accuracy via $B^i$": "{split}/readout_accuracy/{i}",
                                              "readout margin": "{split}/readout_margin/{i}"}, split="train"),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_reads_at_the_size_the_page_shows_it(name):
    """Shown at its own size in the text column (no wider than DISPLAY_PX), its smallest text at
    least 80% of the body text on screen, no two texts overlapping, the legend outside every
    panel, and every line named after a rule in that rule's colour."""
    fig = FIGURES[name]()
    seen = plots.text_on_page(fig)
    assert seen["width_px"] <= plots.DISPLAY_PX + 1, f"{seen['width_px']:.0f} px wide: the page shrinks it"
    assert seen["min_text_px"] >= plots.MIN_TEXT_PX, f"smallest text {seen['min_text_px']:.1f} px on the page"
    assert not seen["overlaps"], f"texts overlap: {seen['overlaps']}"
    assert all(ax.get_legend() is None for ax in fig.axes), "a legend inside a panel"
    renderer = fig.canvas.get_renderer()
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes), "the legend covers a panel"
    names = {"BP": "bp", "FA": "fa", "DFA": "dfa", "LAFS": "lafs"}
    for ax in fig.axes:
        for line in ax.get_lines():
            first = line.get_label().split()[0] if line.get_label().split() else ""
            if first in names:
                assert line.get_color() == plots.RULE_COLORS[names[first]], f"{line.get_label()}: {line.get_color()}"
    plt.close(fig)


def test_no_figure_function_is_left_untested():
    drawn = {name for name, f in vars(plots).items() if callable(f) and getattr(f, "__module__", "") == plots.__name__
             and getattr(f, "__annotations__", {}).get("return") in ("plt.Figure", plt.Figure)}
    assert drawn == set(FIGURES), f"figure functions without a legibility test: {drawn - set(FIGURES)}"
