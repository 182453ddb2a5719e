"""Figure 1 of Gilmer et al. (2017), redrawn from results: angles and readout accuracies."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .results import Result

LAYER_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
RULE_STYLES = {"dfa": "-", "lafs": "--", "bp": ":", "fa": "-."}


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
    fig.suptitle(f"DFA vs LAFS on {results[0].config.dataset.upper()} ({where} subset): "
                 f"{'x'.join(map(str, results[0].config.hidden))} {results[0].config.activation}, "
                 f"lr {results[0].config.lr}")
    return fig


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Save as PNG (for the page) and PDF (for print); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150 if path.suffix == ".png" else None)
    return paths
