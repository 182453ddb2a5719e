"""The protocol's run tables, and the stored sweeps every study reads.

The protocol behind each "can X beat Y?" answer: the last 10,000 training examples are the
validation split; each (rule, depth) row's learning rate is the one with the best validation
accuracy of the search seed (`choose_lr`); runs stop early and report test accuracy at their
best-validation epoch. A verdict is then judged on other seeds (`at_chosen`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import pandas as pd

from ..results import Result
from ..stats import interval

SEARCH_SEED = 0  # the seed every learning-rate search ran with


def row_of(result: Result) -> dict:
    """The fields that name a row: rule ("linear" without hidden layers), depth, width, dataset, lr, seed."""
    c = result.config
    return {"rule": c.rule if c.hidden else "linear", "depth": len(c.hidden), "width": c.hidden[0] if c.hidden else 0,
            "dataset": c.dataset, "lr": c.lr, "seed": c.seed}


def runs_table(results: Mapping[str, Result] | Iterable[Result]) -> pd.DataFrame:
    """One row per run: its row fields, validation and test accuracy at the best epoch, convergence."""
    runs = results.values() if isinstance(results, Mapping) else results
    return pd.DataFrame([{**row_of(r), "val_accuracy": r.final["val/accuracy"], "test_accuracy": r.final["test/accuracy"],
                          "best_epoch": r.final["best_epoch"], "epochs_run": r.final["epochs_run"],
                          "hit_cap": bool(r.final["hit_cap"])} for r in runs])


def choose_lr(runs: pd.DataFrame, by: tuple[str, ...] = ("rule", "depth")) -> pd.DataFrame:
    """Per row `by`, the lr with the best mean validation accuracy (ties: the smaller lr), with
    the rates tried and `at_edge` (the choice is the smallest or largest rate tried)."""
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


def at_chosen(search: Mapping[str, Result], seeds: Mapping[str, Result], with_search_seed: bool = False
              ) -> pd.DataFrame:
    """The runs a comparison uses: each row's seed runs at its chosen lr (`runs_table` columns).

    with_search_seed=True adds the search run at the chosen lr, as the rules written before
    2026-12-02 did: that run chose the rate, so it is an optimistic member of the sample.
    """
    search_runs = runs_table(search)
    lr_of = {(row["rule"], row["depth"]): row["lr"] for _, row in choose_lr(search_runs).iterrows()}
    parts = [runs_table(seeds)]
    if with_search_seed:
        chosen = [lr_of[(r, d)] == lr for r, d, lr in zip(search_runs["rule"], search_runs["depth"], search_runs["lr"])]
        parts.insert(0, search_runs[chosen])
    runs = pd.concat(parts, ignore_index=True)
    if runs.duplicated(["rule", "depth", "seed"]).any():
        raise ValueError("a (rule, depth, seed) appears twice: the seed runs repeat a search run")
    return runs


def summarize(runs: pd.DataFrame, by: tuple[str, ...] = ("rule", "depth")) -> pd.DataFrame:
    """Per row: n seeds, mean test accuracy with its 95% interval, best epoch, cap-hit rate."""
    out = []
    for key, g in runs.groupby(list(by), sort=True):
        i = interval(g["test_accuracy"])
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "n": i.n, "test_mean": i.mean,
                    "test_low": i.low, "test_high": i.high, "val_mean": g["val_accuracy"].mean(),
                    "best_epoch": g["best_epoch"].mean(), "hit_cap_rate": g["hit_cap"].mean()})
    return pd.DataFrame(out)


def accuracy(runs: pd.DataFrame, rule: str, depth: int) -> pd.Series:
    """The test accuracies of one (rule, depth) row."""
    return runs[(runs["rule"] == rule) & (runs["depth"] == depth)]["test_accuracy"]


# --- the stored sweeps, loaded once per process ---------------------------------------------------

@functools.lru_cache(maxsize=None)
def stored(name: str, allow_missing: bool = False) -> dict[str, Result]:
    """The results of `sweeps/NAME.yaml` in results/sweeps/NAME, checked against the grid and the code."""
    from ..experiments import RESULTS, SWEEPS_DIR
    from .runs import load_sweep

    return load_sweep(RESULTS / "sweeps" / name, grid=SWEEPS_DIR / f"{name}.yaml", allow_missing=allow_missing)


def stored_runs(name: str, **fields) -> list[Result]:
    """The runs of a stored sweep whose config has these field values, in seed order."""
    runs = [r for r in stored(name).values() if all(getattr(r.config, k) == v for k, v in fields.items())]
    return sorted(runs, key=lambda r: (r.config.rule, r.config.seed))
