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


def trend(low: float, high: float, falls: str = "falls", rises: str = "rises") -> str:
    """A change in words from its 95% interval: `falls` or `rises` when the interval excludes 0."""
    return falls if high < 0 else rises if low > 0 else "no detectable change"


def after_epoch(runs: Iterable[Result], metrics: dict[str, str], layers: Iterable[int], epoch: float = 20,
                split: str = "test", by: tuple[str, ...] = ("rule", "lr_schedule")) -> pd.DataFrame:
    """Per group of runs (`by`), layer and metric: the value at the first record at or after `epoch`,
    the value at the end, and the change between them, paired per run (mean, 95% interval), with
    the change in words (`trend`). Answers "did anything still move after `epoch` epochs?".

    metrics: label -> history name with `{split}` and `{i}` (a name without `{i}` is the same for
    every layer, e.g. "{split}/accuracy", and gets one row with layer 0).
    """
    runs = list(runs)
    keys = sorted({tuple(getattr(r.config, f) for f in by) for r in runs})
    out = []
    for key in keys:
        group = [r for r in runs if tuple(getattr(r.config, f) for f in by) == key]
        for label, pattern in metrics.items():
            for i in (layers if "{i}" in pattern else (0,)):
                name = pattern.format(split=split, i=i)
                start, at, end = [], [], []
                for r in group:
                    k = next((k for k, e in enumerate(r.history["epoch"]) if e >= epoch), None)
                    if k is None:
                        raise ValueError(f"a run of {r.config.epochs} epochs has no record at or after epoch {epoch}")
                    start.append(r.history["epoch"][k])
                    at.append(r.history[name][k])
                    end.append(r.history[name][-1])
                mean, low, high, n = interval(e - a for e, a in zip(end, at))
                out.append({**dict(zip(by, key)), "layer": i, "metric": label, "from_epoch": min(start),
                            "to_epoch": max(r.history["epoch"][-1] for r in group), "at_start": sum(at) / n,
                            "end": sum(end) / n, "change": mean, "change_low": low, "change_high": high, "n": n,
                            "trend": trend(low, high)})
    return pd.DataFrame(out)


# The robustness sweep varies one field at a time away from these values (sweeps/robustness.yaml).
ROBUSTNESS_DEFAULTS = {"lr": 0.1, "feedback_scale": 1.0, "init_scale": 1.0, "activation": "tanh", "dataset": "mnist"}


def robustness_runs(results: Iterable[Result], factor: str) -> pd.DataFrame:
    """One row per run of the study of `factor` (a key of ROBUSTNESS_DEFAULTS): the runs whose other
    fields are at their defaults, so the default value's row is the same runs in every study. A
    network without hidden layers is the linear baseline (rule "linear") of its data set.

    Columns: the factor's value, rule, dataset, seed, test and validation accuracy at the best
    epoch, convergence, and for networks with hidden layers, per layer i the readout accuracy and
    the angles to e^y at the best-validation weights on the test set (`angle_i` raw,
    `centred_i`, and their control-readout and linear-classifier twins).
    """
    if factor not in ROBUSTNESS_DEFAULTS:
        raise ValueError(f"unknown factor {factor!r}: choose one of {sorted(ROBUSTNESS_DEFAULTS)}")
    others = {k: v for k, v in ROBUSTNESS_DEFAULTS.items() if k != factor and k != "dataset"}
    rows = []
    for r in results:
        c = r.config
        linear = not c.hidden
        if linear:  # a linear baseline: one per data set, at the default learning rate
            if c.lr != ROBUSTNESS_DEFAULTS["lr"] or (factor != "dataset" and c.dataset != "mnist"):
                continue
        elif any(getattr(c, k) != v for k, v in others.items()) or (factor != "dataset" and c.dataset != "mnist"):
            continue
        f = r.final
        row = {factor: getattr(c, factor), "rule": "linear" if linear else c.rule, "dataset": c.dataset,
               "seed": c.seed, "test_accuracy": f["test/accuracy"], "val_accuracy": f["val/accuracy"],
               "best_epoch": f["best_epoch"], "hit_cap": bool(f["hit_cap"])}
        for i in range(1, len(c.hidden) + 1):
            row[f"readout_{i}"] = f[f"test/readout_accuracy/{i}"]
            row[f"readout_control_{i}"] = f[f"test/readout_accuracy_control/{i}"]
            for kind, suffix in (("angle", ""), ("centred", "_centered")):
                row[f"{kind}_{i}"] = f[f"test/angle{suffix}/{i}"]
                row[f"{kind}_control_{i}"] = f[f"test/angle{suffix}_control/{i}"]
        if c.hidden:  # the independent linear classifier's angles to e^y, one per run
            row["angle_linear"] = f["test/angle_linear"]
            row["centred_linear"] = f["test/angle_linear_centered"]
        rows.append(row)
    if not rows:
        raise ValueError(f"no run of the {factor} study among these results")
    return pd.DataFrame(rows)


