"""Late in training: is alignment what lets DFA train (row 4), and are Figure 1's twenty epochs
long enough to read its curves (row 9, the book's own question)?

The 100-epoch runs (sweeps/long.yaml, DFA and LAFS, constant rate and cosine decay, seeds 0-2)
continue the Figure-1 runs: with the same seed they are identical up to epoch 20, so each
seed's 20-epoch run and 100-epoch run can be compared pairwise.
"""

from __future__ import annotations

import pandas as pd

from .. import fmt
from ..stats import any_of, interval, paired
from . import Combined, Evidence, Rule, corrected
from .figure1 import dfa_runs, record_index, values
from .tables import stored_runs

LAYERS = (1, 2, 3)
QUANTITIES = {**{f"readout {i}": f"test/readout_accuracy/{i}" for i in LAYERS}, "network accuracy": "test/accuracy"}


def long_runs(rule: str = "dfa", schedule: str = "constant"):
    return stored_runs("long", rule=rule, lr_schedule=schedule)


def after_epoch(rule: str = "dfa", schedule: str = "constant", epoch: float = 20) -> pd.DataFrame:
    """Per quantity: the change from the first record at or after `epoch` to the end, paired per
    100-epoch run (mean, 95% interval), with its direction in words (uncorrected)."""
    runs = long_runs(rule, schedule)
    rows = []
    for label, name in QUANTITIES.items():
        start = [next(k for k, e in enumerate(r.history["epoch"]) if e >= epoch) for r in runs]
        d = paired([r.history[name][-1] for r in runs], [r.history[name][k] for r, k in zip(runs, start)])
        rows.append({"rule": rule, "schedule": schedule, "quantity": label,
                     "from epoch": min(runs[0].history["epoch"][k] for k in start), "change": d.diff,
                     "low": d.low, "high": d.high, "n": d.n[0],
                     "trend": "falls" if d.high < 0 else "rises" if d.low > 0 else "no detectable change"})
    return pd.DataFrame(rows)


def long_training_v1(rule: Rule) -> Evidence:
    moved = after_epoch()
    moving = [f"{r.quantity} {r.trend} ({fmt.pp(r.change, r.low, r.high)})" for r in moved.itertuples()
              if r.trend != "no detectable change"]
    key = "not_long_enough" if moving else "long_enough"
    details = {"start": f"{moved['from epoch'].min():.0f}", "moving": "; ".join(moving)}
    return Evidence(lambda _: (key, details), number="; ".join(moving), table=moved)


def paired_by_seed(name: str, rule: str = "dfa") -> tuple[list[float], list[float]]:
    """(epoch 20, epoch 100) per seed: the Figure-1 run's last record (or full-test accuracy) and
    the same seed's 100-epoch run's."""
    long = long_runs(rule)
    short = {r.config.seed: r for r in stored_runs("figure1", rule=rule)}
    read = (lambda r: r.final["test/accuracy"]) if name == "test/accuracy" else (lambda r: r.history[name][-1])
    return [read(short[r.config.seed]) for r in long], [read(r) for r in long]


def long_training(rule: Rule) -> Evidence:
    parts = tuple(paired(*reversed(paired_by_seed(name))) for name in QUANTITIES.values())
    labels = [q if q != "network accuracy" else "the network's accuracy on the full test set" for q in QUANTITIES]

    def decide(d):
        dec = d["some quantity changes"]
        if not dec.reject:
            return "no_change", {}
        moved = [f"{label} {'falls' if t.diff < 0 else 'rises'} ({fmt.pp(t.diff, t.low, t.high)})"
                 for label, t in zip(labels, parts) if t.p <= dec.level / len(parts)]
        return "not_long_enough", {"moving": "; ".join(moved)}

    table = pd.DataFrame([{"quantity": label, "epoch 20": fmt.pct(interval(a).mean),
                           "epoch 100": fmt.pct(interval(b).mean), "change (paired by seed)": fmt.pp(t.diff, t.low, t.high),
                           "n": t.n[0]} for label, (a, b), t in
                          zip(labels, (paired_by_seed(n) for n in QUANTITIES.values()), parts)])
    def headline(d):
        dec = d["some quantity changes"]
        return f"Readout 1 changes by {fmt.pp(*corrected(dec, 0))} from epoch 20 to 100 (n = {parts[0].n[0]})."

    return Evidence(decide, {"some quantity changes": Combined(any_of(parts), parts, "any")},
                    "; ".join(f"{label} {fmt.pp(t.diff, t.low, t.high)}" for label, t in zip(labels, parts)), table,
                    headline)


