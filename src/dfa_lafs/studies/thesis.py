"""Row 3: does DFA "perform like a noisy version of LAFS"?

If DFA's update were LAFS's plus zero-mean noise, the angle between the two updates (at the same
weights) would shrink as the batch they are computed on grows, towards zero on the whole
training set. The Figure-1 runs measure it at 5 log-spaced steps (0, 11, 116, 1,745 and 18,760)
on batches of 64, 512, 4096 and all 60,000 training examples (`probes.noise_angles`), and on the
fixed probe batch at every record step (`probe/dfa_vs_lafs_update/i`).
"""

from __future__ import annotations

import math

import pandas as pd

from .. import fmt
from ..probes import NOISE_BATCHES
from ..stats import all_of, any_of, interval, one_sample, paired
from . import Combined, Evidence, Rule, corrected
from .tables import stored_runs

LAYERS = (1, 2, 3)
SIZES = (*(str(s) for s in NOISE_BATCHES), "all")


def noise_table(rule: str = "dfa") -> pd.DataFrame:
    """One row per (run, measured step, layer, batch size): the DFA-vs-LAFS update angle at the
    weights of `rule`'s runs."""
    rows = []
    for r in stored_runs("figure1", rule=rule):
        for i in LAYERS:
            for size in SIZES:
                measured = r.history.get(f"noise/dfa_vs_lafs_update/{size}/{i}", [])
                for step, value in zip(r.history["step"], measured):
                    if not math.isnan(value):
                        rows.append({"rule": rule, "seed": r.config.seed, "step": step, "layer": i, "batch": size,
                                     "angle": value})
    return pd.DataFrame(rows)


def noise_summary(rule: str = "dfa") -> pd.DataFrame:
    """Mean angle over seeds with its 95% interval, per (step, layer, batch size)."""
    out = []
    for (step, layer, batch), g in noise_table(rule).groupby(["step", "layer", "batch"], sort=False):
        i = interval(g["angle"])
        out.append({"rule": rule, "step": step, "layer": layer, "batch": batch, "mean": i.mean, "low": i.low,
                    "high": i.high, "n": i.n})
    df = pd.DataFrame(out)
    df["batch"] = pd.Categorical(df["batch"], categories=SIZES, ordered=True)
    return df.sort_values(["layer", "step", "batch"]).reset_index(drop=True)


def whole_set(step: int, layer: int, batch: str = "all", rule: str = "dfa") -> list[float]:
    """The angle at one measured step on `batch` examples, one value per seed (seed order)."""
    t = noise_table(rule)
    return t[(t["step"] == step) & (t["layer"] == layer) & (t["batch"] == batch)].sort_values("seed")["angle"].tolist()


def measured_steps(rule: str = "dfa") -> list[int]:
    return sorted(noise_table(rule)["step"].unique().tolist())


def averaging_table(rule: str = "dfa") -> pd.DataFrame:
    """Per measured step and layer: the angle on batches of 64 and on all examples, and the
    paired difference (all - 64): noise would make it clearly negative."""
    rows = []
    for step in measured_steps(rule):
        for i in LAYERS:
            small, whole = whole_set(step, i, "64", rule), whole_set(step, i, "all", rule)
            d = paired(whole, small)
            rows.append({"step": step, "layer": i, "batch of 64": fmt.deg(interval(small).mean),
                         "all 60,000": fmt.deg(*_iv(whole)), "all − 64": fmt.deg(d.diff, d.low, d.high, sign=True)})
    return pd.DataFrame(rows)


def update_angle_over_training(threshold: float = 45.0) -> pd.DataFrame:
    """Per layer, on the probe batch during DFA training: the mean angle between the DFA and the
    LAFS update at initialization, and the first record step at which the mean exceeds `threshold`."""
    runs = stored_runs("figure1", rule="dfa")
    steps = runs[0].history["step"]
    rows = []
    for i in LAYERS:
        mean = [sum(r.history[f"probe/dfa_vs_lafs_update/{i}"][k] for r in runs) / len(runs) for k in range(len(steps))]
        above = next((s for s, m in zip(steps, mean) if m > threshold), None)
        rows.append({"layer": i, "at initialization": fmt.deg(*_iv(_probe(i, 0))),
                     f"first step above {threshold:g}°": above, "at epoch 20": fmt.deg(*_iv(_probe(i, -1)))})
    return pd.DataFrame(rows)


