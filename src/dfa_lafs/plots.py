"""Figure 1 of Gilmer et al. (2017), redrawn from results: angles and readout accuracies.

And every other figure of the book, in one style. Sized for the page: the book shows a cell's
output in a box DISPLAY_PX wide (the text column at a 1280 px window), so every figure is
DISPLAY_PX / DPI inches wide and is shown at its own size; its smallest text, 10 pt at DPI 100
(13.9 px), is then at least 80% of the 16 px body text. On a phone
the book's CSS keeps that size and lets the figure scroll sideways inside its own box
(book/_static/wrap.css) instead of shrinking it. `text_on_page` measures this; tests/test_plots.py
holds every figure to it.

One colour per rule across the book (RULE_COLORS); where hidden layers must be told apart too, the
line style does it (LAYER_STYLES). Legends go below the panels, never on the data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from .results import Result

DISPLAY_PX = 688  # width of a cell's output in the text column at a 1280 px window (measured in Chromium)
BODY_PX = 16  # the book's body text
MIN_TEXT_PX = 0.8 * BODY_PX  # the smallest text a figure may show on the page
DPI = 100  # the notebook's inline figures are drawn at rcParams["figure.dpi"], 100 by default
WIDTH = DISPLAY_PX / DPI  # inches
TEXT_PT = 10  # tick labels and legends; axis labels and titles are larger

# Okabe & Ito's colour-blind-safe palette: one colour per rule, the same in every chapter.
RULE_COLORS = {"bp": "#000000", "fa": "#009E73", "dfa": "#D55E00", "lafs": "#0072B2", "linear": "#CC79A7"}
CONTROL_COLOR = "#999999"  # control readouts: a fresh random B', no rule's
REFERENCE = {"color": "#777777", "lw": 0.8, "ls": ":"}  # fixed reference lines (90 degrees, ...)
LAYER_STYLES = ("-", "--", ":", "-.", (0, (6, 2)), (0, (1, 3)))  # hidden layer 1, 2, 3, ...
# Line style per rule, for figures drawn outside this module (chapter 11's until it calls accuracy_by_depth).
RULE_STYLES = {"dfa": "-", "lafs": "--", "bp": ":", "fa": "-."}


def rule_color(rule: str) -> str:
    return RULE_COLORS[rule]


def layer_style(i: int):
    return LAYER_STYLES[(i - 1) % len(LAYER_STYLES)]


def rule_name(rule: str) -> str:
    return "linear model" if rule == "linear" else rule.upper()


def architecture(hidden: tuple[int, ...]) -> str:
    """(800, 800, 800) -> '3x800'; unequal widths are listed."""
    if len(set(hidden)) == 1:
        return f"{len(hidden)}x{hidden[0]}"
    return "-".join(map(str, hidden)) or "no hidden layer"


# ---------------------------------------------------------------------------------------------
# Page geometry: figure, axes, legend


def page_figure(nrows: int = 1, ncols: int = 1, height: float = 2.6, **subplots):
    """(fig, axes) sized for the page: WIDTH inches wide, `height` inches per row of panels.

    For figures drawn in a chapter: colour the rules with RULE_COLORS, put the legend under the
    panels with `legend_below`, and leave the font sizes at matplotlib's defaults (10 pt or more).
    """
    fig = plt.figure(figsize=(WIDTH, height * nrows), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=TEXT_PT)
    return fig, axes


def _panels(n: int, ncols: int, height: float, **subplots):
    """page_figure with `n` panels filling rows of `ncols`; spare axes removed (fig.axes = the panels)."""
    ncols = min(ncols, n)
    fig, axes = page_figure(-(-n // ncols), ncols, height, **subplots)
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, axes


def legend_below(fig, handles=None, labels=None):
    """One legend for the figure, under its panels, in as many columns as fit its width.

    Without handles: every labelled line, band or point of the figure, each label once. A handle
    may be a tuple of lines (drawn side by side: one quantity in several rules' colours)."""
    if handles is None:
        seen = {}
        for ax in fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        handles, labels = list(seen.values()), list(seen)
    renderer = fig.canvas.get_renderer()
    for ncols in range(len(handles), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=TEXT_PT,
                            frameon=False, columnspacing=1.2, handlelength=2.4,
                            handler_map={tuple: HandlerTuple(ndivide=None, pad=0)})
        if ncols == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            return legend
        legend.remove()
    return None


def rule_layer_legend(fig, rules, layers, seeds: dict[str, int] | None = None):
    """The legend of figures where colour is the rule and line style the layer: one entry for each."""
    handles = [Line2D([], [], color=rule_color(r), lw=2.5) for r in rules]
    labels = [rule_name(r) + (f" ({seeds[r]} seeds)" if seeds and r in seeds else "") for r in rules]
    handles += [Line2D([], [], color="#444444", ls=layer_style(i)) for i in layers]
    labels += [f"layer {i}" for i in layers]
    return legend_below(fig, handles, labels)


def xlabel_below(axes, text: str) -> None:
    """The x label on the bottom panel of each column (a figure-wide label would meet the legend)."""
    axes = np.atleast_2d(axes)
    for col in range(axes.shape[1]):
        below = [ax for ax in axes[:, col] if ax.figure is not None and ax in ax.figure.axes]
        if below:
            below[-1].set_xlabel(text)


def step_axis(ax, last_step: float) -> None:
    """Symmetric-log training-step axis from 0 (initialization), labelled every decade or every
    second one, so that the labels never crowd a narrow panel."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(0, last_step * 1.05)
    decades = int(np.ceil(np.log10(max(last_step, 1))))
    stride = 1 if decades <= 4 or ax.get_position().width * ax.figure.get_figwidth() > 3.2 else 2
    ax.xaxis.set_major_locator(FixedLocator([0] + [10 ** k for k in range(0, decades + 1, stride)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: "0" if x == 0 else
                                               f"{x:.0f}" if x < 1000 else f"$10^{{{np.log10(x):.0f}}}$"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def band_plot(ax, band, label: str, color=None, style="-") -> None:
    """Mean over seeds with its confidence band (an `aggregate.Band`), on a training-step axis."""
    ax.plot(band.step, band.mean, linestyle=style, color=color, label=f"{label} (n={band.n})")
    ax.fill_between(band.step, band.low, band.high, color=color, alpha=0.15, lw=0)
    step_axis(ax, float(band.step[-1]))


def _drawn_texts(fig, renderer) -> list[Text]:
    """The texts the figure shows: tick labels only at ticks inside the view limits (the others are
    kept by matplotlib but not drawn), and every other non-empty visible text."""
    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lo, hi), max(lo, hi)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((tick.label1, tick.label2))
                if lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    drawn += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    drawn += [t for t in fig.findobj(Text) if t not in ticks and t.get_visible()]
    return [t for t in drawn if t.get_text().strip() and t.get_window_extent(renderer).width > 0]


def text_on_page(fig, display_px: float = DISPLAY_PX) -> dict:
    """How the figure reads on the page: its width in px as drawn (bbox_inches="tight", as the
    notebook draws it), the scale at which a box `display_px` wide shows it, its smallest text in
    px on screen, and the pairs of texts that overlap (by their first characters)."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)  # lays out the figure (constrained layout) as saving it would
    width = fig.get_tightbbox(renderer).width * fig.dpi  # the tight box is in inches
    scale = min(1.0, display_px / width)
    texts = _drawn_texts(fig, renderer)
    boxes = [t.get_window_extent(renderer) for t in texts]
    overlaps = [(texts[a].get_text()[:20], texts[b].get_text()[:20]) for a in range(len(boxes))
                for b in range(a + 1, len(boxes))
                if min(boxes[a].x1, boxes[b].x1) - max(boxes[a].x0, boxes[b].x0) > 1
                and min(boxes[a].y1, boxes[b].y1) - max(boxes[a].y0, boxes[b].y0) > 1]
    return {"width_px": width, "scale": scale, "overlaps": overlaps,
            "min_text_px": min(t.get_fontsize() for t in texts) * fig.dpi / 72 * scale}


# ---------------------------------------------------------------------------------------------
# Figure 1 and its seed bands


def figure1(results: list[Result], metric: str = "angle", split: str = "train") -> plt.Figure:
    """Left: angle between e^y and each e^i; right: readout accuracy through each B^i.

    One line per (rule, hidden layer): colour is the rule, line style the layer. The x axis is
    the training step on a symmetric log scale, so step 0 (initialization) is shown.
    """
    fig, axes = page_figure(1, 2, 2.7, sharex=True)
    left, right = axes[0]
    for result in results:
        steps, rule = result.history["step"], result.config.rule
        for i in range(1, len(result.config.hidden) + 1):
            label, style = f"{rule.upper()} layer {i}", layer_style(i)
            left.plot(steps, result.series(metric, i, split), linestyle=style, color=rule_color(rule), label=label)
            right.plot(steps, result.series("readout_accuracy", i, split), linestyle=style, color=rule_color(rule),
                       label=label)
        for ax in (left, right):
            step_axis(ax, steps[-1])
    names = {"angle": r"angle $e^y$ vs $e^i$ (deg)", "angle_centered": r"centred angle $e^y$ vs $e^i$ (deg)"}
    left.set_ylabel(names.get(metric, metric))
    right.set_ylabel(r"readout accuracy via $B^i$")
    xlabel_below(axes, "training step (log scale)")
    cfg = results[0].config
    where = "training" if split == "train" else "test"
    fig.suptitle(f"{cfg.dataset.upper()} ({where} subset), {architecture(cfg.hidden)} {cfg.activation}, lr {cfg.lr}",
                 fontsize=TEXT_PT + 1)
    rules = list(dict.fromkeys(r.config.rule for r in results))
    rule_layer_legend(fig, rules, range(1, max(len(r.config.hidden) for r in results) + 1))
    return fig


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Save as PNG (for the page) and PDF (for print); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150 if path.suffix == ".png" else None)
    return paths


