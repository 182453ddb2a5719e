"""Row 8 (the book's own question): do DFA and LAFS train beyond a linear model when one setting
changes at a time (learning rate, scale of B^i, scale of the initial W, activation, data set)?

The runs: sweeps/robustness.yaml at width 100 (3 x 100 tanh, lr 0.1, B scale 1, MNIST), one
field changed at a time, 3 seeds, the depth study's protocol; the linear model (softmax
regression) on each data set is the baseline. The default setting is shared by every study and
counted once. B scale 1 is far from LAFS's best at this width (see the open question's study).
"""

from __future__ import annotations

import pandas as pd

from .. import fmt
from ..config import RunConfig
from ..stats import interval, welch
from . import Evidence, Rule
from .tables import stored

FACTORS = ("dataset", "activation", "feedback_scale", "lr", "init_scale")
DEFAULTS = {f: getattr(RunConfig(), f) for f in FACTORS}  # the sweep changes one field away from these


def settings() -> pd.DataFrame:
    """One row per run: its setting (the factor changed, or "default"), rule, data set, seed, test
    and validation accuracy at the best epoch, convergence. Networks without hidden layers are
    the linear baseline of their data set (factor "baseline")."""
    rows = []
    for r in stored("robustness").values():
        c = r.config
        changed = [f for f in FACTORS if getattr(c, f) != DEFAULTS[f]]
        if not c.hidden:
            factor, value = "baseline", c.dataset
        else:
            factor, value = (changed[0], getattr(c, changed[0])) if changed else ("default", "default")
        rows.append({"factor": factor, "value": value, "rule": c.rule if c.hidden else "linear", "dataset": c.dataset,
                     "seed": c.seed, "test_accuracy": r.final["test/accuracy"], "val_accuracy": r.final["val/accuracy"],
                     "best_epoch": r.final["best_epoch"], "hit_cap": bool(r.final["hit_cap"])})
    return pd.DataFrame(rows)


def setting_name(factor: str, value) -> str:
    return "default setting" if factor == "default" else f"{factor.replace('_', ' ')} {value}"


def comparisons(alternative: str = "greater") -> pd.DataFrame:
    """Per (setting, rule) with hidden layers: test accuracy (mean, 95%), Welch against the linear
    model of the same data set (one-sided by default), and how many runs hit the epoch cap."""
    runs = settings()
    linear = {d: g["test_accuracy"].tolist() for d, g in runs[runs["rule"] == "linear"].groupby("dataset")}
    out = []
    for (factor, value, rule, dataset), g in runs[runs["rule"] != "linear"].groupby(
            ["factor", "value", "rule", "dataset"], sort=False):
        i, t = interval(g["test_accuracy"]), welch(g["test_accuracy"], linear[dataset], alternative=alternative)
        out.append({"setting": setting_name(factor, value), "factor": factor, "value": value, "rule": rule,
                    "dataset": dataset, "n": i.n, "test_mean": i.mean, "test_low": i.low, "test_high": i.high,
                    "vs_linear": t, "hit_cap": int(g["hit_cap"].sum())})
    return pd.DataFrame(out)


def _counts(table: pd.DataFrame, beats) -> dict[str, tuple[int, int]]:
    """Per rule (DFA, LAFS): at how many settings `beats(test)`, of how many."""
    out = {}
    for rule in ("dfa", "lafs"):
        rows = table[table["rule"] == rule]
        out[rule] = (sum(bool(beats(t)) for t in rows["vs_linear"]), len(rows))
    return out


def _two_sided_counts():
    table = comparisons("two-sided")
    return _counts(table, lambda t: t.low > 0), table


def robustness_v1(rule: Rule) -> Evidence:
    counts, table = _two_sided_counts()
    key = "holds" if all(k == n for k, n in counts.values()) else "partly"
    measured = ", ".join(f for f in FACTORS)
    text = ", ".join(f"{r.upper()} at {k} of {n}" for r, (k, n) in counts.items())
    return Evidence(lambda _: (key, {"measured": measured, "counts": text}), number=text)


def robustness_v2(rule: Rule) -> Evidence:
    counts, _ = _two_sided_counts()

    def part(name, k, n):
        return f"{name} at every setting ({k} of {n})" if k == n else f"{name} at {k} of {n} settings"

    return Evidence(lambda _: ("counts", {"dfa": part("DFA", *counts["dfa"]), "lafs": part("LAFS", *counts["lafs"])}))


def robustness(rule: Rule) -> Evidence:
    table = comparisons("greater")
    table = table[table["rule"].isin(["dfa", "lafs"])].reset_index(drop=True)  # BP's rows are context
    tests = {f"{r.rule} beats linear at {r.setting}": r.vs_linear for r in table.itertuples()}

    def decide(d):
        counts = {rule: sum(dec.reject for name, dec in d.items() if name.startswith(f"{rule} ")) for rule in ("dfa", "lafs")}
        return "counts", {"dfa": counts["dfa"], "lafs": counts["lafs"], "n": int((table["rule"] == "dfa").sum())}

    shown = table.assign(**{"test accuracy": [fmt.pct(m, lo, hi) for m, lo, hi in
                                              zip(table["test_mean"], table["test_low"], table["test_high"])],
                            "minus linear": [fmt.pp(t.diff) for t in table["vs_linear"]]})
    capped = [f"{r.setting}, {r.rule.upper()}: {r.hit_cap} of {r.n} runs" for r in table.itertuples() if r.hit_cap]
    number = f"{len(capped)} of {len(table)} (setting, rule) rows have runs at the 100-epoch cap"
    return Evidence(decide, tests, number, shown[["setting", "rule", "dataset", "n", "test accuracy", "minus linear",
                                                  "hit_cap"]])


def panel_tables() -> dict[str, pd.DataFrame]:
    """Per factor, the rows `plots.robustness_panels` draws: each value of the factor (the default
    setting included) and rule, with the linear baseline (two-sided differences, for context)."""
    table = comparisons("two-sided")
    out = {}
    for factor in FACTORS:
        rows = table[(table["factor"] == factor) | (table["factor"] == "default")].copy()
        rows[factor] = [DEFAULTS[factor] if f == "default" else v for f, v in zip(rows["factor"], rows["value"])]
        rows["vs_linear"] = [t.diff for t in rows["vs_linear"]]
        if factor == "dataset":
            runs = settings()
            for dataset, g in runs[runs["rule"] == "linear"].groupby("dataset"):
                i = interval(g["test_accuracy"])
                rows.loc[len(rows)] = {**dict.fromkeys(rows.columns), "dataset": dataset, factor: dataset, "rule": "linear",
                                       "test_mean": i.mean, "test_low": i.low, "test_high": i.high, "n": i.n}
        out[factor] = rows.reset_index(drop=True)
    return out
