"""The depth study at width 100 (rows 5-7): one hidden layer as the bar, the gain from depth,
and the comparison with a linear model. Each as first written and as amended.

The runs: sweeps/depth_lr.yaml (every rule at depths 1, 2, 3, 4 and 6 and the softmax
regression, each at several learning rates, seed 0) chooses each row's rate on validation;
sweeps/depth.yaml re-runs the chosen rates with seeds 1-4 (DFA, LAFS, the linear model and BP
with one hidden layer) or 1-2 (the other rows). The rules written before 2026-12-02 counted the
search run (seed 0) among the seeds; the amendments do not.
"""

from __future__ import annotations

import pandas as pd

from .. import fmt
from ..stats import all_of, welch
from . import Combined, Evidence, Rule, corrected
from .tables import SEARCH_SEED, accuracy, at_chosen, choose_lr, runs_table, stored, summarize

DIRECT = ("dfa", "lafs")


def runs(with_search_seed: bool = False) -> pd.DataFrame:
    """One row per run at each (rule, depth)'s chosen rate (`tables.at_chosen`)."""
    return at_chosen(stored("depth_lr"), stored("depth"), with_search_seed)


def chosen_rates() -> pd.DataFrame:
    return choose_lr(runs_table(stored("depth_lr")))


def depth_table() -> pd.DataFrame:
    """Per (rule, depth): chosen rate, n, test accuracy (mean, 95% interval), cap hits; seeds 1 and up."""
    table = summarize(runs()).merge(chosen_rates()[["rule", "depth", "lr", "at_edge"]], on=["rule", "depth"])
    return table


def best_depth(table: pd.DataFrame, rule: str, by: str) -> int:
    """The depth of `rule` with the best mean `by` column (ties: the shallower)."""
    means = table[table["rule"] == rule].groupby("depth")[by].mean().sort_index()
    return int(means.idxmax())


def search_depth(rule: str) -> int:
    """The depth chosen on the search seed's validation accuracy (its runs at the chosen rates)."""
    search = runs_table(stored("depth_lr"))
    rate = {(r, d): lr for r, d, lr in zip(*(chosen_rates()[c] for c in ("rule", "depth", "lr")))}
    at_rate = search[[rate[(r, d)] == lr for r, d, lr in zip(search["rule"], search["depth"], search["lr"])]]
    assert (at_rate["seed"] == SEARCH_SEED).all()
    return best_depth(at_rate, rule, "val_accuracy")


def _words(c) -> str:
    return "beats" if c.low > 0 else "falls short of" if c.high < 0 else "is not distinguishable from"


def _open_question(by: str, label: str) -> Evidence:
    table = runs(with_search_seed=True)
    bar = accuracy(table, "bp", 1)
    details, parts = {}, []
    for rule in DIRECT:
        d = best_depth(table, rule, by)
        c = welch(accuracy(table, rule, d), bar)
        details[rule] = _words(c)
        parts.append(f"{rule.upper()} ({d} hidden) {fmt.pp(c.diff, c.low, c.high)}")
    return Evidence(lambda _: ("answered", details), number=f"{label}: " + "; ".join(parts))


def open_question_v1(rule: Rule) -> Evidence:
    return _open_question("test_accuracy", "best depth chosen on test")


def open_question_v2(rule: Rule) -> Evidence:
    return _open_question("val_accuracy", "best depth chosen on validation")


def _gains(table: pd.DataFrame, depth_of) -> tuple[list[str], dict]:
    words, tests = [], {}
    for rule in ("bp", *DIRECT):
        d = depth_of(rule)
        if d == 1:
            words.append(f"{rule.upper()} gains nothing from depth")
            continue
        c = welch(accuracy(table, rule, d), accuracy(table, rule, 1))
        tests[rule] = (d, c)
        words.append(f"{rule.upper()} {'gains' if c.low > 0 else 'gains nothing detectable'} from depth")
    return words, tests


def depth_v1(rule: Rule) -> Evidence:
    table = runs(with_search_seed=True)
    words, _ = _gains(table, lambda r: best_depth(table, r, "test_accuracy"))
    return Evidence(lambda _: ("gains", {"words": "; ".join(words)}))