def band_panels(results: list[Result], panels: dict[str, str], layers: tuple[int, ...] = (1, 2, 3),
                split: str = "train", ncols: int = 2) -> plt.Figure:
    """One panel per metric, with the mean over seeds and its 95% band per (rule, hidden layer).

    panels: y label -> history name with `{split}` and `{i}` (the layer), e.g.
    "{split}/readout_margin/{i}" or "probe/weight_norm/{i}". Colour is the rule, line style the
    layer. Panels fill rows of `ncols`.
    """
    from .studies.runs import bands_by

    fig, axes = _panels(len(panels), ncols, 2.5, sharex=True)
    seeds = {}
    for ax, (ylabel, pattern) in zip(axes.flat, panels.items()):
        for i in layers:
            for (rule,), band in bands_by(results, pattern.format(split=split, i=i)).items():
                band_plot(ax, band, f"{rule.upper()} layer {i}", rule_color(rule), layer_style(i))
                seeds[rule] = band.n
        ax.set_ylabel(ylabel)
    xlabel_below(axes, "training step (log scale)")
    rule_layer_legend(fig, sorted(seeds), layers, seeds)
    return fig


def figure1_bands(results: list[Result], split: str = "train", layers: tuple[int, ...] = (1, 2, 3)) -> plt.Figure:
    """Figure 1 over seeds: the angle e^y vs e^i and the readout accuracy through B^i, mean and
    95% band per (rule, layer); colour is the rule, line style the layer."""
    return band_panels(results, {r"angle $e^y$ vs $e^i$ (deg)": "{split}/angle/{i}",
                                 r"readout accuracy via $B^i$": "{split}/readout_accuracy/{i}"}, layers, split)


