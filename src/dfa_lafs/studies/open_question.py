"""The open question (registered 2026-12-02, before its runs): can DFA or LAFS beat a network
with a single hidden layer, once the learning rate, the scale of B^i and the depth are chosen
on validation, at widths 100 to 800?

The search (`dfa_lafs.search`, results/sweeps/open_question_search/trials.json) chooses each
cell's configuration on seed 0's validation accuracy; sweeps/open_question.yaml (written from
the search by `seed_grid_yaml`) trains every choice and every bar with seeds 1-5; this module
compares them by the registered rule.
"""

from __future__ import annotations

import functools
import json

import pandas as pd
import yaml

from .. import fmt
from ..search import cells_of_width as search_cells_of_width
from ..search import choose, edges, load_plan, matched_width, settled
from ..stats import welch
from . import Evidence, Rule
from .tables import stored

RULES = ("dfa", "lafs")
SWEEP = "open_question"


@functools.lru_cache(maxsize=1)
def trials() -> dict:
    """trials.json of the search as stored: the cells and every trial (pruned ones included)."""
    path = load_plan().folder / "trials.json"
    return json.loads(path.read_text()) if path.exists() else {"cells": [], "trials": {}}


def choices() -> pd.DataFrame:
    """Per cell: its choice (lr, B scale, validation accuracy), where it sits in each searched
    dimension, and how many trials ran, were pruned or diverged. Cells with unfinished trials
    have no choice yet."""
    rows = []
    for cell in load_plan().cells:
        records = trials()["trials"].get(cell.name, [])
        states = [r["state"] for r in records]
        best = choose(records) if settled(records) else None
        rows.append({"cell": cell.name, "rule": cell.rule, "width": cell.hidden[0], "depth": len(cell.hidden),
                     "trials": len(records), "pruned": states.count("pruned"), "diverged": states.count("diverged"),
                     "lr": best["params"]["lr"] if best else None,
                     "feedback_scale": best["params"].get("feedback_scale") if best else None,
                     "val_accuracy": best["value"] if best else None,
                     "edges": edges(cell, records) if best else None})
    return pd.DataFrame(rows)


def chosen_depth(table: pd.DataFrame, rule: str, width: int) -> int:
    """The depth of `rule` at `width` whose cell choice has the best validation accuracy (ties: shallower)."""
    rows = table[(table["rule"] == rule) & (table["width"] == width)].sort_values("depth")
    return int(rows.loc[rows["val_accuracy"].astype(float).idxmax(), "depth"])


def cells_of_width(width: int) -> list[str]:
    """The cells one width's comparisons need (see `search.cells_of_width`)."""
    return search_cells_of_width(load_plan(), width)


def seed_grid_yaml(widths: list[int] | None = None) -> str:
    """The verdict runs' grid: every cell's choice and every bar at its chosen rate, seeds 1-5.
    With `widths`, only the cells those widths' comparisons need (a stage of the same grid: its
    points are the full grid's, so the full sweep later skips them as stored)."""
    plan, spec = load_plan(), _spec()
    table = choices()
    if widths is not None:
        table = table[table["cell"].isin([n for w in widths for n in cells_of_width(w)])]
    if table["lr"].isna().any():
        raise ValueError(f"the search is not finished: {int(table['lr'].isna().sum())} cells have no choice yet")
    points, seconds, untimed = [], 0.0, 0
    for row in table.itertuples():
        timed = plan.folder / choose(trials()["trials"][row.cell]).get("result", "-")
        if timed.is_file():
            seconds += len(spec["seeds"]) * json.loads(timed.read_text())["timings"]["wall_s"]
        else:
            untimed += 1
        params = {"lr": float(row.lr)} | ({"feedback_scale": float(row.feedback_scale)} if row.rule != "bp" else {})
        points += [{"rule": row.rule, "hidden": [int(row.width)] * int(row.depth), **params, "seed": s}
                   for s in spec["seeds"]]
    header = ("# Written by dfa_lafs.studies.open_question.seed_grid_yaml from the registered search's choices\n"
              "# (results/sweeps/open_question_search/trials.json); the book checks that it still matches them.\n"
              + (f"# A stage: the cells of widths {widths} only.\n" if widths is not None else "")
              + f"# Budget: {len(points)} runs, about {seconds / 3600:.1f} run-hours (each at its chosen search trial's time"
              + (f"; {untimed} cells without one" if untimed else "") + ").\n")
    return header + yaml.safe_dump({"name": SWEEP, "base": plan.base, "points": points}, sort_keys=False,
                                   default_flow_style=None, width=110)


def _spec() -> dict:
    from . import registration

    return registration()["claims"]["open_question"]


def verdict_runs() -> pd.DataFrame:
    """One row per stored verdict run: rule, width, depth, seed, test and validation accuracy, cap."""
    from ..experiments import SWEEPS_DIR

    columns = ["rule", "width", "depth", "seed", "test_accuracy", "val_accuracy", "hit_cap"]
    if not (SWEEPS_DIR / f"{SWEEP}.yaml").exists():
        return pd.DataFrame(columns=columns)
    rows = [{"rule": r.config.rule, "width": r.config.hidden[0], "depth": len(r.config.hidden), "seed": r.config.seed,
             "test_accuracy": r.final["test/accuracy"], "val_accuracy": r.final["val/accuracy"],
             "hit_cap": bool(r.final["hit_cap"])} for r in stored(SWEEP, allow_missing=True).values()]
    return pd.DataFrame(rows, columns=columns)


