"""Tables that turn stored runs into the book's evidence: the thesis measured, and its noise test.

Every function takes Results (as the book loads them) and returns a pandas DataFrame; means over
seeds come with Student-t 95% intervals (`protocol.interval`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from .probes import NOISE_BATCHES
from .protocol import interval
from .results import Result

NOISE_SIZES = (*(str(s) for s in NOISE_BATCHES), "all")


def noise_table(results: Iterable[Result]) -> pd.DataFrame:
    """One row per (run, measured step, hidden layer, batch size): the DFA-vs-LAFS update angle."""
    rows = []
    for r in results:
        steps = r.history["step"]
        for i in range(1, len(r.config.hidden) + 1):
            for size in NOISE_SIZES:
                values = r.history.get(f"noise/dfa_vs_lafs_update/{size}/{i}")
                if values is None:
                    continue
                for step, value in zip(steps, values):
                    if not math.isnan(value):
                        rows.append({"rule": r.config.rule, "seed": r.config.seed, "step": step, "layer": i,
                                     "batch": size, "angle": value})
    if not rows:
        raise ValueError("no run records the noise study: train with noise_points > 0")
    return pd.DataFrame(rows)


def noise_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean angle over seeds with its 95% interval, per (rule, step, layer, batch size)."""
    out = []
    for (rule, step, layer, batch), g in table.groupby(["rule", "step", "layer", "batch"], sort=False):
        mean, low, high, n = interval(g["angle"])
        out.append({"rule": rule, "step": step, "layer": layer, "batch": batch, "mean": mean,
                    "low": low, "high": high, "n": n})
    df = pd.DataFrame(out)
    df["batch"] = pd.Categorical(df["batch"], categories=NOISE_SIZES, ordered=True)
    return df.sort_values(["rule", "layer", "step", "batch"]).reset_index(drop=True)


def final_values(results: Iterable[Result], metrics: dict[str, str], layers: Iterable[int]) -> pd.DataFrame:
    """Per (rule, layer, metric): the last recorded value, mean over seeds with its 95% interval.

    metrics: column label -> history name with `{i}` for the layer, e.g. "probe/dfa_vs_lafs_update/{i}".
    """
    runs = list(results)
    out = []
    for rule in sorted({r.config.rule for r in runs}):
        group = [r for r in runs if r.config.rule == rule]
        for i in layers:
            for label, name in metrics.items():
                mean, low, high, n = interval(r.history[name.format(i=i)][-1] for r in group)
                out.append({"rule": rule, "layer": i, "metric": label, "mean": mean, "low": low, "high": high,
                            "n": n})
    return pd.DataFrame(out)
