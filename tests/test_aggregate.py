"""Aggregation on hand-made results whose table rows, means and t-intervals are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dfa_lafs import Result, RunConfig
from dfa_lafs.aggregate import bands_by, load_sweep, mean_band, sweep_table, t_critical
from dfa_lafs.results import ResultError, code_hash

STEPS = [0, 10, 100]
T_95_2DF = 4.302652729749  # Student t, two-sided 95%, 2 degrees of freedom (3 seeds)


def make_result(rule: str, seed: int, angle: list[float], accuracy: float, lr: float = 0.1,
                code: str | None = None) -> Result:
    """A result as run() would return it, with a chosen history for train/angle/1."""
    config = RunConfig(rule=rule, seed=seed, lr=lr, hidden=(8, 8), epochs=1)
    history = {"step": STEPS, "epoch": [s / 100 for s in STEPS], "train/angle/1": angle,
               "train/readout_accuracy/1": [0.1, 0.5, accuracy], "probe/update_angle/3": [90.0, 80.0, 70.0 + seed]}
    return Result(config, history, timings={"wall_s": 10.0 + seed, "train_s": 8.0, "record_share": 0.2},
                  provenance={"code_hash": code or code_hash()}, final={"test/accuracy": accuracy})


@pytest.fixture
def sweep_folder(tmp_path):
    """dfa and lafs, 3 seeds each; at each step the dfa angles over seeds are 10, 20, 30 apart."""
    for seed in range(3):
        make_result("dfa", seed, [90.0, 60.0 + 10 * seed, 40.0 + 10 * seed], 0.8 + 0.01 * seed).save(
            tmp_path / f"dfa-{seed}.json")
        make_result("lafs", seed, [90.0, 50.0, 20.0 + seed], 0.9).save(tmp_path / f"lafs-{seed}.json")
    return tmp_path


def test_table_has_one_row_per_point_with_swept_fields_and_last_values(sweep_folder):
    table = sweep_table(sweep_folder)
    assert len(table) == 6
    assert list(table["rule"]) == ["dfa"] * 3 + ["lafs"] * 3 and list(table["seed"]) == [0, 1, 2] * 2
    assert "lr" not in table and "hidden" not in table  # not swept: the same in every run
    assert list(table.columns[:3]) == ["point", "rule", "seed"] and table.columns[-1] == "record_share"
    dfa2 = table.set_index("point").loc["dfa-2"]
    assert dfa2["final/test/accuracy"] == pytest.approx(0.82)
    assert dfa2["train/angle/1"] == 60.0 and dfa2["probe/update_angle/3"] == 72.0
    assert dfa2["train/readout_accuracy/1"] == pytest.approx(0.82) and dfa2["wall_s"] == 12.0


def test_mean_band_is_the_t_interval_over_seeds(sweep_folder):
    results = load_sweep(sweep_folder)
    band = mean_band([results[f"dfa-{s}"] for s in range(3)], "train/angle/1")
    assert band.n == 3 and list(band.step) == STEPS
    # step 10: angles 60, 70, 80 -> mean 70, sample sd 10; step 0: all 90, no spread
    half = T_95_2DF * 10 / math.sqrt(3)
    np.testing.assert_allclose(band.mean, [90, 70, 50])
    np.testing.assert_allclose(band.low, [90, 70 - half, 50 - half])
    np.testing.assert_allclose(band.high, [90, 70 + half, 50 + half])


def test_bands_by_rule(sweep_folder):
    bands = bands_by(load_sweep(sweep_folder), "train/angle/1", by=["rule"])
    assert list(bands) == [("dfa",), ("lafs",)]
    lafs = bands[("lafs",)]
    np.testing.assert_allclose(lafs.mean, [90, 50, 21])
    np.testing.assert_allclose(lafs.high - lafs.mean, [0, 0, T_95_2DF * 1 / math.sqrt(3)])


def test_bands_refuse_to_mix_settings(sweep_folder):
    make_result("dfa", 5, [90.0, 60.0, 40.0], 0.8, lr=0.3).save(sweep_folder / "dfa-lr.json")
    with pytest.raises(ValueError, match=r"runs with rule='dfa' differ in \['lr'\], not only in seed"):
        bands_by(load_sweep(sweep_folder), "train/angle/1", by=["rule"])
    assert ("dfa", 0.3) in bands_by(load_sweep(sweep_folder), "train/angle/1", by=["rule", "lr"])


def test_one_run_has_no_band_and_steps_must_match():
    single = mean_band([make_result("dfa", 0, [1.0, 2.0, 3.0], 0.5)], "train/angle/1")
    assert np.isnan(single.low).all() and list(single.mean) == [1.0, 2.0, 3.0]
    other = make_result("dfa", 1, [1.0, 2.0, 3.0], 0.5)
    other.history["step"] = [0, 20, 100]
    with pytest.raises(ValueError, match="different steps"):
        mean_band([make_result("dfa", 0, [1.0, 2.0, 3.0], 0.5), other], "train/angle/1")


def test_stale_and_missing_results_are_refused(tmp_path):
    with pytest.raises(ResultError, match="no result files"):
        load_sweep(tmp_path)
    make_result("dfa", 0, [1.0, 2.0, 3.0], 0.5, code="0" * 16).save(tmp_path / "old.json")
    with pytest.raises(ResultError, match="1 of 1 results .* are stale .* old.json"):
        load_sweep(tmp_path)
    assert list(load_sweep(tmp_path, allow_stale=True)) == ["old"]


@pytest.mark.parametrize("level, df, expected", [
    (0.95, 1, 12.706204736), (0.95, 2, 4.302652730), (0.95, 4, 2.776445105), (0.95, 9, 2.262157163),
    (0.95, 30, 2.042272456), (0.99, 5, 4.032142984), (0.90, 7, 1.894578605),
])
def test_t_critical_matches_tables(level, df, expected):
    assert t_critical(level, df) == pytest.approx(expected, rel=1e-8)
