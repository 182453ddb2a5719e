"""The protocol behind every "can X beat Y?" answer in the book.

1. Hyperparameters are chosen on the validation split (the last `val_size` training
   examples), never on the test set: `choose_lr` picks, per row (e.g. rule and depth), the
   learning rate with the best validation accuracy at its best epoch.
2. Runs stop by early stopping (`RunConfig.patience`); the test accuracy is read at the
   best-validation epoch. `summarize` reports how often a run hit its epoch cap instead.
3. Two rows are compared by Welch's t-test on their per-seed test accuracies, with the 95%
   confidence interval of the difference of means; `verdict` turns that interval into words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import scipy.stats

from .results import Result

LEVEL = 0.95
RULES = ("bp", "fa", "dfa", "lafs")
UNDECIDED = ("is not distinguishable from", "no detectable change")  # verdicts that decide nothing


def row_of(result: Result) -> dict:
    """The fields that name a row of the open-question tables: rule, depth, width, dataset, lr."""
    c = result.config
    return {"rule": c.rule if c.hidden else "linear", "depth": len(c.hidden), "width": c.hidden[0] if c.hidden else 0,
            "dataset": c.dataset, "lr": c.lr, "seed": c.seed}


def runs_table(results: Mapping[str, Result] | Iterable[Result]) -> pd.DataFrame:
    """One row per run: its row fields, validation and test accuracy at the best epoch, convergence."""
    runs = results.values() if isinstance(results, Mapping) else results
    rows = []
    for r in runs:
        f = r.final
        rows.append({**row_of(r), "val_accuracy": f["val/accuracy"], "test_accuracy": f["test/accuracy"],
                     "best_epoch": f["best_epoch"], "epochs_run": f["epochs_run"], "hit_cap": bool(f["hit_cap"]),
                     "cap": r.config.epochs})
    return pd.DataFrame(rows)


def choose_lr(runs: pd.DataFrame, by: tuple[str, ...] = ("rule", "depth")) -> pd.DataFrame:
    """Per row `by`, the lr with the best mean validation accuracy (ties: the smaller lr).

    Columns: `by`, lr, val_accuracy, and `at_edge`: the chosen lr is the smallest or largest
    tried, so the best may lie outside the grid.
    """
    means = runs.groupby([*by, "lr"], as_index=False)["val_accuracy"].mean()
    out = []
    for key, group in means.groupby(list(by), sort=True):
        group = group.sort_values("lr")
        best = group.loc[group["val_accuracy"].idxmax()]
        lrs = group["lr"].tolist()
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "lr": best["lr"],
                    "val_accuracy": best["val_accuracy"], "tried": lrs,
                    "at_edge": len(lrs) > 1 and best["lr"] in (lrs[0], lrs[-1])})
    return pd.DataFrame(out)


def runs_at_chosen(search: Mapping[str, Result], seeds: Mapping[str, Result]) -> pd.DataFrame:
    """The runs every comparison uses: each row's search run (seed 0) at its chosen lr, plus the
    seed runs made at that lr (`seed_grid_yaml`). One row per run, `runs_table` columns."""
    search_runs = runs_table(search)
    lr_of = {(row["rule"], row["depth"]): row["lr"] for _, row in choose_lr(search_runs).iterrows()}
    chosen = [lr_of[(r, d)] == lr for r, d, lr in zip(search_runs["rule"], search_runs["depth"], search_runs["lr"])]
    runs = pd.concat([search_runs[chosen], runs_table(seeds)], ignore_index=True)
    if runs.duplicated(["rule", "depth", "seed"]).any():
        raise ValueError("a (rule, depth, seed) appears twice: the seed runs repeat a search run")
    return runs


def interval(values: Iterable[float], level: float = LEVEL) -> tuple[float, float, float, int]:
    """(mean, low, high, n): Student-t interval of the mean; NaN bounds with fewer than 2 values."""
    x = np.asarray(list(values), dtype=float)
    if len(x) < 2:
        return (float(x.mean()) if len(x) else float("nan")), float("nan"), float("nan"), len(x)
    half = scipy.stats.t.ppf((1 + level) / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half), len(x)


def summarize(runs: pd.DataFrame, by: tuple[str, ...] = ("rule", "depth")) -> pd.DataFrame:
    """Per row: n seeds, mean test accuracy with its 95% interval, best epoch, cap-hit rate."""
    out = []
    for key, g in runs.groupby(list(by), sort=True):
        mean, low, high, n = interval(g["test_accuracy"])
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "n": n, "test_mean": mean,
                    "test_low": low, "test_high": high, "val_mean": g["val_accuracy"].mean(),
                    "best_epoch": g["best_epoch"].mean(), "hit_cap_rate": g["hit_cap"].mean()})
    return pd.DataFrame(out)


def welch(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> dict:
    """Welch's t-test of mean(a) - mean(b), with the confidence interval of that difference."""
    a, b = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's test needs at least 2 runs on each side, got {len(a)} and {len(b)}")
    test = scipy.stats.ttest_ind(a, b, equal_var=False)
    ci = test.confidence_interval(confidence_level=level)
    return {"diff": float(a.mean() - b.mean()), "low": float(ci.low), "high": float(ci.high),
            "p": float(test.pvalue), "n_a": len(a), "n_b": len(b)}