def robustness_table(runs: pd.DataFrame, factor: str) -> pd.DataFrame:
    """Per (value of `factor`, rule): test accuracy (mean, 95% interval), its difference from the
    linear baseline of the same data set (Welch, 95% interval, in words), and convergence."""
    from .protocol import verdict, welch

    linear = {d: g["test_accuracy"] for d, g in runs[runs["rule"] == "linear"].groupby("dataset")}
    out = []
    for (value, rule, dataset), g in runs.groupby([factor, "rule", "dataset"], sort=True):
        if rule == "linear" and factor != "dataset":
            continue
        mean, low, high, n = interval(g["test_accuracy"])
        row = {factor: value, "rule": rule, "dataset": dataset, "n": n, "test_mean": mean, "test_low": low,
               "test_high": high, "median_best_epoch": g["best_epoch"].median(), "hit_cap": int(g["hit_cap"].sum())}
        if rule != "linear" and dataset in linear and len(linear[dataset]) >= 2 and n >= 2:
            c = welch(g["test_accuracy"], linear[dataset])
            row.update({"vs_linear": c["diff"], "vs_linear_low": c["low"], "vs_linear_high": c["high"],
                        "vs_linear_verdict": verdict(c)})
        out.append(row)
    return pd.DataFrame(out)


def robustness_angles(runs: pd.DataFrame, factor: str, layers: Iterable[int] = (1, 2, 3)) -> pd.DataFrame:
    """Per (value of `factor`, rule, layer) for DFA and LAFS: readout accuracy and the angles to e^y
    (raw and centred: readout, control readout, linear classifier; means over seeds), and the
    centred angle minus the linear classifier's, paired per run (mean, 95% interval)."""
    out = []
    for (value, rule), g in runs[runs["rule"].isin(["dfa", "lafs"])].groupby([factor, "rule"], sort=True):
        for i in layers:
            gap = interval(g[f"centred_{i}"] - g["centred_linear"])
            out.append({factor: value, "rule": rule, "layer": i, "n": len(g), "readout": g[f"readout_{i}"].mean(),
                        "readout_control": g[f"readout_control_{i}"].mean(), "raw": g[f"angle_{i}"].mean(),
                        "raw_control": g[f"angle_control_{i}"].mean(), "raw_linear": g["angle_linear"].mean(),
                        "centred": g[f"centred_{i}"].mean(), "centred_control": g[f"centred_control_{i}"].mean(),
                        "centred_linear": g["centred_linear"].mean(), "gap": gap[0], "gap_low": gap[1],
                        "gap_high": gap[2]})
    return pd.DataFrame(out)


def long_verdict(moved: pd.DataFrame, rule: str = "dfa", schedule: str = "constant") -> str:
    """Is Figure 1's length long enough to read its curves? From an `after_epoch` table with the
    metrics "readout accuracy" and "network accuracy": "long enough" when, for `rule` at `schedule`,
    neither a readout nor the network's accuracy changes detectably after the table's epoch (95%
    intervals of the paired change include 0); else "not long enough", naming what still moves."""
    rows = moved[(moved["rule"] == rule) & (moved["lr_schedule"] == schedule)]
    moving = []
    for r in rows[rows["metric"].isin(["readout accuracy", "network accuracy"])].itertuples():
        if r.trend != "no detectable change":
            what = f"readout {r.layer}" if r.metric == "readout accuracy" else "network accuracy"
            moving.append(f"{what} {r.trend} ({r.change:+.3f} [{r.change_low:+.3f}, {r.change_high:+.3f}])")
    after = f"from epoch {rows['from_epoch'].min():.0f} to {rows['to_epoch'].max():.0f}"
    if moving:
        return f"not long enough: {after}, {rule.upper()}'s " + "; ".join(moving)
    return f"long enough: {after} no readout of {rule.upper()} and not its accuracy changes detectably"