def _role_color(color, rule: str) -> str:
    """A line's colour in baseline_grid: None or "rule" -> the rule's, "control" -> CONTROL_COLOR,
    "linear" -> the linear model's; anything else is a matplotlib colour."""
    return {None: rule_color(rule), "rule": rule_color(rule), "control": CONTROL_COLOR,
            "linear": RULE_COLORS["linear"]}.get(color, color)


def baseline_grid(results: list[Result], lines: list[tuple[str, str, str | None, str]],
                  layers: tuple[int, ...] = (1, 2, 3), split: str = "train",
                  ylabel: str = "angle to $e^y$ (degrees)") -> plt.Figure:
    """Rows: rules; columns: hidden layers; in each panel, one band over seeds per line.

    lines: (label, history name, colour, line style). The name may hold `{split}` and `{i}`; one
    without `{i}` (the linear classifier's angle, a property of the split) is drawn in every
    column. Colour: None or "rule" (the row's rule), "control", "linear", or a matplotlib colour.
    """
    from .studies.runs import bands_by

    rules = sorted({r.config.rule for r in results})
    fig, axes = page_figure(len(rules), len(layers), 2.2, sharex=True, sharey=True)
    for row, rule in zip(axes, rules):
        runs = [r for r in results if r.config.rule == rule]
        for ax, i in zip(row, layers):
            for label, pattern, color, style in lines:
                (band,) = bands_by(runs, pattern.format(split=split, i=i)).values()
                band_plot(ax, band, label, _role_color(color, rule), style)
            ax.set_title(f"{rule.upper()}, hidden layer {i}", fontsize=TEXT_PT + 0.5, color=rule_color(rule))
        row[0].set_ylabel(ylabel)
    xlabel_below(axes, "training step (log scale)")
    handles = [tuple(Line2D([], [], color=_role_color(color, rule), linestyle=style) for rule in rules)
               if color in (None, "rule") else Line2D([], [], color=_role_color(color, rules[0]), linestyle=style)
               for _, _, color, style in lines]
    legend_below(fig, handles, [label for label, *_ in lines])
    return fig


