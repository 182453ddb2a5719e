"""How close is each rule's update to the backprop gradient? A description of the Figure-1 runs,
not a registered claim: the comparisons here are uncorrected and decide no verdict.

On a fixed probe batch of training images, at every record step, the library measures the angle
between each rule's update of W^i and the gradient (`probe/update_angle/i`), and the other rule's
update at the same weights (`probe/dfa_update_angle/i`, `probe/lafs_update_angle/i`).
"""

from __future__ import annotations

import pandas as pd

from .. import fmt, stats
from .runs import mean_band
from .tables import stored_runs

LAYERS = (1, 2, 3)
# (update measured, at whose weights) -> (the runs it is read from, the recorded metric)
CURVES = {("DFA", "DFA"): ("dfa", "probe/update_angle/{i}"), ("LAFS", "LAFS"): ("lafs", "probe/update_angle/{i}"),
          ("LAFS", "DFA"): ("dfa", "probe/lafs_update_angle/{i}"), ("DFA", "LAFS"): ("lafs", "probe/dfa_update_angle/{i}")}


def at(rule: str, name: str, k: int = -1) -> list[float]:
    """The metric `name` of each run of `rule` at record k (default: the last, the end of training)."""
    return [r.history[name][k] for r in stored_runs("figure1", rule=rule)]


def start(rule: str) -> stats.Interval:
    """Each run's angle at step 0, averaged over the hidden layers: one value per seed."""
    per_layer = [at(rule, f"probe/update_angle/{i}", 0) for i in LAYERS]
    return stats.interval([sum(v) / len(LAYERS) for v in zip(*per_layer)])


def first_below(rule: str, threshold: float) -> int:
    """The first record step at which the mean over seeds is below `threshold` in every hidden layer."""
    runs = stored_runs("figure1", rule=rule)
    means = [mean_band(runs, f"probe/update_angle/{i}").mean for i in LAYERS]
    return next(s for k, s in enumerate(runs[0].history["step"]) if all(m[k] < threshold for m in means))


def end_table() -> pd.DataFrame:
    """The angle to the gradient at the end of training, per update and layer (mean [95%])."""
    return pd.DataFrame([{"update": f"{u} update at {w}'s weights", **{
        f"layer {i} (degrees)": fmt.deg(*_iv(at(rule, pattern.format(i=i)))) for i in LAYERS}}
        for (u, w), (rule, pattern) in CURVES.items()])


def closest_table() -> pd.DataFrame:
    """The closest approach: the record step after initialization where the mean over seeds is
    smallest, and the angle there (picked after looking, so its interval is optimistic)."""
    rows = []
    for (u, w), (rule, pattern) in CURVES.items():
        runs = stored_runs("figure1", rule=rule)
        for i in LAYERS:
            k = 1 + int(mean_band(runs, pattern.format(i=i)).mean[1:].argmin())
            rows.append({"update": f"{u} update at {w}'s weights", "layer": i,
                         "closest (degrees)": fmt.deg(*_iv(at(rule, pattern.format(i=i), k))),
                         "at step": f"{runs[0].history['step'][k]:,}"})
    return pd.DataFrame(rows)


def comparisons() -> dict[int, dict[str, stats.Test]]:
    """Per layer, DFA's update minus LAFS's at the end: each at its own weights (Welch, independent
    runs), at DFA's weights and at LAFS's (paired within each run)."""
    out = {}
    for i in LAYERS:
        own = f"probe/update_angle/{i}"
        out[i] = {"each at its own weights": stats.welch(at("dfa", own), at("lafs", own)),
                  "at DFA's weights": stats.paired(at("dfa", own), at("dfa", f"probe/lafs_update_angle/{i}")),
                  "at LAFS's weights": stats.paired(at("lafs", f"probe/dfa_update_angle/{i}"), at("lafs", own))}
    return out


def comparisons_table() -> pd.DataFrame:
    return pd.DataFrame([{"layer": i, **{f"{where} (degrees)": fmt.deg(t.diff, t.low, t.high, sign=True)
                                         for where, t in c.items()}} for i, c in comparisons().items()])


def summary(threshold: float) -> str:
    """The chapter's findings in Markdown (descriptive; no verdict)."""
    run = stored_runs("figure1", rule="dfa")[0]
    spe = run.history["step"][-1] // run.config.epochs
    ends = {u: [_iv(at(rule, pattern.format(i=i)))[0] for i in LAYERS]
            for (u, w), (rule, pattern) in CURVES.items() if u == w}
    return "\n".join([
        f"- Both rules' hidden-layer updates start orthogonal to the gradient (DFA {fmt.deg(*_iv_obj(start('dfa')))}, "
        f"LAFS {fmt.deg(*_iv_obj(start('lafs')))}, averaged over the layers): the random $B^i$ know nothing of the "
        f"forward weights. The mean angle first falls below {threshold:g}° in every hidden layer at "
        f"{fmt.steps(first_below('dfa', threshold), spe)} for DFA and {fmt.steps(first_below('lafs', threshold), spe)} "
        f"for LAFS.",
        f"- At the end of training DFA's update is between {fmt.deg(min(ends['DFA']))} and {fmt.deg(max(ends['DFA']))} "
        f"from the gradient across the hidden layers, LAFS's between {fmt.deg(min(ends['LAFS']))} and "
        f"{fmt.deg(max(ends['LAFS']))} (means over seeds; intervals in the tables).",
        "- These comparisons describe the runs; they are uncorrected and outside the registered claims."])


def _iv(values) -> tuple[float, float, float]:
    return _iv_obj(stats.interval(values))


def _iv_obj(i: stats.Interval) -> tuple[float, float, float]:
    return i.mean, i.low, i.high
