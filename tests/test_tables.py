"""The protocol's run tables and the studies' helpers, on hand-made tables and runs."""

import pandas as pd
import pytest

from dfa_lafs.config import RunConfig
from dfa_lafs.results import Result
from dfa_lafs.stats import welch
from dfa_lafs.studies import width
from dfa_lafs.studies.depth import best_depth
from dfa_lafs.studies.tables import at_chosen, choose_lr, summarize


def _runs():
    rows = [{"rule": "dfa", "depth": 1, "lr": lr, "val_accuracy": v} for lr, v in [(0.03, 0.90), (0.1, 0.95), (0.3, 0.93)]]
    rows += [{"rule": "lafs", "depth": 1, "lr": lr, "val_accuracy": v} for lr, v in [(0.03, 0.80), (0.1, 0.85), (0.3, 0.97)]]
    return pd.DataFrame(rows)


def test_choose_lr_picks_best_validation_and_flags_edges():
    chosen = choose_lr(_runs()).set_index("rule")
    assert chosen.loc["dfa", "lr"] == 0.1 and not chosen.loc["dfa", "at_edge"]
    assert chosen.loc["lafs", "lr"] == 0.3 and chosen.loc["lafs", "at_edge"]


def result(lr, seed, val, rule="dfa"):
    final = {"val/accuracy": val, "test/accuracy": val, "best_epoch": 3, "epochs_run": 5, "hit_cap": seed == 2}
    return Result(RunConfig(rule=rule, hidden=(8,), lr=lr, seed=seed, val_size=100, patience=2), {}, {}, {}, final)


def test_the_search_seed_is_out_of_the_sample_unless_asked():
    search = {"a": result(0.1, 0, 0.90), "b": result(0.3, 0, 0.95)}
    seeds = {"c": result(0.3, 1, 0.94), "d": result(0.3, 2, 0.93)}
    assert list(zip(at_chosen(search, seeds)["lr"], at_chosen(search, seeds)["seed"])) == [(0.3, 1), (0.3, 2)]
    runs = at_chosen(search, seeds, with_search_seed=True)
    assert list(zip(runs["lr"], runs["seed"])) == [(0.3, 0), (0.3, 1), (0.3, 2)]
    with pytest.raises(ValueError, match="appears twice"):
        at_chosen(search, {"c": result(0.3, 0, 0.94)}, with_search_seed=True)
    s = summarize(at_chosen(search, seeds)).iloc[0]
    assert s["n"] == 2 and s["test_mean"] == pytest.approx(0.935) and s["hit_cap_rate"] == 0.5


def test_best_depth_is_chosen_on_the_column_asked_for():
    runs = pd.DataFrame([{"rule": "lafs", "depth": d, "test_accuracy": t, "val_accuracy": v}
                         for d, t, v in [(1, 0.95, 0.94), (3, 0.94, 0.96)]])
    assert best_depth(runs, "lafs", "test_accuracy") == 1
    assert best_depth(runs, "lafs", "val_accuracy") == 3


def _width_runs():
    rows = []
    for rule in ("bp", "fa", "dfa", "lafs"):
        for depth in (1, 3):
            for k in range(3):
                rows.append({"rule": rule, "depth": depth, "test_accuracy": 0.97 + 0.001 * k + 0.01 * (depth == 3)})
    return pd.DataFrame(rows)


def test_the_width_comparisons_are_18_distinct_not_19():
    linear = [0.920, 0.921, 0.922]
    first = width.comparisons(_width_runs(), linear, distinct=False)
    distinct = width.comparisons(_width_runs(), linear, distinct=True)
    assert len(first) == 19 and len(distinct) == 18
    # the duplicate: BP's 3 vs 1 hidden layers, as a comparison with the bar and as a gain from depth
    same = {name: welch(a, b).diff for name, a, b in first}
    assert same["BP, 3 hidden vs BP, 1 hidden"] == same["BP: 3 vs 1 hidden"]
    assert "BP: 3 vs 1 hidden" not in {name for name, _, _ in distinct}
