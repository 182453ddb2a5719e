"""Figure 1's claims about DFA: its readouts are accurate (row 1) and e^i and e^y stay aligned
throughout training (row 2). Each as first written and as amended.

The runs: sweeps/figure1.yaml (3 x 800 tanh, lr 0.1, 20 epochs, 5 seeds) and the same seeds
continued to 100 epochs at the constant rate (sweeps/long.yaml, seeds 0-2). Measures are read
on the held-out test subset at the registered reading points (`READING`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import fmt
from ..results import Result
from ..stats import all_of, any_of, interval, paired
from . import Combined, Evidence, Rule, corrected
from .tables import stored_runs

LAYERS = (1, 2, 3)
READING = ("init", "epoch 1", "epoch 20", "epoch 100")


def dfa_runs(point: str = "epoch 20") -> list[Result]:
    """DFA's runs that a reading point is read from: the Figure-1 runs, or the 100-epoch runs."""
    if point == "epoch 100":
        return stored_runs("long", rule="dfa", lr_schedule="constant")
    return stored_runs("figure1", rule="dfa")


def record_index(run: Result, point: str) -> int:
    """The record of a reading point: step 0, the record nearest one epoch (log scale), or the last."""
    steps = run.history["step"]
    if point == "init":
        return 0
    if point == "epoch 1":
        epoch = steps[-1] / run.config.epochs
        return min(range(1, len(steps)), key=lambda k: abs(math.log(steps[k] / epoch)))
    return len(steps) - 1


def values(name: str, point: str) -> list[float]:
    """history[name] at a reading point, one value per DFA run (seed order)."""
    return [r.history[name][record_index(r, point)] for r in dfa_runs(point)]