# ---------------------------------------------------------------------------------------------
# The thesis: DFA's update against LAFS's, and both against the gradient


def thesis_panels(results: list[Result], layers: tuple[int, ...] = (1, 2, 3)) -> plt.Figure:
    """Per hidden layer: the DFA-vs-LAFS update angle over training, mean and band over seeds.

    Solid: measured at the weights of DFA's runs (in DFA's colour); dashed: at the weights of
    LAFS's runs (in LAFS's colour); dotted grey: the raw error angle e^y vs e^i of DFA's own runs,
    the quantity the paper's argument runs through.
    """
    from .studies.runs import bands_by

    fig, axes = page_figure(1, len(layers), 2.8, sharey=True)
    dfa_runs = [r for r in results if r.config.rule == "dfa"]
    for ax, i in zip(axes[0], layers):
        for (rule,), band in bands_by(results, f"probe/dfa_vs_lafs_update/{i}", by=("rule",)).items():
            band_plot(ax, band, f"update angle, at {rule.upper()}'s weights", rule_color(rule),
                      "-" if rule == "dfa" else "--")
        for band in bands_by(dfa_runs, f"train/angle/{i}", by=("rule",)).values():
            band_plot(ax, band, r"error angle $e^y$ vs $e^i$ (DFA)", CONTROL_COLOR, ":")
        ax.axhline(90, **REFERENCE)
        ax.set_title(f"hidden layer {i}", fontsize=TEXT_PT + 0.5)
    axes[0][0].set_ylabel("angle (degrees)")
    xlabel_below(axes, "training step (log scale)")
    legend_below(fig)
    return fig


def _shade(color: str, t: float) -> tuple:
    """`color` mixed with white: t = 0 is light, t = 1 the colour itself (early steps light, late dark)."""
    from matplotlib.colors import to_rgb

    return tuple(1 - (0.25 + 0.75 * t) * (1 - c) for c in to_rgb(color))


def noise_panels(summary, rule: str = "dfa") -> plt.Figure:
    """DFA-vs-LAFS update angle against the batch it is averaged over, one line per training step.

    `summary` is `analysis.noise_summary(...)`. If DFA were LAFS plus zero-mean noise, every line
    would fall towards 0 on the right; a line that stays up is a systematic difference. The lines
    are shades of the rule's colour, light early in training and dark late.
    """
    rows = summary[summary["rule"] == rule]
    layers = sorted(rows["layer"].unique())
    steps = sorted(rows["step"].unique())
    fig, axes = page_figure(1, len(layers), 2.8, sharey=True)
    for ax, layer in zip(axes[0], layers):
        for j, step in enumerate(steps):
            line = rows[(rows["layer"] == layer) & (rows["step"] == step)].sort_values("batch")
            x = range(len(line))
            color = _shade(rule_color(rule), j / max(len(steps) - 1, 1))
            ax.plot(x, line["mean"], marker="o", ms=4, color=color, label=f"step {step}")
            ax.fill_between(x, line["low"], line["high"], color=color, alpha=0.15, lw=0)
            ax.set_xticks(list(x), [str(b) for b in line["batch"]])
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(f"hidden layer {layer}", fontsize=TEXT_PT + 0.5)
    axes[0][0].set_ylabel("DFA vs LAFS update (deg)")
    xlabel_below(axes, "examples averaged over")
    fig.suptitle(f"At the weights of {rule.upper()} training runs", fontsize=TEXT_PT + 1)
    legend_below(fig)
    return fig