def depth_v2(rule: Rule) -> Evidence:
    table = runs(with_search_seed=True)
    words, _ = _gains(table, lambda r: best_depth(table, r, "val_accuracy"))
    key = "gains" if words[0] == "BP gains from depth" else "open"
    return Evidence(lambda _: (key, {"words": "; ".join(words)}))


def depth(rule: Rule) -> Evidence:
    table = runs()
    tests, shown = {}, []
    for name in ("bp", *DIRECT):
        d = search_depth(name)
        if d == 1:
            shown.append(f"{name.upper()}: its best depth is 1")
            continue
        t = tests[f"{name} gains from depth {d}"] = welch(accuracy(table, name, d), accuracy(table, name, 1))
        shown.append(f"{name.upper()} {d} hidden − 1 hidden: {fmt.pp(t.diff, t.low, t.high)} (n={t.n[0]}, {t.n[1]})")

    def gains(d, name):
        return any(k.startswith(f"{name} ") and dec.reject and dec.test.diff > 0 for k, dec in d.items())

    def decide(d):
        if not gains(d, "bp"):
            return "open", {"n_bp": len(accuracy(table, "bp", search_depth("bp")))}
        gaining = [r.upper() for r in DIRECT if gains(d, r)]
        if gaining:
            return "not_supported", {"rules": " and ".join(gaining)}
        return "supported", {"rules": "DFA and LAFS"}

    def headline(d):
        return "Gain of the best depth over one hidden layer (width 100): " + "; ".join(
            f"{k.split()[0].upper()} {fmt.pp(*corrected(dec))}" for k, dec in d.items()) + "."

    return Evidence(decide, tests, "; ".join(shown), depth_table(), headline)


def _linear_counts(table: pd.DataFrame) -> tuple[dict[str, int], int]:
    lin = accuracy(table, "linear", 0)
    depths = sorted(table[table["rule"] == "dfa"]["depth"].unique())
    counts = {r: sum(welch(accuracy(table, r, d), lin).low > 0 for d in depths) for r in DIRECT}
    return counts, len(depths)


def _linear_old(n_needed) -> Evidence:
    counts, n = _linear_counts(runs(with_search_seed=True))
    need = n_needed(n)
    key = "every" if all(c == need for c in counts.values()) else "none" if not any(counts.values()) else "some"
    text = ", ".join(f"{r.upper()} at {c} of {n} depths" for r, c in counts.items())
    return Evidence(lambda _: (key, {"counts": text}), number=text)


def linear_v1(rule: Rule) -> Evidence:
    return _linear_old(lambda n: 6)  # as first written: 6, the deepest depth, not the number of depths


def linear_v2(rule: Rule) -> Evidence:
    return _linear_old(lambda n: n)


def linear(rule: Rule) -> Evidence:
    table = runs()
    lin = accuracy(table, "linear", 0)
    depths = sorted(table[table["rule"] == "dfa"]["depth"].unique())
    tests = {}
    for name in DIRECT:
        parts = tuple(welch(accuracy(table, name, d), lin, alternative="greater") for d in depths)
        tests[f"{name} above linear at every depth"] = Combined(all_of(parts), parts, "all")

    def decide(d):
        ok = [name for name in DIRECT if d[f"{name} above linear at every depth"].reject]
        if len(ok) == 2:
            return "every", {"depths": fmt.listing([str(x) for x in depths])}
        if ok:
            return "one", {"rule": ok[0].upper()}
        return "undecided", {}

    smallest = {name: min(tests[f"{name} above linear at every depth"].parts, key=lambda t: t.diff) for name in DIRECT}
    number = "; ".join(f"{name.upper()}: smallest gain over the depths {fmt.pp(t.diff, t.low, t.high)}"
                       for name, t in smallest.items())
    def headline(d):
        parts = {name: d[f"{name} above linear at every depth"] for name in DIRECT}
        worst = {name: min(range(len(dec.test.parts)), key=lambda k: dec.test.parts[k].diff) for name, dec in parts.items()}
        return "Smallest gain over a softmax regression at any depth: " + "; ".join(
            f"{name.upper()} {fmt.pp(*corrected(parts[name], worst[name]))}" for name in DIRECT) + "."
    return Evidence(decide, tests, number, headline=headline)