def verdict(comparison: dict, better: str = "beats", worse: str = "falls short of") -> str:
    """Words for a difference interval: `better` if it lies above 0, `worse` if below, else no difference."""
    if comparison["low"] > 0:
        return better
    if comparison["high"] < 0:
        return worse
    return "is not distinguishable from"


def seed_grid_yaml(search: Mapping[str, Result], base: dict, name: str, seeds_for) -> str:
    """The YAML of a grid that re-runs each row's chosen lr with more seeds.

    search: the lr-search results (seed 0); base: the search grid's base; seeds_for(rule, depth):
    the extra seeds of that row. The chosen rates come from `choose_lr`, so the file can be
    checked against the search at any time (the book does).
    """
    import yaml

    chosen = choose_lr(runs_table(search))
    hidden_of = {row_of(r)["depth"]: list(r.config.hidden) for r in search.values()}
    points = []
    for _, row in chosen.iterrows():
        for seed in seeds_for(row["rule"], int(row["depth"])):
            rule = "bp" if row["rule"] == "linear" else row["rule"]
            points.append({"rule": rule, "hidden": hidden_of[int(row["depth"])], "lr": float(row["lr"]),
                           "seed": int(seed)})
    return yaml.safe_dump({"name": name, "base": base, "points": points}, sort_keys=False,
                          default_flow_style=None, width=100)


def extra_seeds(rule: str, depth: int) -> tuple[int, ...]:
    """Seeds run beyond the search's seed 0: five in all on the rows a verdict rests on
    (DFA and LAFS at every depth, the linear model, backprop with one hidden layer), else three."""
    verdict_row = rule in ("dfa", "lafs", "linear") or (rule == "bp" and depth == 1)
    return (1, 2, 3, 4) if verdict_row else (1, 2)


def best_depth(runs: pd.DataFrame, rule: str) -> int:
    """The depth of `rule` with the best mean *validation* accuracy (ties: the shallower), so
    that the test set, which the comparison is then read on, chooses nothing."""
    means = runs[runs["rule"] == rule].groupby("depth")["val_accuracy"].mean().sort_index()
    if means.empty:
        raise ValueError(f"no runs of rule {rule!r} to choose a depth from")
    return int(means.idxmax())