def update_alignment_bands(results: list[Result], layers: tuple[int, ...] = (1, 2, 3)) -> plt.Figure:
    """Per hidden layer: the angle between DFA's or LAFS's update of W^i and the backprop gradient.

    Mean and 95% band over seeds. Colour is the rule whose update is measured; solid lines are
    measured at that rule's own weights (`probe/update_angle/{i}`), dashed lines at the other
    rule's weights (`probe/{rule}_update_angle/{i}` of the other rule's runs).
    """
    from .studies.runs import mean_band

    rules = [rule for rule in ("dfa", "lafs") if any(r.config.rule == rule for r in results)]
    fig, axes = page_figure(1, len(layers), 2.8, sharey=True)
    for ax, i in zip(axes[0], layers):
        for weights in rules:
            runs = [r for r in results if r.config.rule == weights]
            for update in rules:
                name = f"probe/update_angle/{i}" if update == weights else f"probe/{update}_update_angle/{i}"
                band_plot(ax, mean_band(runs, name), f"{update.upper()} update at {weights.upper()}'s weights",
                          rule_color(update), "-" if update == weights else "--")
        ax.axhline(90, **REFERENCE)
        ax.set_title(f"update of $W^{i}$", fontsize=TEXT_PT + 0.5)
    axes[0][0].set_ylabel("angle to the gradient (deg)")
    xlabel_below(axes, "training step (log scale)")
    legend_below(fig)
    return fig


# ---------------------------------------------------------------------------------------------
# Accuracy against a setting: depth, robustness studies


def _interval_points(ax, x, rows, rule: str, joined: bool) -> None:
    """Mean test accuracy with its 95% interval at each x, in the rule's colour; `joined` draws a thin
    line between the points (for a numeric setting; a categorical one gets points only)."""
    ax.errorbar(x, rows["test_mean"], yerr=[rows["test_mean"] - rows["test_low"], rows["test_high"] - rows["test_mean"]],
                fmt="o", ms=5, capsize=3, color=rule_color(rule), linestyle="-" if joined else "none", lw=1,
                label=rule_name(rule))


def _linear_band(ax, row, label: str = "linear model") -> None:
    ax.axhspan(row["test_low"], row["test_high"], color=RULE_COLORS["linear"], alpha=0.15, lw=0)
    ax.axhline(row["test_mean"], color=RULE_COLORS["linear"], lw=1, label=label)


def robustness_panels(tables: dict, ncols: int = 2) -> plt.Figure:
    """One panel per study: test accuracy (mean and 95% interval over seeds) against the varied
    value, one colour per rule, with the linear baseline of the data set as a band (in the
    data-set study, as its own points). Numeric settings sit on a log axis with their points joined;
    categorical ones (data sets, activations) are points side by side, never joined.

    tables: factor -> `analysis.robustness_table` of that study.
    """
    fig, axes = _panels(len(tables), ncols, 2.5)
    for ax, (factor, table) in zip(axes.flat, tables.items()):
        values = sorted(table[factor].unique(), key=lambda v: (isinstance(v, str), v))
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        rules = [r for r in ("linear", "bp", "fa", "dfa", "lafs") if r in set(table["rule"])]
        for k, rule in enumerate(rules):
            rows = table[table["rule"] == rule].sort_values(factor)
            if numeric:
                x = rows[factor].astype(float)
            else:  # side by side, so that intervals do not hide each other
                x = [values.index(v) + 0.12 * (k - (len(rules) - 1) / 2) for v in rows[factor]]
            _interval_points(ax, x, rows, rule, joined=numeric)
        if "vs_linear" in table and "linear" not in rules:
            base = table.dropna(subset=["vs_linear"]).iloc[0]
            linear = base["test_mean"] - base["vs_linear"]
            ax.axhline(linear, color=RULE_COLORS["linear"], lw=1, label="linear model")
        if numeric:
            ax.set_xscale("log")
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
            ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_xlabel(factor.replace("_", " "))
    for row in np.atleast_2d(axes):
        row[0].set_ylabel("test accuracy")
    legend_below(fig)
    return fig


