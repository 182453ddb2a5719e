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


def _at(r: Result, name: str, index: int) -> float:
    return r.history[name][index]


def readout_claim(runs: Iterable[Result], layers: Iterable[int], split: str = "test") -> pd.DataFrame:
    """Per layer of DFA's runs: readout accuracy through B^i at its peak and at the end, the
    control readout at the end, and the independent linear classifier's accuracy (means, 95% CI)."""
    dfa = [r for r in runs if r.config.rule == "dfa"]
    rows = []
    for i in layers:
        name = f"{split}/readout_accuracy/{i}"
        peak = interval(max(r.history[name]) for r in dfa)
        end = interval(_at(r, name, -1) for r in dfa)
        control = interval(_at(r, f"{split}/readout_accuracy_control/{i}", -1) for r in dfa)
        linear = interval(_at(r, f"{split}/linear_accuracy", -1) for r in dfa)
        network = interval(_at(r, f"{split}/accuracy", -1) for r in dfa)
        rows.append({"layer": i, "peak": peak[0], "end": end[0], "end_low": end[1], "end_high": end[2],
                     "control_end": control[0], "control_high": control[2], "linear": linear[0],
                     "network": network[0], "n": end[3]})
    return pd.DataFrame(rows)


def alignment_claim(runs: Iterable[Result], layers: Iterable[int], split: str = "test") -> pd.DataFrame:
    """Per layer of DFA's runs: the centred angle e^y vs e^i against its two baselines, the fresh
    control readout and the independent linear classifier, at the end and at its best point.

    `below_linear_steps`: the record steps at which the mean centred angle is below the linear
    classifier's (the readout's error is closer to e^y than an unrelated classifier's is).
    """
    dfa = [r for r in runs if r.config.rule == "dfa"]
    steps = dfa[0].history["step"]
    rows = []
    for i in layers:
        ang = [r.history[f"{split}/angle_centered/{i}"] for r in dfa]
        lin = [r.history[f"{split}/angle_linear_centered"] for r in dfa]
        gap = [[a - b for a, b in zip(x, y)] for x, y in zip(ang, lin)]  # per run, per step
        mean_gap = [sum(g[k] for g in gap) / len(gap) for k in range(len(steps))]
        best = min(range(1, len(steps)), key=mean_gap.__getitem__)
        end = interval(g[-1] for g in gap)
        rows.append({"layer": i, "end_angle": interval(a[-1] for a in ang)[0],
                     "end_control": interval(r.history[f"{split}/angle_centered_control/{i}"][-1] for r in dfa)[0],
                     "end_linear": interval(x[-1] for x in lin)[0], "end_gap": end[0], "end_gap_low": end[1],
                     "end_gap_high": end[2], "best_gap": mean_gap[best], "best_step": steps[best],
                     "below_linear_steps": [s for s, g in zip(steps, mean_gap) if s > 0 and g < 0], "n": end[3]})
    return pd.DataFrame(rows)


def late_learning(runs: Iterable[Result], layer: int = 1, split: str = "test") -> dict:
    """DFA's runs from the peak of readout `layer` to the end: change in that readout's accuracy
    and in the network's accuracy (paired per run, means with 95% intervals)."""
    dfa = [r for r in runs if r.config.rule == "dfa"]
    d_readout, d_network = [], []
    for r in dfa:
        acc = r.history[f"{split}/readout_accuracy/{layer}"]
        peak = max(range(len(acc)), key=acc.__getitem__)
        d_readout.append(acc[-1] - acc[peak])
        d_network.append(r.history[f"{split}/accuracy"][-1] - r.history[f"{split}/accuracy"][peak])
    return {"readout": interval(d_readout), "network": interval(d_network), "n": len(dfa)}


def interval_text(values: Iterable[float], digits: int = 2, scale: float = 1.0) -> str:
    """'mean [low, high]': the mean over seeds with its 95% Student-t interval, for prose."""
    mean, low, high, _ = interval(values)
    return f"{scale * mean:.{digits}f} [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def after_peak(runs: Iterable[Result], metrics: dict[str, str], layers: Iterable[int], split: str = "train",
               peak: str = "{split}/readout_accuracy/{i}") -> pd.DataFrame:
    """Per (rule, layer, metric): the value at the step where each run's `peak` metric is highest,
    the value at the end, and the change between them, paired per run (mean, 95% interval).

    metrics: column label -> history name with `{split}` and `{i}`, e.g. "{split}/readout_margin/{i}".
    `peak_step`: the middle one of the runs' peak steps (the median for an odd number of runs).
    """
    runs = list(runs)
    out = []
    for rule in sorted({r.config.rule for r in runs}):
        group = [r for r in runs if r.config.rule == rule]
        for i in layers:
            where = [max(range(len(h)), key=h.__getitem__)
                     for h in (r.history[peak.format(split=split, i=i)] for r in group)]
            steps = sorted(r.history["step"][k] for r, k in zip(group, where))
            for label, pattern in metrics.items():
                name = pattern.format(split=split, i=i)
                at = [r.history[name][k] for r, k in zip(group, where)]
                end = [r.history[name][-1] for r in group]
                mean, low, high, n = interval(e - a for e, a in zip(end, at))
                out.append({"rule": rule, "layer": i, "metric": label, "peak_step": steps[len(steps) // 2],
                            "at_peak": sum(at) / len(at), "end": sum(end) / len(end), "change": mean,
                            "change_low": low, "change_high": high, "n": n})
    return pd.DataFrame(out)
