"""Aggregation on hand-made results whose table rows, means and t-intervals are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from dfa_lafs import Result, RunConfig
from dfa_lafs.stats import t_critical
from dfa_lafs.studies.runs import LeftoverResultsWarning, bands_by, load_sweep, mean_band, sweep_table
from dfa_lafs.results import ResultError, code_hash
from dfa_lafs.sweep.grid import load_grid, record_grid

STEPS = [0, 10, 100]
T_95_2DF = 4.302652729749  # Student t, two-sided 95%, 2 degrees of freedom (3 seeds)
GRID = {"name": "agg", "base": {"hidden": [8, 8], "epochs": 1}, "grid": {"rule": ["dfa", "lafs"], "seed": [0, 1, 2]}}


def make_result(rule: str, seed: int, angle: list[float], accuracy: float, lr: float = 0.1,
                code: str | None = None) -> Result:
    """A result as run() would return it, with a chosen history for train/angle/1."""
    config = RunConfig(rule=rule, seed=seed, lr=lr, hidden=(8, 8), epochs=1)
    history = {"step": STEPS, "epoch": [s / 100 for s in STEPS], "train/angle/1": angle,
               "train/readout_accuracy/1": [0.1, 0.5, accuracy], "probe/update_angle/3": [90.0, 80.0, 70.0 + seed]}
    return Result(config, history, timings={"wall_s": 10.0 + seed, "train_s": 8.0, "record_share": 0.2},
                  provenance={"code_hash": code or code_hash()}, final={"test/accuracy": accuracy})


def point_ids(grid=GRID) -> dict[tuple[str, int], str]:
    return {(p.config.rule, p.config.seed): p.id for p in load_grid(grid).points}


def write_sweep(folder, grid=GRID):
    """dfa and lafs, 3 seeds each; at each step the dfa angles over seeds are 10, 20, 30 apart.

    Written as run_sweep would: one file per point id, and the grid recorded in the folder.
    """
    ids = point_ids(grid)
    for seed in range(3):
        make_result("dfa", seed, [90.0, 60.0 + 10 * seed, 40.0 + 10 * seed], 0.8 + 0.01 * seed).save(
            folder / f"{ids['dfa', seed]}.json")
        make_result("lafs", seed, [90.0, 50.0, 20.0 + seed], 0.9).save(folder / f"{ids['lafs', seed]}.json")
    record_grid(folder, load_grid(grid))
    return ids


@pytest.fixture
def sweep_folder(tmp_path):
    write_sweep(tmp_path)
    return tmp_path


def test_table_has_one_row_per_point_with_swept_fields_and_last_values(sweep_folder):
    table = sweep_table(sweep_folder)
    assert len(table) == 6
    assert list(table["rule"]) == ["dfa"] * 3 + ["lafs"] * 3 and list(table["seed"]) == [0, 1, 2] * 2
    assert "lr" not in table and "hidden" not in table  # not swept: the same in every run
    assert list(table.columns[:3]) == ["point", "rule", "seed"] and table.columns[-1] == "record_share"
    dfa2 = table.set_index("point").loc[point_ids()["dfa", 2]]
    assert dfa2["final/test/accuracy"] == pytest.approx(0.82)
    assert dfa2["train/angle/1"] == 60.0 and dfa2["probe/update_angle/3"] == 72.0
    assert dfa2["train/readout_accuracy/1"] == pytest.approx(0.82) and dfa2["wall_s"] == 12.0


def test_mean_band_is_the_t_interval_over_seeds(sweep_folder):
    results, ids = load_sweep(sweep_folder), point_ids()
    band = mean_band([results[ids["dfa", s]] for s in range(3)], "train/angle/1")
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
    results = {**load_sweep(sweep_folder), "dfa-lr": make_result("dfa", 5, [90.0, 60.0, 40.0], 0.8, lr=0.3)}
    with pytest.raises(ValueError, match=r"runs with rule='dfa' differ in \['lr'\], not only in seed"):
        bands_by(results, "train/angle/1", by=["rule"])
    assert ("dfa", 0.3) in bands_by(results, "train/angle/1", by=["rule", "lr"])


def test_one_run_has_no_band_and_steps_must_match():
    single = mean_band([make_result("dfa", 0, [1.0, 2.0, 3.0], 0.5)], "train/angle/1")
    assert np.isnan(single.low).all() and list(single.mean) == [1.0, 2.0, 3.0]
    other = make_result("dfa", 1, [1.0, 2.0, 3.0], 0.5)
    other.history["step"] = [0, 20, 100]
    with pytest.raises(ValueError, match="different steps"):
        mean_band([make_result("dfa", 0, [1.0, 2.0, 3.0], 0.5), other], "train/angle/1")


# --- freshness: a sweep's results count only as points of its current grid, made by this code ---

def test_a_folder_that_records_no_grid_is_refused(tmp_path):
    with pytest.raises(ResultError, match="no sweep folder"):
        load_sweep(tmp_path / "nowhere")
    make_result("dfa", 0, [1.0, 2.0, 3.0], 0.5).save(tmp_path / "old.json")
    with pytest.raises(ResultError, match=r"does not record which grid made it \(_grid.json\); pass grid="):
        load_sweep(tmp_path)


def test_missing_stale_and_edited_points_are_refused_naming_the_command(sweep_folder):
    ids = point_ids()
    (sweep_folder / f"{ids['dfa', 0]}.json").unlink()
    with pytest.raises(ResultError) as err:
        load_sweep(sweep_folder)
    message = str(err.value)
    assert message.startswith("1 of 6 points of grid 'agg' have no fresh result") and ids["dfa", 0] in message
    assert "redoes only those" in message and "\n" not in message
    write_sweep(sweep_folder)
    make_result("lafs", 1, [1.0, 2.0, 3.0], 0.5, code="0" * 16).save(sweep_folder / f"{ids['lafs', 1]}.json")
    with pytest.raises(ResultError, match="1 of 6 points .* the training code changed"):
        load_sweep(sweep_folder)
    assert len(load_sweep(sweep_folder, allow_stale=True)) == 6  # other code, if asked; never another config
    with pytest.raises(ResultError, match="1 of 6 points .* the training code changed"):
        load_sweep(sweep_folder, allow_missing=True)  # a sweep under way: missing is fine, stale is not
    (sweep_folder / f"{ids['lafs', 1]}.json").unlink()
    assert sorted(load_sweep(sweep_folder, allow_missing=True)) == sorted(set(ids.values()) - {ids["lafs", 1]})
    assert load_sweep(sweep_folder / "not-started", grid=GRID, allow_missing=True) == {}  # not started yet
    path = sweep_folder / f"{ids['dfa', 2]}.json"
    path.write_text(path.read_text().replace('"epochs": 1', '"epochs": 7'))  # a hand-edited config
    with pytest.raises(ResultError, match="has been edited"):
        load_sweep(sweep_folder, allow_stale=True)


def test_leftovers_are_reported_and_left_out(sweep_folder):
    make_result("dfa", 5, [90.0, 60.0, 40.0], 0.8, lr=0.3).save(sweep_folder / "old-point.json")
    with pytest.warns(LeftoverResultsWarning, match=r"1 result file\(s\) .* not points of grid 'agg' .* old-point"):
        results = load_sweep(sweep_folder)
    assert sorted(results) == sorted(point_ids().values())


def test_the_current_grid_file_decides(tmp_path):
    """Edit the grid file after the sweep: new points are missing, dropped ones become leftovers."""
    grid_file, folder = tmp_path / "agg.yaml", tmp_path / "results"
    grid_file.write_text(yaml.safe_dump(GRID))
    folder.mkdir()
    write_sweep(folder, grid_file)
    assert len(load_sweep(folder)) == 6
    grid_file.write_text(yaml.safe_dump({**GRID, "grid": {"rule": ["dfa", "lafs"], "seed": [0, 1, 2, 3]}}))
    with pytest.raises(ResultError, match=rf"2 of 8 points of {grid_file} have no fresh result.*sweep {grid_file}"):
        load_sweep(folder)
    grid_file.write_text(yaml.safe_dump({**GRID, "grid": {"rule": ["dfa"], "seed": [0, 1, 2]}}))
    with pytest.warns(LeftoverResultsWarning, match="3 result file"):
        assert len(load_sweep(folder)) == 3
    grid_file.unlink()
    with pytest.raises(ResultError, match=f"names the grid file {grid_file}, which no longer exists"):
        load_sweep(folder)


@pytest.mark.parametrize("level, df, expected", [
    (0.95, 1, 12.706204736), (0.95, 2, 4.302652730), (0.95, 4, 2.776445105), (0.95, 9, 2.262157163),
    (0.95, 30, 2.042272456), (0.99, 5, 4.032142984), (0.90, 7, 1.894578605),
])
def test_t_critical_matches_tables(level, df, expected):
    assert t_critical(level, df) == pytest.approx(expected, rel=1e-8)