def accuracy_by_depth(tables: dict, bar: bool = True) -> plt.Figure:
    """One panel per table (title -> a `protocol.summarize` table: rule, depth, test_mean, test_low,
    test_high): mean test accuracy and 95% interval per rule against the number of hidden layers,
    rules side by side. The linear model (rule "linear", from the first table that has it) and, with
    `bar`, backprop with one hidden layer (the bar) are bands across each panel."""
    fig, axes = _panels(len(tables), len(tables), 3.0, sharey=True)
    linear = next((t[t["rule"] == "linear"].iloc[0] for t in tables.values() if (t["rule"] == "linear").any()), None)
    for ax, (title, table) in zip(axes.flat, tables.items()):
        if linear is not None:
            _linear_band(ax, linear)
        if bar:
            row = table[(table["rule"] == "bp") & (table["depth"] == 1)].iloc[0]
            ax.axhspan(row["test_low"], row["test_high"], color=RULE_COLORS["bp"], alpha=0.08, lw=0)
            ax.axhline(row["test_mean"], color=RULE_COLORS["bp"], lw=0.8, ls="--", label="BP, 1 hidden layer (the bar)")
        rules = [r for r in ("bp", "fa", "dfa", "lafs") if r in set(table["rule"])]
        for k, rule in enumerate(rules):
            rows = table[table["rule"] == rule].sort_values("depth")
            _interval_points(ax, rows["depth"] + 0.08 * (k - (len(rules) - 1) / 2), rows, rule, joined=True)
        ax.set_xticks(sorted(table.loc[table["rule"] != "linear", "depth"].unique()))
        ax.set_xlabel("hidden layers")
        if len(tables) > 1:
            ax.set_title(title, fontsize=TEXT_PT + 0.5)
    axes.flat[0].set_ylabel("test accuracy")
    legend_below(fig)
    return fig


# ---------------------------------------------------------------------------------------------
# Long runs


def long_panels(results: list[Result], panels: dict[str, str], layers: tuple[int, ...] = (1, 2, 3),
                split: str = "test", mark_epoch: float | None = 20) -> plt.Figure:
    """Long runs on a linear epoch axis: one row per metric, one column per lr schedule; mean over
    seeds and 95% band per (rule, layer), colour the rule, line style the layer. A metric without
    `{i}` (e.g. "{split}/accuracy") is drawn once per rule, solid. A dotted line marks `mark_epoch`
    (Figure 1's length)."""
    from .studies.runs import bands_by

    schedules = sorted({r.config.lr_schedule for r in results})
    fig, axes = page_figure(len(panels), len(schedules), 2.0, sharex=True, sharey="row")
    seeds = {}
    for col, schedule in enumerate(schedules):
        group = [r for r in results if r.config.lr_schedule == schedule]
        per_epoch = group[0].history["step"][-1] / group[0].config.epochs
        for row, (ylabel, pattern) in enumerate(panels.items()):
            ax = axes[row, col]
            for i in (layers if "{i}" in pattern else (0,)):
                for (rule,), band in bands_by(group, pattern.format(split=split, i=i)).items():
                    label = f"{rule.upper()} layer {i}" if i else rule.upper()
                    epoch = band.step / per_epoch
                    ax.plot(epoch, band.mean, linestyle=layer_style(i) if i else "-", color=rule_color(rule),
                            label=f"{label} (n={band.n})")
                    ax.fill_between(epoch, band.low, band.high, color=rule_color(rule), alpha=0.15, lw=0)
                    seeds[rule] = band.n
            if mark_epoch is not None:
                ax.axvline(mark_epoch, **REFERENCE)
            if col == 0:
                ax.set_ylabel(ylabel)
            if row == 0:
                ax.set_title(f"learning rate: {schedule}", fontsize=TEXT_PT + 0.5)
            if row == len(panels) - 1:
                ax.set_xlabel("epoch")
    rule_layer_legend(fig, sorted(seeds), layers, seeds)
    return fig


# ---------------------------------------------------------------------------------------------
# The open question's search and answer


