"""Stored runs as tables: a sweep folder checked against its grid, the protocol's run tables
(learning rate chosen on validation), and curves averaged over seeds with confidence bands.

`sweep_table(folder)` has one row per point (its file stem): the config fields that differ
between the folder's runs, the final full-test-set metrics (columns `final/...`), the last
recorded value of every history metric under its own name (`train/angle/1`,
`train/readout_accuracy/1`, `probe/update_angle/3`, ...), and the timings.

`mean_band(results, metric)` is the mean over runs (seeds) of a history metric at each recorded
step with a two-sided Student-t confidence interval,

    mean +- t_{(1 + level)/2, n-1} * s / sqrt(n),    s the sample standard deviation (ddof 1),

so with 5 seeds at level 0.95 the half-width is 2.776 s / sqrt(5). It treats the runs as
independent draws and the metric as roughly normal across seeds; a bootstrap would be no better
with 5 runs. With a single run the band is NaN: there is no spread to estimate.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import PLACE_FIELDS, RunConfig, field_names
from ..results import Result, ResultError, load_result
from ..stats import t_critical
from ..sweep.grid import RECORD, Grid, GridError, load_grid, recorded_grid

TIMING_COLUMNS = ("wall_s", "train_s", "record_share")


def load_sweep(folder: str | os.PathLike, grid: str | os.PathLike | dict | Grid | None = None, *,
               allow_stale: bool = False, allow_missing: bool = False) -> dict[str, Result]:
    """The results of a sweep's points, by point id, checked against its grid and the code.

    grid: the grid (file, dict or Grid) the results belong to; default: the grid file that
    the folder records (`_grid.json`, written by run_sweep), re-read as it is *now*. Every
    point of that grid must have a result made by its config and this code, else a one-line
    ResultError names the points and the command that redoes exactly those. allow_stale=True
    accepts results of other training code (never of another config). Result files in the
    folder that are no point of the grid (leftovers of an earlier grid) are left out, with a
    LeftoverResultsWarning naming them. allow_missing=True is for a sweep still under way: points
    with no result file are left out (compare len(result) with the grid's points), while a result
    that exists but is stale or edited is still refused.
    """
    folder = Path(folder)
    if not folder.is_dir() and allow_missing and grid is not None:
        return {}  # a sweep not started yet
    if not folder.is_dir():
        raise ResultError(f"no sweep folder at {folder}; run the sweep first (python -m dfa_lafs sweep GRID.yaml)")
    grid = _sweep_grid(folder, grid)
    results, problems = {}, {}
    for point in grid.points:
        if allow_missing and not (folder / f"{point.id}.json").exists():
            continue
        try:
            results[point.id] = load_result(folder / f"{point.id}.json", expect=point.config,
                                            check_code=not allow_stale)
        except ResultError as err:
            problems[point.id] = str(err).split("; regenerate")[0]
    if problems:
        first = next(iter(problems.values()))
        command = f"python -m dfa_lafs sweep {grid.source or 'GRID.yaml'} --out {folder}"
        raise ResultError(f"{len(problems)} of {len(grid.points)} points of {grid.describe()} have no fresh "
                          f"result in {folder} (e.g. {first}); `{command}` redoes only those")
    leftovers = sorted({p.name for p in folder.glob("*.json")} - {f"{pid}.json" for pid in results} - {RECORD})
    if leftovers:
        warnings.warn(f"{len(leftovers)} result file(s) in {folder} are not points of {grid.describe()} and are "
                      f"left out: {', '.join(leftovers[:3])}{' ...' if len(leftovers) > 3 else ''}",
                      LeftoverResultsWarning, stacklevel=2)
    return results


class LeftoverResultsWarning(UserWarning):
    """A sweep folder holds result files that are no point of its grid."""


def _sweep_grid(folder: Path, grid) -> Grid:
    try:
        found = load_grid(grid) if grid is not None else recorded_grid(folder)
    except GridError as err:
        raise ResultError(str(err)) from None
    if found is None:
        raise ResultError(f"{folder} does not record which grid made it ({RECORD}); pass grid=GRID.yaml, or "
                          f"rerun the sweep (python -m dfa_lafs sweep GRID.yaml --out {folder}) to record it")
    return found


def varying_fields(configs: Iterable[RunConfig]) -> list[str]:
    """Config fields (other than where a run ran) whose value differs between the configs."""
    dicts = [c.to_dict() for c in configs]
    return [name for name in field_names() if name not in PLACE_FIELDS
            and len({repr(d[name]) for d in dicts}) > 1]


def sweep_table(source: str | os.PathLike | Mapping[str, Result], *,
                grid: str | os.PathLike | dict | Grid | None = None, allow_stale: bool = False) -> pd.DataFrame:
    """One row per point: swept fields, final metrics, last recorded history values, timings.

    source: results by point id, or a sweep folder (read with `load_sweep(source, grid, allow_stale=allow_stale)`).
    """
    results = source if isinstance(source, Mapping) else load_sweep(source, grid, allow_stale=allow_stale)
    swept = varying_fields(r.config for r in results.values())
    rows = []
    for pid, r in results.items():
        row = {"point": pid, **{name: getattr(r.config, name) for name in swept}}
        row.update({f"final/{name}": value for name, value in r.final.items()})
        row.update({name: values[-1] for name, values in r.history.items() if values})
        row.update({name: r.timings[name] for name in TIMING_COLUMNS if name in r.timings})
        rows.append(row)
    table = pd.DataFrame(rows)
    # Columns in a fixed order whatever the depth of the first run: point, swept, metrics by name, timings.
    timings = [name for name in TIMING_COLUMNS if name in table]
    metrics = sorted(set(table.columns) - {"point", *swept, *timings})
    table = table[["point", *swept, *metrics, *timings]]
    return table.sort_values(swept, kind="stable").reset_index(drop=True) if swept else table


@dataclass(frozen=True)
class Band:
    """Mean of a metric over n runs at each recorded step, with the confidence band [low, high]."""

    step: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int


def mean_band(results: Iterable[Result], metric: str, level: float = 0.95) -> Band:
    """Mean and Student-t confidence band over runs of history[metric] at each recorded step.

    The runs must share their recording steps (same schedule: they differ only in seed).
    """
    runs = list(results)
    if not runs:
        raise ValueError(f"no runs to average for {metric!r}")
    steps = np.asarray(runs[0].history["step"], dtype=float)
    for r in runs[1:]:
        if not np.array_equal(np.asarray(r.history["step"], dtype=float), steps):
            raise ValueError(f"runs record {metric!r} at different steps; average runs that differ only in seed")
    values = np.array([r.series(metric) for r in runs], dtype=float)
    mean = values.mean(axis=0)
    if len(runs) < 2:
        half = np.full_like(mean, np.nan)
    else:
        half = t_critical(level, len(runs) - 1) * values.std(axis=0, ddof=1) / math.sqrt(len(runs))
    return Band(steps, mean, mean - half, mean + half, len(runs))


def bands_by(results: Mapping[str, Result] | Iterable[Result], metric: str, by: Iterable[str] = ("rule",),
             level: float = 0.95) -> dict[tuple, Band]:
    """mean_band for each group of runs with the same values of the `by` fields, e.g. per rule.

    Within a group the runs must differ only in seed, else the band would mix settings.
    """
    by = tuple(by)
    runs = list(results.values()) if isinstance(results, Mapping) else list(results)
    groups: dict[tuple, list[Result]] = {}
    for r in runs:
        groups.setdefault(tuple(getattr(r.config, name) for name in by), []).append(r)
    for key, group in groups.items():
        mixed = [name for name in varying_fields(r.config for r in group) if name != "seed"]
        if mixed:
            label = ", ".join(f"{name}={value!r}" for name, value in zip(by, key, strict=True))
            raise ValueError(f"runs with {label} differ in {mixed}, not only in seed; add them to `by`")
    return {key: mean_band(group, metric, level) for key, group in sorted(groups.items(), key=lambda kv: repr(kv[0]))}
