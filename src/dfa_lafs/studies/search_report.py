"""The open question's search, reported: how far it has got, and whether successive halving
would have chosen what a full search chose (replayed on the width-100 cells, searched in full).
"""

from __future__ import annotations

import pandas as pd

from ..search import choose, load_plan, settled
from ..stats import interval, welch
from .open_question import _spec, choices, trials, verdict_runs


def pruner_check(orders: int = 200, seed: int = 0) -> pd.DataFrame:
    """Would the pruned search have chosen what the full search chose? For each cell searched in
    full (width 100, no pruner), Optuna's asynchronous successive halving is replayed on the
    trials' stored validation curves in `orders` random orders (one trial at a time): a trial
    reaching a rung continues only if it is among the best 1/eta of the trials that reached the
    rung before it (the first ones must be the best so far). Returns, per cell, the share of
    orders that choose the full search's configuration and the mean validation accuracy lost."""
    import random

    plan, rng = load_plan(), random.Random(seed)
    r0, eta = plan.pruner["min_resource"], plan.pruner["reduction_factor"]
    rows = []
    for cell in plan.cells:
        records = [t for t in trials()["trials"].get(cell.name, []) if t["state"] == "complete"]
        if cell.pruned or cell.rule == "bp" or not records or not settled(trials()["trials"][cell.name]):
            continue
        best = choose(records)
        same, lost = 0, []
        for _ in range(orders):
            order, at_rung, done = rng.sample(records, len(records)), {}, []
            for t in order:
                curve, rung, alive = t["curve"], r0, True
                while alive and rung < len(curve):
                    seen = at_rung.setdefault(rung, [])
                    value = curve[rung - 1]
                    k = max(len(seen + [value]) // eta - 1, 0)
                    alive = value >= sorted(seen + [value], reverse=True)[k]
                    seen.append(value)
                    rung *= eta
                if alive:
                    done.append(t)
            pick = choose(done)
            same += pick["params"] == best["params"]
            lost.append(best["value"] - pick["value"])
        rows.append({"cell": cell.name, "trials": len(records), "same choice": same / orders,
                     "validation accuracy lost (pp)": 100 * sum(lost) / len(lost)})
    return pd.DataFrame(rows)


def progress() -> dict:
    """How far the study has got: trials by state, cells chosen, verdict runs stored, and the
    search's compute: measured run-hours of the trials that stored a result, and an estimate for
    the rest (pruned runs store no timing: their epochs at their cell's measured seconds per epoch)."""
    import json as _json

    states: dict[str, int] = {}
    measured = estimated = 0.0
    folder = load_plan().folder
    for rows in trials()["trials"].values():
        seconds = epochs = untimed = 0.0
        for r in rows:
            states[r["state"]] = states.get(r["state"], 0) + 1
            path = folder / r["result"] if r.get("result") else None
            if path is not None and path.exists():
                seconds += _json.loads(path.read_text())["timings"]["wall_s"]
                epochs += r.get("epochs_run") or len(r.get("curve", []))
            else:
                untimed += r.get("epochs_run") or 0
        measured += seconds
        estimated += untimed * seconds / epochs if epochs else 0.0
    table = choices()
    return {"states": states, "cells": len(table), "chosen": int(table["lr"].notna().sum()),
            "verdict_runs": len(verdict_runs()), "planned_runs": len(table) * len(_spec()["seeds"]),
            "completed_run_hours": measured / 3600, "run_hours": (measured + estimated) / 3600,
            "epochs": sum(r.get("epochs_run") or 0 for rows in trials()["trials"].values() for r in rows)}


def complete_cells(runs: pd.DataFrame) -> set[tuple[str, int, int]]:
    """(rule, width, depth) of every network whose verdict runs are stored for all registered seeds."""
    counts = runs.groupby(["rule", "width", "depth"]).size()
    return {(rule, int(width), int(depth)) for (rule, width, depth), n in counts.items() if n >= len(_spec()["seeds"])}


def interim(alpha: float | None = None) -> pd.DataFrame:
    """Before every verdict run is stored, the widths whose runs are all in: each comparison
    tested at alpha / m, with m the most comparisons the registered family can hold (two rules,
    two bars, every width). A p-value at or below alpha / m is rejected by Holm's method whatever
    the other p-values are (every step's level is at least alpha / m), so such a comparison is
    decided now; any other waits for the whole family. Context until the verdict, not a verdict.
    Columns: rule, bar, width, depth, the two means, the difference with its interval at 1 - alpha / m,
    p, and "now" (the comparison's words if decided, else "waits for the family")."""
    from .open_question import cells_of_width, comparisons, load_plan_widths

    spec = _spec()
    alpha = spec["alpha"] if alpha is None else alpha
    widths = load_plan_widths()
    m = 2 * len(widths) * 2
    table, runs = choices(), verdict_runs()
    stored_cells = {f"{rule}_{depth}x{width}" for rule, width, depth in complete_cells(runs)}
    ready = [w for w in widths if set(cells_of_width(w)) <= stored_cells
             and table[table["cell"].isin(cells_of_width(w))]["lr"].notna().all()]
    rows = []
    for c in comparisons(ready) if ready else []:
        t = welch(c["a"], c["b"])
        low, high = t.interval_at(1 - alpha / m)
        now = (("beats" if t.diff > 0 else "falls short of") if t.p <= alpha / m else "waits for the family")
        rows.append({"rule": c["rule"], "bar": c["bar"], "bar width": c["bar width"], "width": c["width"], "depth": c["depth"],
                     "rule mean": sum(c["a"]) / len(c["a"]), "bar mean": sum(c["b"]) / len(c["b"]),
                     "diff": t.diff, "low": low, "high": high, "p": t.p, "now": now, "runs at the cap": c["capped"]})
    return pd.DataFrame(rows, columns=["rule", "bar", "bar width", "width", "depth", "rule mean", "bar mean", "diff", "low",
                                       "high", "p", "now", "runs at the cap"])


def interim_summary() -> str:
    """One clause per width of `interim()`: what is decided already (or that nothing is)."""
    early, parts = interim(), []
    for width, rows in early.groupby("width"):
        done = [f"{r.rule.upper()} {r.now} BP with {r.bar}" for r in rows.itertuples() if r.now != "waits for the family"]
        parts.append(f"width {width}, decided already: {', '.join(done)}" if done else
                     f"width {width}: nothing decided before the other widths")
    return "; ".join(parts)


def interim_markdown() -> str:
    """The interim reading as a table-like list, per comparison: the difference (pp) with its
    interval at 1 - alpha / 16, and whether it is decided already."""
    from .. import fmt

    early = interim()
    if early.empty:
        return "No width has all its verdict runs stored yet."
    lines = []
    for r in early.to_dict("records"):
        bar, capped = r["bar width"], r["runs at the cap"]
        lines.append(f"- {r['rule'].upper()}, {r['depth']} x {r['width']} ({fmt.pct(r['rule mean'])}) minus BP, "
                     f"1 x {bar} ({fmt.pct(r['bar mean'])}): {fmt.pp(r['diff'], r['low'], r['high'])}; "
                     f"**{r['now']}**" + (f" ({capped} runs at the 100-epoch cap)" if capped else ""))
    return "\n".join(lines)


def convergence() -> str:
    """How many stored verdict runs reached the epoch cap (how we know the others converged)."""
    runs = verdict_runs()
    return (f"{int(runs['hit_cap'].sum())} of {len(runs)} stored verdict runs reached the 100-epoch cap; the "
            "others stopped after 10 epochs without a better validation accuracy, and each is read at its "
            "best-validation epoch.")


def choices_table() -> pd.DataFrame:
    """Per cell: trials run, pruned and diverged, the choice, its validation accuracy, and where it
    sits in each searched dimension ("interior" everywhere once the search is done)."""
    from .. import fmt

    chosen = choices()
    done = chosen["lr"].notna()
    return pd.DataFrame({
        "cell": chosen["cell"], "trials": chosen["trials"], "pruned": chosen["pruned"], "diverged": chosen["diverged"],
        "choice": [(f"lr {lr:g}" + (f", scale {s:g}" if s == s and s is not None else "")) if ok else "not yet"
                   for ok, lr, s in zip(done, chosen["lr"], chosen["feedback_scale"])],
        "validation accuracy": [fmt.pct(a) if ok else "" for ok, a in zip(done, chosen["val_accuracy"])],
        "where": [", ".join(f"{k.replace('feedback_scale', 'scale')} {w}" for k, w in e.items()) if ok else ""
                  for ok, e in zip(done, chosen["edges"])]})


def registration_markdown() -> str:
    """The registered study in a few lines, read from preregistration.yaml."""
    from .. import fmt

    spec = _spec()
    s, p = spec["search"], spec["search"]["pruner"]
    return "\n".join([
        f"- **Networks**: MNIST, tanh, widths {fmt.listing([str(w) for w in s['widths']])}, "
        f"{fmt.listing([str(d) for d in s['depths']])} hidden layers (and, at width 100, DFA with 2 and LAFS with 4, "
        f"the depths the width-100 depth study chose).",
        f"- **Search** (seed {s['seed']}, validation split of 10,000 training images, early stopping with patience "
        f"10, at most 100 epochs): for DFA and LAFS every learning rate in {s['rules']['dfa']['lr']} with every scale "
        f"of $B^i$ in {s['rules']['dfa']['feedback_scale']}; for the backprop bars every rate in {s['bar']['lr']}. A "
        f"choice at the edge of what was tried is extended outward until it is interior.",
        f"- **Successive halving** from width {p['from_width']}: a run continues past epochs {p['min_resource']}, "
        f"{p['reduction_factor'] * p['min_resource']} and {p['reduction_factor'] ** 2 * p['min_resource']} only if "
        f"it is among the best 1/{p['reduction_factor']} of its cell's runs there.",
        "- **Bars**: backprop with one hidden layer of the same width, and with as many parameters as the deep network.",
        f"- **Verdict**: five fresh seeds ({fmt.listing([str(x) for x in spec['seeds']])}) per chosen configuration "
        "and bar; Welch tests of test accuracy, Holm-corrected over the family of comparisons."])


def best_on_validation(rule: str) -> dict | None:
    """The rule's network with the best search validation accuracy among the cells whose verdict
    runs are all stored, and its test error over those seeds (mean and 95% interval, in percent).

    Chosen on validation (seed 0), read on test (seeds 1-5): the test number plays no part in the
    choice. None while no such cell is stored.
    """
    table, runs = choices(), verdict_runs()
    complete = complete_cells(runs)
    done = [r for r in table[(table["rule"] == rule) & table["val_accuracy"].notna()].itertuples()
            if (rule, r.width, r.depth) in complete]
    if not done:
        return None
    best = max(done, key=lambda r: (r.val_accuracy, -r.width * r.depth))  # ties: the smaller network
    test = runs[(runs["rule"] == rule) & (runs["width"] == best.width) & (runs["depth"] == best.depth)]["test_accuracy"]
    error = interval([100 * (1 - a) for a in test])
    return {"rule": rule, "width": int(best.width), "depth": int(best.depth), "lr": float(best.lr),
            "feedback_scale": float(best.feedback_scale), "val_accuracy": float(best.val_accuracy),
            "error": error.mean, "low": error.low, "high": error.high, "n": error.n}


# Noekland (2016, arXiv 1609.01596), abstract: DFA with dropout on permutation-invariant MNIST.
NOKLAND_DFA_TEST_ERROR = 1.45  # percent


def best_on_validation_markdown() -> str:
    """Each rule's best network so far (chosen on validation), its test error, and how DFA's
    compares with the error Noekland (2016) reports for DFA with dropout and longer training."""
    from .. import fmt

    lines = []
    for rule in ("dfa", "lafs"):
        b = best_on_validation(rule)
        if b is None:
            continue
        line = (f"{rule.upper()}, {b['depth']} x {b['width']} (lr {b['lr']:g}, scale of $B^i$ {b['feedback_scale']:g}): "
                f"{fmt.with_interval(b['error'], b['low'], b['high'], unit='%')} test error over seeds 1-{b['n']}")
        if rule == "dfa":
            where = ("above" if b["low"] > NOKLAND_DFA_TEST_ERROR else "below" if b["high"] < NOKLAND_DFA_TEST_ERROR
                     else "not distinguishable from")
            line += f", {where} the {fmt.number(NOKLAND_DFA_TEST_ERROR)}% Nøkland reports"
        lines.append(f"- {line}.")
    return "\n".join(lines)