def search_surfaces(records: dict, cells, rule: str) -> plt.Figure:
    """The open question's search for one rule: per cell (rows: hidden layers, columns: width),
    the validation accuracy of every configuration tried (learning rate x scale of B^i, seed 0)
    as a colour; "p" marks a run stopped by the pruner, "x" one that diverged, a star the choice.

    records: cell name -> trial records (`studies.open_question.trials()["trials"]`)."""
    from .search import choose

    mine = [c for c in cells if c.rule == rule]
    widths, depths = sorted({c.hidden[0] for c in mine}), sorted({len(c.hidden) for c in mine})
    tried = [r["params"] for c in mine for r in records.get(c.name, [])]
    lrs = sorted({p["lr"] for p in tried} | {v for c in mine for v in c.dims["lr"]})
    scales = sorted({p["feedback_scale"] for p in tried} | {v for c in mine for v in c.dims["feedback_scale"]})
    fig, axes = page_figure(len(depths), len(widths), 1.55, sharex=True, sharey=True)
    image = None
    for ax in axes.flat:
        ax.grid(False)
        ax.set_facecolor("#f2f2f2")
    for c in mine:
        ax = axes[depths.index(len(c.hidden)), widths.index(c.hidden[0])]
        grid = np.full((len(scales), len(lrs)), np.nan)
        rows = records.get(c.name, [])
        for r in rows:
            y, x = scales.index(r["params"]["feedback_scale"]), lrs.index(r["params"]["lr"])
            if r["state"] == "complete":
                grid[y, x] = 100 * r["value"]
            elif r["state"] in ("pruned", "diverged"):
                ax.text(x, y, "p" if r["state"] == "pruned" else "x", ha="center", va="center", fontsize=TEXT_PT)
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=90, vmax=99, aspect="auto")
        best = choose(rows)
        if best:
            ax.plot(lrs.index(best["params"]["lr"]), scales.index(best["params"]["feedback_scale"]), "*", ms=12,
                    color="white", markeredgecolor="black")
        ax.set_title(f"{len(c.hidden)} x {c.hidden[0]}", fontsize=TEXT_PT)
    for ax in axes[-1]:
        ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs], rotation=90)
    for ax in axes[:, 0]:
        ax.set_yticks(range(len(scales)), [f"{v:g}" for v in scales])
    fig.supxlabel("learning rate", fontsize=TEXT_PT + 1)
    fig.supylabel("scale of $B^i$", fontsize=TEXT_PT + 1)
    for ax in axes.flat:
        if not ax.images:
            ax.set_axis_off()
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.9, label="validation accuracy (%)")
    fig.suptitle(rule_name(rule), fontsize=TEXT_PT + 1)
    return fig


def width_curve(comparisons) -> plt.Figure:
    """The open question's answer per width: each rule's best network minus each bar (backprop, one
    hidden layer: of the same width, and with as many parameters), in percentage points, with the
    interval at the level of its Holm step; rule "linear" (the softmax regression, for context) in its
    own colour. comparisons: rows of rule, bar, width, diff, low, high."""
    fig, axes = page_figure(1, 1, 3.0)
    ax = axes[0, 0]
    pairs = [(r, b) for r in ("dfa", "lafs") for b in ("same width", "as many parameters")] + [("linear", "same width")]
    for k, (rule, bar) in enumerate(pairs):
        rows = comparisons[(comparisons["rule"] == rule) & (comparisons["bar"] == bar)].sort_values("width")
        if rows.empty:
            continue
        x = rows["width"] * (1 + 0.05 * (k - 1.5))
        ax.errorbar(x, 100 * rows["diff"], yerr=[100 * (rows["diff"] - rows["low"]), 100 * (rows["high"] - rows["diff"])],
                    fmt="o" if bar == "same width" else "s", ls="-" if bar == "same width" else "--", lw=1, capsize=3,
                    color=rule_color(rule), mfc="white" if bar == "as many parameters" else rule_color(rule),
                    label=f"{rule_name(rule)} vs BP with {bar}" if rule != "linear" else "linear model vs BP, same width")
    ax.axhline(0, **REFERENCE)
    ax.set_xscale("log")
    widths = sorted(comparisons["width"].unique())
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width of the hidden layers")
    ax.set_ylabel("minus the bar (pp)")
    legend_below(fig)
    return fig