def comparisons(widths: list[int] | None = None) -> list[dict]:
    """Every registered comparison (or those of `widths`): rule, bar ("same width" or "as many
    parameters"), width, the chosen depth, its name, and the two samples of test accuracies (seeds 1-5)."""
    table, runs = choices(), verdict_runs()

    def acc(rule, width, depth, column="test_accuracy"):
        return runs[(runs["rule"] == rule) & (runs["width"] == width) & (runs["depth"] == depth)][column].tolist()

    out = []
    for rule in RULES:
        for width in load_plan_widths() if widths is None else widths:
            depth = chosen_depth(table, rule, width)
            bars = [("same width", width)] + ([("as many parameters", matched_width((width,) * depth))] if depth > 1 else [])
            out += [{"rule": rule, "bar": bar, "bar width": w, "width": width, "depth": depth, "a": acc(rule, width, depth),
                     "b": acc("bp", w, 1), "name": f"{rule.upper()} at width {width} ({depth} hidden) vs BP, 1 x {w}",
                     "capped": sum(acc(rule, width, depth, "hit_cap")) + sum(acc("bp", w, 1, "hit_cap"))}
                    for bar, w in bars]
    return out


def load_plan_widths() -> list[int]:
    return list(_spec()["search"]["widths"])


def open_question(rule: Rule) -> Evidence:
    table = choices()
    n_runs = len(table) * len(_spec()["seeds"])
    stored_runs = len(verdict_runs())
    incomplete = rule.spec["verdicts"]["incomplete"].replace("k of n", f"{stored_runs} of {n_runs}")
    if table["lr"].isna().any() or stored_runs < n_runs:
        from .search_report import interim_summary

        searched, early = int(table["lr"].notna().sum()), interim_summary()
        return Evidence(lambda _: ("composed", {"text": incomplete}),
                        number=f"search: {searched} of {len(table)} cells chosen" + (f"; {early}" if early else ""))
    found = comparisons()
    tests = {c["name"]: welch(c["a"], c["b"]) for c in found}
    words = rule.spec["verdicts"]

    def side(dec):
        return ("beats" if dec.test.diff > 0 else "falls short of") if dec.reject else "is not distinguishable from"

    def decide(d):
        parts = []
        for name in RULES:
            mine = [{**c, "side": side(d[c["name"]])} for c in found if c["rule"] == name]
            # with one hidden layer the same-width bar is also the parameter-matched one
            matched = any(c["side"] == "beats" and (c["bar"] == "as many parameters" or c["depth"] == 1) for c in mine)
            if matched:
                key = "yes, with as many parameters"
            elif any(c["side"] == "beats" for c in mine):
                key = "yes, against the same width only"
            elif all(c["side"] == "falls short of" for c in mine):
                key = "no"
            elif all(c["side"] == "is not distinguishable from" for c in mine):
                key = "undecided"
            else:
                key = "no at some widths, undecided at others"
            assert key in words["rule"] and all(c["side"] in words["comparison"] for c in mine)
            detail = "; ".join(f"width {c['width']}: {c['side']} BP with {c['bar']}" for c in mine)
            parts.append(f"{name.upper()}: {key} ({detail})")
        return "composed", {"text": "; ".join(parts)}

    return Evidence(decide, tests, "; ".join(f"{n}: {fmt.pp(t.diff, t.low, t.high)}" for n, t in tests.items()),
                    table)


def scorecard_row(rule: Rule) -> Evidence:
    """Row 5's current rule: the answer is the registered study's (filled in by `studies.verdicts`)."""
    ev = Evidence(lambda _: ("superseded", {"answer": "{answer}"}))
    ev.answer_from = "open_question"
    return ev


def answer_table() -> pd.DataFrame:
    """Per registered comparison: rule, bar, width, chosen depth, the two means, and the
    difference with its interval at the level of its Holm step (empty until the study is complete).
    Beside them, for context (uncorrected, 95%), the softmax regression of the depth study (no
    hidden layer, seeds 1-4) minus each same-width bar, as rule "linear"."""
    from ..stats import welch as _welch
    from . import corrected, verdict
    from .depth import runs as depth_runs
    from .tables import accuracy

    v = verdict("open_question")
    if not v.decisions:
        return pd.DataFrame(columns=["rule", "bar", "width", "depth", "diff", "low", "high"])
    rows = []
    for c in comparisons():
        diff, low, high = corrected(v.decisions[c["name"]])
        rows.append({"rule": c["rule"], "bar": c["bar"], "width": c["width"], "depth": c["depth"],
                     "rule mean": sum(c["a"]) / len(c["a"]), "bar mean": sum(c["b"]) / len(c["b"]),
                     "diff": diff, "low": low, "high": high, "rejected": v.decisions[c["name"]].reject,
                     "runs at the cap": c["capped"]})
    linear = accuracy(depth_runs(), "linear", 0).tolist()
    for c in comparisons():
        if c["rule"] == RULES[0] and c["bar"] == "same width":
            t = _welch(linear, c["b"])
            rows.append({"rule": "linear", "bar": "same width", "width": c["width"], "depth": 0,
                         "rule mean": sum(linear) / len(linear), "bar mean": sum(c["b"]) / len(c["b"]),
                         "diff": t.diff, "low": t.low, "high": t.high, "rejected": None, "runs at the cap": 0})
    return pd.DataFrame(rows)
