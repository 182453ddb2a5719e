"""Row 10 (the book's own question): do the depth study's comparisons, made at width 100, come
out the same at the paper's width of 800?

Width 800: sweeps/width800_lr.yaml (BP, FA, DFA, LAFS at depths 1 and 3, learning rate chosen
on seed 0's validation accuracy) and sweeps/width800.yaml (seeds 1-2 at the chosen rates).
"""

from __future__ import annotations

import pandas as pd

from .. import fmt
from ..stats import welch
from . import Evidence, Rule
from .depth import runs as depth_runs
from .tables import accuracy, at_chosen, stored

RULES = ("bp", "fa", "dfa", "lafs")
DEPTHS = (1, 3)


def width_runs(width: int, with_search_seed: bool = False) -> pd.DataFrame:
    if width == 100:
        return depth_runs(with_search_seed)
    return at_chosen(stored("width800_lr"), stored("width800"), with_search_seed)


def comparisons(runs: pd.DataFrame, linear, distinct: bool) -> list[tuple[str, object, object]]:
    """(name, a, b) for the depth study's comparisons at depths 1 and 3: each (rule, depth) but
    BP at depth 1 against BP at depth 1 (the bar); each rule's 3 vs 1 hidden layers; each
    (rule, depth) against the linear model. As first written, BP's 3 vs 1 came twice
    (as "BP, 3 hidden vs BP, 1 hidden" and "BP: 3 vs 1 hidden"); `distinct` keeps it once."""
    out = [(f"{r.upper()}, {d} hidden vs BP, 1 hidden", accuracy(runs, r, d), accuracy(runs, "bp", 1))
           for r in RULES for d in DEPTHS if (r, d) != ("bp", 1)]
    out += [(f"{r.upper()}: 3 vs 1 hidden", accuracy(runs, r, 3), accuracy(runs, r, 1))
            for r in RULES if not (distinct and r == "bp")]
    out += [(f"{r.upper()}, {d} hidden vs linear", accuracy(runs, r, d), linear) for r in RULES for d in DEPTHS]
    return out


def width_table() -> pd.DataFrame:
    """The 18 distinct comparisons at both widths (seeds 1 and up): difference and 95% interval."""
    linear = accuracy(width_runs(100), "linear", 0)
    at = {w: comparisons(width_runs(w), linear, distinct=True) for w in (100, 800)}
    return pd.DataFrame([{"comparison": n, **{f"width {w}": f"{fmt.pp(t.diff, t.low, t.high)} (n={t.n[0]})"
                                              for w, t in ((100, welch(a1, b1)), (800, welch(a2, b2)))}}
                         for (n, a1, b1), (_, a2, b2) in zip(at[100], at[800])])


def _word(low: float, high: float) -> str:
    return "above" if low > 0 else "below" if high < 0 else "undecided"


def width_v1(rule: Rule) -> Evidence:
    """As first written: 19 comparisons per width, Welch 95% intervals, search seed included."""
    linear = accuracy(width_runs(100, True), "linear", 0)
    at = {w: {name: welch(a, b) for name, a, b in comparisons(width_runs(w, True), linear, distinct=False)}
          for w in (100, 800)}
    names = list(at[100])
    same = sum(_word(at[100][n].low, at[100][n].high) == _word(at[800][n].low, at[800][n].high) for n in names)
    opposite = [n for n in names if {_word(at[100][n].low, at[100][n].high), _word(at[800][n].low, at[800][n].high)}
                == {"above", "below"}]
    only = {w: sum(_word(at[w][n].low, at[w][n].high) != "undecided" and
                   _word(at[o][n].low, at[o][n].high) == "undecided" for n in names) for w, o in ((100, 800), (800, 100))}
    changed = [f"{n} {fmt.pp(at[100][n].diff)} → {fmt.pp(at[800][n].diff)}" for n in names
               if at[800][n].high < at[100][n].low or at[800][n].low > at[100][n].high]
    if opposite:
        words = f"does not carry over: {len(opposite)} of {len(names)} comparisons reverse ({'; '.join(opposite)})"
    elif same == len(names):
        words = f"the verdicts carry over: all {len(names)} comparisons give the same verdict"
    else:
        words = (f"the verdicts carry over where decided: {same} of {len(names)} comparisons give the same verdict, "
                 f"none reverses, {only[100]} decided at width 100 only, {only[800]} decided at width 800 only")
    if changed:
        words += f"; but the size changes (95% intervals apart) in {len(changed)}: " + "; ".join(changed)
    return Evidence(lambda _: ("carry", {"words": words}))


def width(rule: Rule) -> Evidence:
    linear = accuracy(width_runs(100), "linear", 0)
    tests = {f"{name} at width {w}": welch(a, b) for w in (100, 800)
             for name, a, b in comparisons(width_runs(w), linear, distinct=True)}
    names = [n for n, _, _ in comparisons(width_runs(100), linear, distinct=True)]

    def side(dec) -> str:
        return ("above" if dec.test.diff > 0 else "below") if dec.reject else "undecided"

    def decide(d):
        pairs = [(side(d[f"{n} at width 100"]), side(d[f"{n} at width 800"])) for n in names]
        reversed_ = sum({a, b} == {"above", "below"} for a, b in pairs)
        if reversed_:
            return "reverses", {"reversed": reversed_, "n": len(names)}
        return "carries", {"same": sum(a == b != "undecided" for a, b in pairs), "n": len(names),
                           "only100": sum(a != "undecided" == b for a, b in pairs),
                           "only800": sum(b != "undecided" == a for a, b in pairs),
                           "neither": sum(a == b == "undecided" for a, b in pairs)}

    table = pd.DataFrame([{"comparison": n, **{f"width {w}": fmt.pp(t.diff, t.low, t.high) + f" (n={t.n[0]}, {t.n[1]})"
                                              for w in (100, 800) for t in [tests[f"{n} at width {w}"]]}}
                          for n in names])
    n800 = min(t.n[0] for name, t in tests.items() if name.endswith("width 800"))

    def headline(d):
        _, details = decide(d)
        return (f"Of {len(names)} comparisons, {details.get('same', 0)} are decided alike at both widths and "
                f"{details.get('neither', 0)} at neither (from {n800} seeds at width 800).")

    return Evidence(decide, tests, f"{len(names)} distinct comparisons at each width", table, headline)