def after_peak(metrics: dict[str, str], rule: str = "dfa", split: str = "train") -> pd.DataFrame:
    """Figure-1 runs, per layer and metric: the value where each run's readout of that layer peaks,
    the value at the end (epoch 20), and the change between them paired per run (mean, 95%).

    metrics: label -> history name with `{split}` and `{i}` (or without `{i}`: one per run).
    `peak step`: the middle one of the runs' peak steps.
    """
    runs = stored_runs("figure1", rule=rule)
    out = []
    for i in LAYERS:
        where = [max(range(len(h)), key=h.__getitem__) for h in
                 (r.history[f"{split}/readout_accuracy/{i}"] for r in runs)]
        steps = sorted(r.history["step"][k] for r, k in zip(runs, where))
        for label, pattern in metrics.items():
            name = pattern.format(split=split, i=i)
            at = [r.history[name][k] for r, k in zip(runs, where)]
            d = paired([r.history[name][-1] for r in runs], at)
            out.append({"layer": i, "metric": label, "peak step": steps[len(steps) // 2], "at peak": sum(at) / len(at),
                        "end": sum(at) / len(at) + d.diff, "change": d.diff, "low": d.low, "high": d.high})
    return pd.DataFrame(out)


# --- row 4: is alignment the condition for training? ---------------------------------------------

def condition_v1(rule: Rule) -> Evidence:
    d_readout, d_network = [], []
    for r in dfa_runs():
        acc = r.history["test/readout_accuracy/1"]
        peak = max(range(len(acc)), key=acc.__getitem__)
        d_readout.append(acc[-1] - acc[peak])
        d_network.append(r.history["test/accuracy"][-1] - r.history["test/accuracy"][peak])
    ro, net = interval(d_readout), interval(d_network)
    key = "not_supported_late" if ro.high < 0 and net.low > 0 else "open"
    return Evidence(lambda _: (key, {}), number=f"readout 1 {fmt.pp(ro.mean, ro.low, ro.high)}; network "
                                                  f"{fmt.pp(net.mean, net.low, net.high)} (from each run's peak)")


def _change(name: str, start: str, end: str) -> tuple[list[float], list[float]]:
    """(values at start, values at end), paired by seed: the 100-epoch runs continue the
    Figure-1 runs of the same seeds, so epoch 20 is read from the Figure-1 runs."""
    if end == "epoch 100":
        seeds = [r.config.seed for r in dfa_runs(end)]
        first = {r.config.seed: r.history[name][record_index(r, start)] for r in dfa_runs(start)}
        return [first[s] for s in seeds], values(name, end)
    return values(name, start), values(name, end)


def condition(rule: Rule) -> Evidence:
    stretches = (("epoch 1", "epoch 20"), ("epoch 20", "epoch 100"))
    tests, rows = {}, []
    for start, end in stretches:
        net = paired(*reversed(_change("test/accuracy", start, end)), alternative="greater")
        falls = tuple(paired(*reversed(_change(f"test/readout_accuracy/{i}", start, end)), alternative="less")
                      for i in LAYERS)
        tests[f"improves while a readout falls, {start} to {end}"] = Combined(max(net.p, any_of(falls)),
                                                                             (net, *falls), "all")
        rows += [{"from": start, "to": end, "quantity": q, "change": fmt.pp(t.diff, t.low, t.high), "n": t.n[0]}
                 for q, t in zip(["network accuracy", *(f"readout {i}" for i in LAYERS)], (net, *falls))]

    def decide(d):
        for start, end in stretches:
            dec = d[f"improves while a readout falls, {start} to {end}"]
            if dec.reject:
                fell = [f"layer {i}" for i, t in zip(LAYERS, dec.test.parts[1:]) if t.p <= dec.level / len(LAYERS)]
                return "not_supported", {"since": start[6:], "until": end[6:], "layers": fmt.listing(fell)}
        return "not_refuted", {}

    net = paired(*reversed(_change("test/accuracy", "epoch 1", "epoch 20")))
    ro = paired(*reversed(_change("test/readout_accuracy/1", "epoch 1", "epoch 20")))
    number = (f"epoch 1 to 20: network {fmt.pp(net.diff, net.low, net.high)}, readout 1 "
              f"{fmt.pp(ro.diff, ro.low, ro.high)}")
    def headline(d):
        dec = d["improves while a readout falls, epoch 1 to epoch 20"]
        return (f"From epoch 1 to 20 the network's accuracy changes by {fmt.pp(*corrected(dec, 0))}, layer 1's "
                f"readout by {fmt.pp(*corrected(dec, 1))}.")
    return Evidence(decide, tests, number, pd.DataFrame(rows), headline)


DIAGNOSTICS = {"readout accuracy": "{split}/readout_accuracy/{i}", "readout margin": "{split}/readout_margin/{i}",
               "mean f'": "{split}/mean_fprime/{i}", "norm of h^i": "{split}/hidden_norm/{i}",
               "norm of W^i": "probe/weight_norm/{i}", "network accuracy": "{split}/accuracy"}


def after_peak_table() -> pd.DataFrame:
    """`after_peak` of DFA's diagnostics as the chapter shows it: per layer (and its median peak
    step), the change of each diagnostic from the readout's peak to the end (mean [95%])."""
    late = after_peak(DIAGNOSTICS)
    late["change"] = [fmt.with_interval(c, lo, hi, 3, sign=True) for c, lo, hi in zip(late["change"], late["low"], late["high"])]
    return late.pivot(index=["layer", "peak step"], columns="metric", values="change")[list(DIAGNOSTICS)].reset_index()