def depth_claims(runs: pd.DataFrame, linear: Iterable[float], depths: tuple[int, ...] = (1, 3)) -> pd.DataFrame:
    """The depth study's comparisons on the runs of one width, restricted to `depths`.

    runs: one row per run (`runs_table` columns) at each rule's chosen lr; linear: the softmax
    regression's test accuracies. One row per comparison, each a Welch test of test accuracy:
    every (rule, depth) but backprop at depth 1 against backprop at depth 1 (the bar); each
    rule's deepest against its shallowest depth (the gain from depth); every (rule, depth)
    against the linear model. Columns: claim, diff, low, high, n_a, n_b, verdict.
    """
    linear = list(linear)

    def acc(rule, depth):
        return runs[(runs["rule"] == rule) & (runs["depth"] == depth)]["test_accuracy"]

    first, last = min(depths), max(depths)
    versus = ("beats", "falls short of", UNDECIDED[0])
    rows = [(f"{rule.upper()}, {depth} hidden vs BP, {first} hidden", acc(rule, depth), acc("bp", first), versus)
            for rule in RULES for depth in depths if (rule, depth) != ("bp", first)]
    rows += [(f"{rule.upper()}: {last} vs {first} hidden", acc(rule, last), acc(rule, first),
              ("gains from depth", "loses with depth", UNDECIDED[1])) for rule in RULES]
    rows += [(f"{rule.upper()}, {depth} hidden vs linear", acc(rule, depth), linear, versus)
             for rule in RULES for depth in depths]
    out = []
    for claim, a, b, (better, worse, neither) in rows:
        c = welch(a, b)
        word = verdict(c, better, worse)
        word = neither if word == UNDECIDED[0] else word
        out.append({"claim": claim, "diff": c["diff"], "low": c["low"], "high": c["high"], "n_a": c["n_a"],
                    "n_b": c["n_b"], "verdict": word})
    return pd.DataFrame(out)



def carry_over(reference: pd.DataFrame, other: pd.DataFrame, names: tuple[str, str] = ("width 100", "width 800")
               ) -> pd.DataFrame:
    """Whether each `depth_claims` verdict of `reference` carries over to `other`.

    `agreement` is "same" (the same words), "opposite" (a difference in one direction at one
    width and the other direction at the other), or "decided at <name> only" (one side's
    interval straddles 0: it neither confirms nor contradicts the other). `size` is "changes"
    where the two 95% intervals of the difference do not overlap, else "overlaps": the same
    verdict can hide a difference that grew or shrank several-fold.
    """
    joined = reference.merge(other, on="claim", suffixes=(f" ({names[0]})", f" ({names[1]})"), validate="one_to_one")
    if len(joined) != len(reference) or len(joined) != len(other):
        raise ValueError("the two claim tables do not list the same comparisons")
    agreement = []
    for a, b in zip(joined[f"verdict ({names[0]})"], joined[f"verdict ({names[1]})"]):
        if a == b:
            agreement.append("same")
        elif a in UNDECIDED:
            agreement.append(f"decided at {names[1]} only")
        elif b in UNDECIDED:
            agreement.append(f"decided at {names[0]} only")
        else:
            agreement.append("opposite")
    joined["agreement"] = agreement
    low_a, high_a, low_b, high_b = (joined[f"{bound} ({name})"] for name in names for bound in ("low", "high"))
    # Two 95% intervals that do not overlap: a conservative sign that the size of the difference changed.
    joined["size"] = ["changes" if hb < la or lb > ha else "overlaps"
                      for la, ha, lb, hb in zip(low_a, high_a, low_b, high_b)]
    return joined


def carry_verdict(table: pd.DataFrame, names: tuple[str, str] = ("width 100", "width 800")) -> str:
    """Words for a `carry_over` table: does any verdict reverse, how many are decided at one width
    only, and which differences change size (in percentage points, from the first width to the second)."""
    counts = table["agreement"].value_counts()
    n, same, opposite = len(table), int(counts.get("same", 0)), int(counts.get("opposite", 0))
    if opposite:
        reversed_ = "; ".join(table[table["agreement"] == "opposite"]["claim"])
        words = f"does not carry over: {opposite} of {n} comparisons reverse ({reversed_})"
    elif same == n:
        words = f"the verdicts carry over: all {n} comparisons give the same verdict"
    else:
        only = [f"{int(counts.get(f'decided at {name} only', 0))} decided at {name} only" for name in names]
        words = (f"the verdicts carry over where decided: {same} of {n} comparisons give the same verdict, none "
                 f"reverses, " + ", ".join(only))
    changed = table[table["size"] == "changes"]
    if len(changed):
        words += f"; but the size changes (95% intervals apart) in {len(changed)}: " + "; ".join(
            f"{row['claim']} {100 * row[f'diff ({names[0]})']:+.2f} -> {100 * row[f'diff ({names[1]})']:+.2f} points"
            for _, row in changed.iterrows())
    return words