ROBUSTNESS_FACTORS = ("dataset", "activation", "feedback_scale", "lr", "init_scale")


def robustness_studies(points: Iterable, results: Iterable[Result]) -> dict[str, dict]:
    """How far each study of a robustness grid has got, and its runs at the values that are complete.

    points: the grid's points (`sweep.load_grid(...).points`); results: the fresh results stored so
    far. A value of a study is complete when every rule planned there has all its planned seeds
    and the study's linear baseline has all of its own. Per factor: {"values": every planned value,
    "complete": the complete ones, "measured": the complete ones other than the default (shared by
    every study), "done": runs stored, "planned": runs planned, "linear": whether
    the baseline is complete, "runs": `robustness_runs` restricted to the complete values}.
    """
    results = list(results)
    out = {}
    for factor in ROBUSTNESS_FACTORS:
        other = {k: v for k, v in ROBUSTNESS_DEFAULTS.items() if k != factor}
        plan, linear_plan = {}, 0
        for p in points:
            c = p.config
            if not c.hidden:
                linear_plan += c.lr == ROBUSTNESS_DEFAULTS["lr"] and (factor == "dataset" or c.dataset == "mnist")
            elif all(getattr(c, k) == v for k, v in other.items()):
                plan[getattr(c, factor), c.rule] = plan.get((getattr(c, factor), c.rule), 0) + 1
        try:
            runs = robustness_runs(results, factor)
        except ValueError:  # nothing of this study stored yet
            runs = pd.DataFrame(columns=list(dict.fromkeys([factor, "rule", "dataset", "seed"])))
        done = runs[runs["rule"] != "linear"].groupby([factor, "rule"]).size().to_dict()
        linear = linear_plan > 0 and int((runs["rule"] == "linear").sum()) >= linear_plan
        values = sorted({v for v, _ in plan}, key=lambda v: (isinstance(v, str), v))
        complete = [v for v in values if linear and
                    all(done.get((v, r), 0) >= n for (w, r), n in plan.items() if w == v)]
        keep = runs[factor].isin(complete) | ((runs["rule"] == "linear") & bool(complete))
        out[factor] = {"values": values, "complete": complete, "done": sum(done.values()),
                       "measured": [v for v in complete if v != ROBUSTNESS_DEFAULTS[factor]],
                       "planned": sum(plan.values()), "linear": linear, "runs": runs[keep].reset_index(drop=True)}
    return out


def robustness_beats(tables: dict[str, pd.DataFrame], rule: str) -> tuple[int, int]:
    """Over the complete values of every study (the default setting, shared by all studies, counted
    once): at how many settings `rule` beats the linear baseline (Welch interval above 0), of how many."""
    verdicts = {}
    for factor, table in tables.items():
        for _, r in table[table["rule"] == rule].iterrows():
            setting = tuple(sorted({**ROBUSTNESS_DEFAULTS, factor: r[factor]}.items()))
            verdicts[setting] = r.get("vs_linear_verdict")
    return sum(v == "beats" for v in verdicts.values()), len(verdicts)


def robustness_capped(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The (setting, rule) rows of the studies' tables in which some run was still improving at the
    epoch cap (not converged), each once: "sigmoid activation, DFA: 3 of 3 runs"."""
    rows = {}
    for factor, table in tables.items():
        for _, r in table[table["hit_cap"] > 0].iterrows():
            value = r[factor]
            name = "default setting" if value == ROBUSTNESS_DEFAULTS[factor] else f"{factor.replace('_', ' ')} {value}"
            rows[name, r["rule"]] = f"{name}, {'linear' if r['rule'] == 'linear' else r['rule'].upper()}: " \
                                    f"{r['hit_cap']} of {r['n']} runs"
    return list(rows.values())