def step_of(point: str) -> str:
    run = dfa_runs(point)[0]
    return fmt.steps(run.history["step"][record_index(run, point)], run.history["step"][-1] // run.config.epochs)


def _pattern(flags: dict[str, bool]) -> str:
    return ", ".join(f"{point}: {'yes' if ok else 'no'}" for point, ok in flags.items())


def _prefix(flags: dict[str, bool]) -> tuple[str, dict] | None:
    """("holds", {}) if every flag is true; ("holds_early", until/since) if they are true up to a
    point and false after it; ("not_supported", {}) if none is; None for any other pattern."""
    seq = list(flags.values())
    if all(seq):
        return "holds", {}
    if not any(seq):
        return "not_supported", {}
    k = seq.index(False)
    if seq[0] and not any(seq[k:]):
        points = list(flags)
        return "holds_early", {"until": points[k - 1], "since": points[k]}
    return None


# --- row 1: the readouts ---------------------------------------------------------------------

def readout_table(points=("epoch 1", "epoch 20", "epoch 100")) -> pd.DataFrame:
    """Per reading point and layer: readout, control readout and linear classifier (mean [95%])."""
    rows = []
    for point in points:
        for i in LAYERS:
            rows.append({"reading point": point, "layer": i, **{
                who: fmt.pct(*_iv(values(name, point))) for who, name in
                (("readout through B^i", f"test/readout_accuracy/{i}"),
                 ("control readout", f"test/readout_accuracy_control/{i}"),
                 ("linear classifier", "test/linear_accuracy"))}})
    return pd.DataFrame(rows)


def _iv(x):
    i = interval(x)
    return i.mean, i.low, i.high


def readouts_v1(rule: Rule) -> Evidence:
    runs, drop = dfa_runs(), rule.spec["thresholds"]["drop"]
    peak = [np.mean([max(r.history[f"test/readout_accuracy/{i}"]) for r in runs]) for i in LAYERS]
    end = [interval(values(f"test/readout_accuracy/{i}", "epoch 20")) for i in LAYERS]
    control = [interval(values(f"test/readout_accuracy_control/{i}", "epoch 20")) for i in LAYERS]
    linear = interval(values("test/linear_accuracy", "epoch 20")).mean
    declines = any(p - e.mean > drop for p, e in zip(peak, end))
    above = all(e.low > c.high for e, c in zip(end, control))
    below = any(p < linear for p in peak)
    key = ("holds_early" if declines else "holds") + ("_control_below_linear" if above and below else
                                                     "_control" if above else "_no_control")
    number = "; ".join(f"layer {i}: peak {fmt.pct(p)}, end {fmt.pct(e.mean)}" for i, p, e in zip(LAYERS, peak, end))
    return Evidence(lambda _: (key, {}), number=number)


def readouts(rule: Rule) -> Evidence:
    points = ("epoch 1", "epoch 20", "epoch 100")
    tests = {}
    for point in points:
        readout = {i: values(f"test/readout_accuracy/{i}", point) for i in LAYERS}
        control = [paired(readout[i], values(f"test/readout_accuracy_control/{i}", point), alternative="greater")
                   for i in LAYERS]
        linear = [paired(readout[i], values("test/linear_accuracy", point), alternative="less") for i in LAYERS]
        tests[f"above control at {point}"] = Combined(all_of(control), tuple(control), "all")
        tests[f"below linear at {point}"] = Combined(any_of(linear), tuple(linear), "any")

    def decide(d):
        above = {p: d[f"above control at {p}"].reject for p in points}
        below = {p: d[f"below linear at {p}"].reject for p in points}
        if not above["epoch 20"]:
            return "not_supported", {}
        if all(above.values()) and not any(below.values()):
            return "holds", {}
        if all(above.values()) and below["epoch 1"]:
            return "informative_only", {}
        if all(above.values()):
            since = next(p for p in points if below[p])
            return "holds_early", {"until": points[points.index(since) - 1][6:], "since": since[6:]}
        return "undecided", {"pattern": "above control: " + _pattern(above) + "; below linear: " + _pattern(below)}

    number = "; ".join(f"layer {i} at epoch 20: {fmt.pct(*_iv(values(f'test/readout_accuracy/{i}', 'epoch 20')))}"
                       for i in LAYERS)
    linear = fmt.pct(*_iv(values("test/linear_accuracy", "epoch 20")))
    def headline(d):
        ro, lin = (interval(values(n, "epoch 20")).mean for n in ("test/readout_accuracy/1", "test/linear_accuracy"))
        return (f"At epoch 20 layer 1's readout is {fmt.pct(ro)} accurate, {fmt.pp(*corrected(d['below linear at epoch 20'], 0))} "
                f"from a linear classifier on pixels ({fmt.pct(lin)}).")
    return Evidence(decide, tests, number + f"; linear classifier {linear}", readout_table(points), headline)


# --- row 2: the alignment of e^i with e^y ----------------------------------------------------------

def _gaps(point: str, i: int) -> tuple[list[float], list[float]]:
    return values(f"test/angle_centered/{i}", point), values("test/angle_linear_centered", point)


def alignment_v1(rule: Rule) -> Evidence:
    runs = dfa_runs()
    steps = runs[0].history["step"]
    ever, end_high = [], []
    for i in LAYERS:
        gap = np.array([[a - b for a, b in zip(r.history[f"test/angle_centered/{i}"],
                                              r.history["test/angle_linear_centered"])] for r in runs])
        ever.append(any(s > 0 and g < 0 for s, g in zip(steps, gap.mean(axis=0))))
        end_high.append(interval(gap[:, -1]).high)
    key = ("holds" if all(h < 0 for h in end_high) else "holds_early" if all(ever) else
           "holds_early_some" if any(ever) else "not_supported")
    return Evidence(lambda _: (key, {}), number=alignment_number())


def alignment_number() -> str:
    return "; ".join(f"layer {i} at epoch 20: {fmt.deg(*_iv(_gaps('epoch 20', i)[0]))} vs linear classifier "
                     f"{fmt.deg(*_iv(_gaps('epoch 20', i)[1]))}" for i in LAYERS)


def alignment(rule: Rule) -> Evidence:
    tests = {}
    for point in READING:
        parts = tuple(paired(*_gaps(point, i), alternative="less") for i in LAYERS)
        tests[f"closer than linear at {point}"] = Combined(all_of(parts), parts, "all")
    rows = [{"reading point": p, "step": step_of(p), "layer": i, "centred angle e^y vs e^i": fmt.deg(*_iv(a)),
             "linear classifier": fmt.deg(*_iv(b))} for p in READING for i in LAYERS for a, b in [_gaps(p, i)]]

    def decide(d):
        flags = {p: d[f"closer than linear at {p}"].reject for p in READING}
        found = _prefix(flags)
        if found is None:
            return "undecided", {"pattern": _pattern(flags)}
        key, details = found
        return key, {k: f"{v} ({step_of(v)})" for k, v in details.items()}

    def headline(d):
        a, b = _gaps("epoch 20", 1)
        return (f"At epoch 20 layer 1's centred angle to $e^y$ is {fmt.deg(interval(a).mean)}, "
                f"{fmt.deg(*corrected(d['closer than linear at epoch 20'], 0), sign=True)} from an unrelated linear "
                f"classifier's ({fmt.deg(interval(b).mean)}).")
    return Evidence(decide, tests, alignment_number(), pd.DataFrame(rows), headline)
