"""Figure 1 of Gilmer et al. (2017), redrawn from results: angles and readout accuracies."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .results import Result

LAYER_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
RULE_STYLES = {"dfa": "-", "lafs": "--", "bp": ":", "fa": "-."}
# Where colour marks the rule instead of the layer (e.g. updates vs the gradient): one colour per rule.
RULE_COLORS = {"dfa": "crimson", "lafs": "teal", "bp": "black", "fa": "goldenrod"}


def hidden_layers(result: Result) -> range:
    return range(1, len(result.config.hidden) + 1)


def figure1(results: list[Result], metric: str = "angle", split: str = "train") -> plt.Figure:
    """Left: angle between e^y and each e^i; right: readout accuracy through each B^i.

    One line per (rule, hidden layer); colour is the layer, line style the rule. The x axis
    is the training step on a symmetric log scale, so step 0 (initialization) is shown.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for result in results:
        steps = result.history["step"]
        style = RULE_STYLES[result.config.rule]
        for i in hidden_layers(result):
            label = f"{result.config.rule.upper()} layer {i}"
            color = LAYER_COLORS[(i - 1) % len(LAYER_COLORS)]
            left.plot(steps, result.series(metric, i, split), style, color=color, label=label)
            right.plot(steps, result.series("readout_accuracy", i, split), style, color=color, label=label)
    left.set_ylabel(r"angle between $e^y$ and $e^i$ (degrees)")
    right.set_ylabel(r"readout accuracy through $B^i$")
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.set_xlabel("training step (log scale; 0 = initialization)")
        ax.grid(alpha=0.3)
    right.legend(fontsize=8, ncol=2, loc="lower right")
    where = "training set" if split == "train" else "test set"
    cfg = results[0].config
    fig.suptitle(f"DFA vs LAFS on {cfg.dataset.upper()} ({where} subset): {architecture(cfg.hidden)} "
                 f"{cfg.activation}, lr {cfg.lr}")
    return fig


def architecture(hidden: tuple[int, ...]) -> str:
    """(800, 800, 800) -> '3x800'; unequal widths are listed."""
    if len(set(hidden)) == 1:
        return f"{len(hidden)}x{hidden[0]}"
    return "-".join(map(str, hidden)) or "no hidden layer"


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Save as PNG (for the page) and PDF (for print); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150 if path.suffix == ".png" else None)
    return paths