def _iv(x):
    i = interval(x)
    return i.mean, i.low, i.high


def _probe(i: int, at: int) -> list[float]:
    return [r.history[f"probe/dfa_vs_lafs_update/{i}"][at] for r in stored_runs("figure1", rule="dfa")]


def thesis_v1(rule: Rule) -> Evidence:
    th = rule.spec["thresholds"]
    last = measured_steps()[-1]
    early = interval(_probe(1, 0)).mean < th["early"]
    late = interval(_probe(1, -1)).low > th["late_probe"] and interval(whole_set(last, 1)).low > th["late_whole"]
    key = "holds_early" if early and late else "holds" if early else "not_supported"
    end = interval(_probe(1, -1))
    return Evidence(lambda _: (key, {}), number=f"layer 1: step 0 {fmt.deg(interval(_probe(1, 0)).mean)}; end "
                                                  f"{fmt.deg(end.mean, end.low, end.high)} (probe batch)")


def thesis_v2(rule: Rule) -> Evidence:
    th = rule.spec["thresholds"]
    last = measured_steps()[-1]
    early = all(interval(_probe(i, 0)).mean < th["early"] for i in LAYERS)
    late = all(a > th["late_whole"] for i in LAYERS for a in whole_set(last, i))
    key = "holds_early" if early and late else "holds" if early else "not_supported"
    low = min(a for i in LAYERS for a in whole_set(last, i))
    return Evidence(lambda _: (key, {}), number=f"smallest whole-set angle at the end: {fmt.deg(low)}")


def thesis(rule: Rule) -> Evidence:
    threshold = rule.spec["thresholds"]["angle"]
    steps = measured_steps()
    tests = {}
    for step in steps:
        below = tuple(one_sample(whole_set(step, i), threshold, alternative="less") for i in LAYERS)
        above = tuple(one_sample(whole_set(step, i), threshold, alternative="greater") for i in LAYERS)
        tests[f"agree at step {step}"] = Combined(all_of(below), below, "all")
        tests[f"differ at step {step}"] = Combined(any_of(above), above, "any")
    run = stored_runs("figure1", rule="dfa")[0]
    spe = run.history["step"][-1] // run.config.epochs

    def decide(d):
        agree = [d[f"agree at step {s}"].reject for s in steps]
        differ = [d[f"differ at step {s}"].reject for s in steps]
        pattern = "; ".join(f"{fmt.steps(s, spe)}: {'agree' if a else 'differ' if b else 'neither'}"
                            for s, a, b in zip(steps, agree, differ))
        if all(agree):
            return "holds", {}
        if not any(agree):
            return ("not_supported", {}) if any(differ) else ("undecided", {"pattern": pattern})
        k = agree.index(False)
        if agree[0] and not any(agree[k:]) and all(differ[k:]):
            return "holds_early", {"until": fmt.steps(steps[k - 1], spe), "since": fmt.steps(steps[k], spe)}
        return "undecided", {"pattern": pattern}

    rows = [{"step": s, "layer": i, "whole-set angle": fmt.deg(*_iv(whole_set(s, i)))} for s in steps for i in LAYERS]
    number = "whole-set angle at the end: " + ", ".join(
        f"layer {i} {fmt.deg(*_iv(whole_set(steps[-1], i)))}" for i in LAYERS)
    def headline(d):
        start, end = (corrected(d[f"agree at step {steps[0]}"], 0), corrected(d[f"differ at step {steps[-1]}"], 0))
        return (f"On all 60,000 training examples layer 1's two updates are {fmt.deg(*(x + threshold for x in start))} "
                f"apart at initialization and {fmt.deg(*(x + threshold for x in end))} at epoch 20.")
    return Evidence(decide, tests, number, pd.DataFrame(rows), headline)