def angle_baselines(results: list[Result], split: str = "train") -> plt.Figure:
    """Per rule: the raw angle, the centred angle and the control angle (fresh readout), per layer."""
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), sharey=True,
                             constrained_layout=True, squeeze=False)
    styles = {"angle": ("-", "raw"), "angle_centered": ("--", "centred"),
              "angle_control": (":", "control readout")}
    for ax, result in zip(axes[0], results):
        for i in hidden_layers(result):
            color = LAYER_COLORS[(i - 1) % len(LAYER_COLORS)]
            for metric, (style, name) in styles.items():
                ax.plot(result.history["step"], result.series(metric, i, split), style, color=color,
                        label=f"layer {i}, {name}")
        ax.axhline(90, color="grey", lw=0.8)
        ax.set_title(result.config.rule.upper())
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.set_xlabel("training step (log scale)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(r"angle between $e^y$ and $e^i$ (degrees)")
    axes[0][-1].legend(fontsize=7, ncol=1, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def update_alignment(results: list[Result]) -> plt.Figure:
    """Angle between each layer's update and the true gradient (BP) on a fixed probe batch."""
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for result in results:
        style = RULE_STYLES[result.config.rule]
        for i in range(1, result.config.depth + 1):
            color = LAYER_COLORS[(i - 1) % len(LAYER_COLORS)]
            ax.plot(result.history["step"], result.history[f"probe/update_angle/{i}"], style, color=color,
                    label=f"{result.config.rule.upper()} W^{i}")
    ax.axhline(90, color="grey", lw=0.8)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel("training step (log scale)")
    ax.set_ylabel("angle to the backprop gradient (degrees)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def sweep_panels(table, x: str, layers: tuple[int, ...] = (1, 2, 3), log_x: bool = True) -> plt.Figure:
    """Final test accuracy, angle e^y vs e^i and readout accuracy against a swept setting.

    `table` is `aggregate.sweep_table(...)`: one row per run. Runs that share (rule, x), such as
    seeds, are averaged; one line per rule (and per layer in the last two panels).
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), constrained_layout=True)
    panels = [("final/test/accuracy", "final test accuracy", (None,)),
              ("train/angle/{i}", r"final angle $e^y$ vs $e^i$ (deg)", layers),
              ("train/readout_accuracy/{i}", r"final readout accuracy through $B^i$", layers)]
    for ax, (column, label, panel_layers) in zip(axes, panels):
        for rule, rows in table.groupby("rule", sort=True):
            for i in panel_layers:
                name = column.format(i=i)
                if name not in rows:
                    continue
                means = rows.groupby(x)[name].mean()
                color = LAYER_COLORS[(i or 1) - 1] if i else None
                ax.plot(means.index, means.values, RULE_STYLES[rule], marker="o", color=color,
                        label=f"{rule.upper()}" + (f" layer {i}" if i else ""))
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        if log_x:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def band_plot(ax, band, label: str, color=None, style: str = "-") -> None:
    """Mean over seeds with its confidence band (an `aggregate.Band`), on a symlog step axis."""
    ax.plot(band.step, band.mean, style, color=color, label=f"{label} (n={band.n})")
    ax.fill_between(band.step, band.low, band.high, color=color, alpha=0.2, lw=0)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)


def thesis_panels(results: list[Result], layers: tuple[int, ...] = (1, 2, 3)) -> plt.Figure:
    """Per hidden layer: the DFA-vs-LAFS update angle over training, mean and band over seeds.

    One line per rule whose weights the angle is measured at (solid: during DFA training,
    dashed: during LAFS training), beside the raw error angle e^y vs e^i of DFA's own runs
    (dotted), the quantity the paper's argument runs through.
    """
    from .studies.runs import bands_by

    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), 3.8), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, i in zip(axes[0], layers):
        for (rule,), band in bands_by(results, f"probe/dfa_vs_lafs_update/{i}", by=("rule",)).items():
            band_plot(ax, band, f"update angle, at {rule.upper()}'s weights", LAYER_COLORS[i - 1],
                      RULE_STYLES[rule])
        dfa_runs = [r for r in results if r.config.rule == "dfa"]
        for (rule,), band in bands_by(dfa_runs, f"train/angle/{i}", by=("rule",)).items():
            band_plot(ax, band, r"error angle $e^y$ vs $e^i$ (DFA)", "grey", ":")
        ax.axhline(90, color="black", lw=0.6)
        ax.set_title(f"hidden layer {i}")
        ax.set_xlabel("training step (log scale)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("angle (degrees)")
    return fig


def noise_panels(summary, rule: str = "dfa") -> plt.Figure:
    """DFA-vs-LAFS update angle against the batch it is averaged over, one line per training step.

    `summary` is `analysis.noise_summary(...)`. If DFA were LAFS plus zero-mean noise, every line
    would fall towards 0 on the right; a line that stays up is a systematic difference.
    """
    rows = summary[summary["rule"] == rule]
    layers = sorted(rows["layer"].unique())
    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), 3.6), sharey=True,
                             constrained_layout=True, squeeze=False)
    steps = sorted(rows["step"].unique())
    cmap = plt.get_cmap("viridis")
    for ax, layer in zip(axes[0], layers):
        for j, step in enumerate(steps):
            line = rows[(rows["layer"] == layer) & (rows["step"] == step)].sort_values("batch")
            x = range(len(line))
            color = cmap(j / max(len(steps) - 1, 1))
            ax.plot(x, line["mean"], marker="o", color=color, label=f"step {step}")
            ax.fill_between(x, line["low"], line["high"], color=color, alpha=0.15, lw=0)
            ax.set_xticks(list(x), [str(b) for b in line["batch"]])
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(f"hidden layer {layer}")
        ax.set_xlabel("examples the updates are averaged over")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("angle DFA update vs LAFS update (deg)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"Measured at the weights of {rule.upper()} training runs")
    return fig


def _layer_color(i: int) -> str:
    return LAYER_COLORS[(i - 1) % len(LAYER_COLORS)]


def _panel_grid(n: int, ncols: int, size: tuple[float, float]):
    """A figure with `n` panels filling rows of `ncols` (each `size` inches), spare axes hidden."""
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), constrained_layout=True,
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def band_panels(results: list[Result], panels: dict[str, str], layers: tuple[int, ...] = (1, 2, 3),
                split: str = "train", ncols: int = 2) -> plt.Figure:
    """One panel per metric, with the mean over seeds and its 95% band per (rule, hidden layer).

    panels: y label -> history name with `{split}` and `{i}` (the layer), e.g.
    "{split}/readout_margin/{i}" or "probe/weight_norm/{i}". Colour is the layer, line style
    the rule, as in Figure 1. Panels fill rows of `ncols`.
    """
    from .studies.runs import bands_by

    fig, axes = _panel_grid(len(panels), min(ncols, len(panels)), (5.5, 4))
    for ax, (ylabel, pattern) in zip(axes.flat, panels.items()):
        for i in layers:
            for (rule,), band in bands_by(results, pattern.format(split=split, i=i)).items():
                band_plot(ax, band, f"{rule.upper()} layer {i}", _layer_color(i), RULE_STYLES[rule])
        ax.set_ylabel(ylabel)
        ax.set_xlabel("training step (log scale; 0 = initialization)")
        ax.grid(alpha=0.3)
    axes.flat[len(panels) - 1].legend(fontsize=7, ncol=2)
    return fig


def figure1_bands(results: list[Result], split: str = "train", layers: tuple[int, ...] = (1, 2, 3)) -> plt.Figure:
    """Figure 1 over seeds: the angle e^y vs e^i and the readout accuracy through B^i, mean and
    95% band per (rule, layer); colour is the layer, line style the rule."""
    return band_panels(results, {r"angle between $e^y$ and $e^i$ (degrees)": "{split}/angle/{i}",
                                 r"readout accuracy through $B^i$": "{split}/readout_accuracy/{i}"}, layers, split)


def baseline_grid(results: list[Result], lines: list[tuple[str, str, str | None, str]],
                  layers: tuple[int, ...] = (1, 2, 3), split: str = "train",
                  ylabel: str = "angle to $e^y$ (degrees)") -> plt.Figure:
    """Rows: rules; columns: hidden layers; in each panel, one band over seeds per line.

    lines: (label, history name, colour, line style). The name may hold `{split}` and `{i}`; one
    without `{i}` (the linear classifier's angle, a property of the split) is drawn in every
    column. Colour None means the layer's colour.
    """
    from .studies.runs import bands_by

    rules = sorted({r.config.rule for r in results})
    fig, axes = plt.subplots(len(rules), len(layers), figsize=(4.6 * len(layers), 3.4 * len(rules)),
                             sharex=True, sharey=True, constrained_layout=True, squeeze=False)
    for row, rule in zip(axes, rules):
        runs = [r for r in results if r.config.rule == rule]
        for ax, i in zip(row, layers):
            for label, pattern, color, style in lines:
                (band,) = bands_by(runs, pattern.format(split=split, i=i)).values()
                band_plot(ax, band, label, color or _layer_color(i), style)
            ax.set_title(f"{rule.upper()}, hidden layer {i}", fontsize=10)
            ax.grid(alpha=0.3)
        row[0].set_ylabel(ylabel)
    for ax in axes[-1]:
        ax.set_xlabel("training step (log scale)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def update_alignment_bands(results: list[Result], layers: tuple[int, ...] = (1, 2, 3)) -> plt.Figure:
    """Per hidden layer: the angle between DFA's or LAFS's update of W^i and the backprop gradient.

    Mean and 95% band over seeds. Colour is the rule whose update is measured (RULE_COLORS); solid
    lines are measured at that rule's own weights (`probe/update_angle/{i}`), dashed lines at the
    other rule's weights (`probe/{rule}_update_angle/{i}` of the other rule's runs).
    """
    from .studies.runs import mean_band

    rules = [rule for rule in ("dfa", "lafs") if any(r.config.rule == rule for r in results)]
    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), 3.8), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, i in zip(axes[0], layers):
        for weights in rules:
            runs = [r for r in results if r.config.rule == weights]
            for update in rules:
                name = f"probe/update_angle/{i}" if update == weights else f"probe/{update}_update_angle/{i}"
                band_plot(ax, mean_band(runs, name), f"{update.upper()} update at {weights.upper()}'s weights",
                          RULE_COLORS[update], "-" if update == weights else "--")
        ax.axhline(90, color="grey", lw=0.8)
        ax.set_title(f"update of $W^{i}$")
        ax.set_xlabel("training step (log scale)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("angle to the backprop gradient (degrees)")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    return fig


def robustness_panels(tables: dict, ncols: int = 3) -> plt.Figure:
    """One panel per study: test accuracy (mean and 95% interval over seeds) against the varied
    value, one colour per rule (RULE_COLORS), with the linear baseline of the data set as a grey
    band (in the data-set study, as its own points).

    tables: factor -> `analysis.robustness_table` of that study.
    """
    fig, axes = _panel_grid(len(tables), ncols, (4.2, 3.4))
    for ax, (factor, table) in zip(axes.flat, tables.items()):
        values = sorted(table[factor].unique(), key=lambda v: (isinstance(v, str), v))
        numeric = all(isinstance(v, (int, float)) for v in values)
        where = {v: (v if numeric else k) for k, v in enumerate(values)}
        for k, rule in enumerate(r for r in ("linear", "bp", "dfa", "lafs") if r in set(table["rule"])):
            rows = table[table["rule"] == rule].sort_values(factor)
            x = [where[v] for v in rows[factor]]
            if not numeric:  # side by side, so intervals do not hide each other
                x = [p + 0.08 * (k - 1.5) for p in x]
            ax.errorbar(x, rows["test_mean"], yerr=[rows["test_mean"] - rows["test_low"],
                        rows["test_high"] - rows["test_mean"]], fmt="o" + RULE_STYLES.get(rule, ""), capsize=3,
                        color=RULE_COLORS.get(rule, "grey"), label="linear" if rule == "linear" else rule.upper())
        if "vs_linear" in table and factor != "dataset":
            base = table.dropna(subset=["vs_linear"]).iloc[0]
            linear = base["test_mean"] - base["vs_linear"]
            ax.axhline(linear, color="grey", lw=1, label="linear (softmax regression)")
        if numeric:
            ax.set_xscale("log")
        else:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
        ax.set_xlabel(factor.replace("_", " "))
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    return fig


def long_panels(results: list[Result], panels: dict[str, str], layers: tuple[int, ...] = (1, 2, 3),
                split: str = "test", mark_epoch: float | None = 20) -> plt.Figure:
    """Long runs on a linear epoch axis: one row per metric, one column per lr schedule; mean over
    seeds and 95% band per (rule, layer), colour the layer, line style the rule. A metric without
    `{i}` (e.g. "{split}/accuracy") is drawn once per rule, in black. A dotted line marks
    `mark_epoch` (Figure 1's length)."""
    from .studies.runs import bands_by

    schedules = sorted({r.config.lr_schedule for r in results})
    fig, axes = plt.subplots(len(panels), len(schedules), figsize=(5.5 * len(schedules), 3.3 * len(panels)),
                             constrained_layout=True, squeeze=False, sharex=True, sharey="row")
    for col, schedule in enumerate(schedules):
        group = [r for r in results if r.config.lr_schedule == schedule]
        per_epoch = group[0].history["step"][-1] / group[0].config.epochs
        for row, (ylabel, pattern) in enumerate(panels.items()):
            ax = axes[row, col]
            for i in (layers if "{i}" in pattern else (0,)):
                for (rule,), band in bands_by(group, pattern.format(split=split, i=i)).items():
                    color = _layer_color(i) if i else "black"
                    label = f"{rule.upper()} layer {i}" if i else rule.upper()
                    epoch = band.step / per_epoch
                    ax.plot(epoch, band.mean, RULE_STYLES[rule], color=color, label=f"{label} (n={band.n})")
                    ax.fill_between(epoch, band.low, band.high, color=color, alpha=0.2, lw=0)
            if mark_epoch is not None:
                ax.axvline(mark_epoch, color="grey", lw=0.8, ls=":")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(ylabel)
            if row == 0:
                ax.set_title(f"learning rate: {schedule}")
            if row == len(panels) - 1:
                ax.set_xlabel("epoch")
            ax.legend(fontsize=6, ncol=2)
    return fig


def search_surfaces(records: dict, cells, rule: str) -> plt.Figure:
    """The open question's search for one rule: per cell (rows: depth, columns: width), the
    validation accuracy of every configuration tried (learning rate x scale of B^i, seed 0) as a
    colour; "p" marks a run stopped by the pruner, "x" one that diverged, a star the choice.

    records: cell name -> trial records (`studies.open_question.trials()["trials"]`).
    """
    import numpy as np

    from .search import choose

    mine = [c for c in cells if c.rule == rule]
    widths = sorted({c.hidden[0] for c in mine})
    depths = sorted({len(c.hidden) for c in mine})
    fig, axes = plt.subplots(len(depths), len(widths), figsize=(1.9 * len(widths) + 1.2, 1.9 * len(depths) + 0.6),
                             constrained_layout=True, squeeze=False)
    image = None
    for ax in axes.flat:
        ax.set_axis_off()
    for c in mine:
        ax = axes[depths.index(len(c.hidden)), widths.index(c.hidden[0])]
        rows = records.get(c.name, [])
        if not rows:
            continue
        ax.set_axis_on()
        lrs = sorted({r["params"]["lr"] for r in rows})
        scales = sorted({r["params"]["feedback_scale"] for r in rows})
        grid = np.full((len(scales), len(lrs)), np.nan)
        for r in rows:
            y, x = scales.index(r["params"]["feedback_scale"]), lrs.index(r["params"]["lr"])
            if r["state"] == "complete":
                grid[y, x] = 100 * r["value"]
            elif r["state"] in ("pruned", "diverged"):
                ax.text(x, y, "p" if r["state"] == "pruned" else "x", ha="center", va="center", fontsize=9)
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=90, vmax=99, aspect="auto")
        best = choose(rows)
        if best:
            ax.plot(lrs.index(best["params"]["lr"]), scales.index(best["params"]["feedback_scale"]), "*",
                    color="white", markersize=12, markeredgecolor="black")
        ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs], rotation=90, fontsize=8)
        ax.set_yticks(range(len(scales)), [f"{v:g}" for v in scales], fontsize=8)
        ax.set_title(f"{len(c.hidden)} x {c.hidden[0]}", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("learning rate", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("scale of $B^i$", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="validation accuracy (%)")
    fig.suptitle(f"{rule.upper()}: the search on the validation split", fontsize=11)
    return fig


def width_curve(comparisons) -> plt.Figure:
    """The open question's answer per width: each rule's best network minus each bar (backprop,
    one hidden layer: of the same width, and with as many parameters), in percentage points, with
    the interval at the level of its Holm step. comparisons: rows of rule, bar, width, diff, low, high."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    for k, (rule, bar) in enumerate([(r, b) for r in ("dfa", "lafs") for b in ("same width", "as many parameters")]):
        rows = comparisons[(comparisons["rule"] == rule) & (comparisons["bar"] == bar)].sort_values("width")
        if rows.empty:
            continue
        x = rows["width"] * (1 + 0.04 * (k - 1.5))
        ax.errorbar(x, 100 * rows["diff"], yerr=[100 * (rows["diff"] - rows["low"]), 100 * (rows["high"] - rows["diff"])],
                    fmt="o" if bar == "same width" else "s", ls=RULE_STYLES[rule], color=RULE_COLORS[rule], capsize=3,
                    mfc="white" if bar == "as many parameters" else RULE_COLORS[rule],
                    label=f"{rule.upper()} vs BP, {bar}")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("log")
    widths = sorted(comparisons["width"].unique())
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.minorticks_off()
    ax.set_xlabel("width of the hidden layers")
    ax.set_ylabel("minus backprop, 1 hidden layer (pp)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def depth_accuracy(tables: dict) -> plt.Figure:
    """Test accuracy (mean and 95% interval over seeds) against the number of hidden layers, one
    panel per table (e.g. per width), one colour per rule; the softmax regression (depth 0, rule
    "linear") and backprop with one hidden layer (the bar) as horizontal bands.

    tables: title -> `studies.tables.summarize` table (rule, depth, test_mean, test_low, test_high)."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.6 * len(tables) + 1.6, 3.6), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, (title, table) in zip(axes[0], tables.items()):
        for name, rule, color in (("softmax regression", "linear", "grey"), ("BP, 1 hidden layer", "bp", "black")):
            rows = table[(table["rule"] == rule) & (table["depth"] == (0 if rule == "linear" else 1))]
            if len(rows):
                row = rows.iloc[0]
                ax.axhspan(row["test_low"], row["test_high"], color=color, alpha=0.15, lw=0)
                ax.axhline(row["test_mean"], color=color, lw=0.8, ls=":", label=name)
        for k, rule in enumerate(r for r in ("bp", "fa", "dfa", "lafs") if r in set(table["rule"])):
            rows = table[table["rule"] == rule].sort_values("depth")
            ax.errorbar(rows["depth"] + 0.08 * (k - 1.5), rows["test_mean"],
                        yerr=[rows["test_mean"] - rows["test_low"], rows["test_high"] - rows["test_mean"]],
                        fmt="o" + RULE_STYLES[rule], color=RULE_COLORS[rule], capsize=3, label=rule.upper())
        ax.set_xticks(sorted(d for d in table["depth"].unique() if d > 0))
        ax.set_xlabel("hidden layers")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig
