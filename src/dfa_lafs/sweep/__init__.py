"""Sweeps: a YAML grid of runs, each point executed as the experiment notebook with papermill.

One module per job: `params` (parameters checked against RunConfig's types), `grid` (grid files
to validated points; which grid a sweep folder holds), `runner` (papermill per point, serially
or on Dask; resumable), `notebook` (what the experiment notebook calls). The command line,
`python -m dfa_lafs sweep GRID.yaml`, lives in `dfa_lafs.cli`.
"""

from .grid import MAX_POINTS, Grid, GridError, Point, count_points, load_grid, point_id, recorded_grid
from .notebook import notebook_parameters, run_and_save, summary
from .params import NOTEBOOK_ONLY, check_parameters, config_from_parameters, parameter_types
from .runner import PointOutcome, SweepReport, default_out, execute_point, kernel_manager_class, run_sweep

__all__ = ["MAX_POINTS", "Grid", "GridError", "NOTEBOOK_ONLY", "Point", "PointOutcome", "SweepReport",
           "check_parameters", "config_from_parameters", "count_points", "default_out", "execute_point",
           "kernel_manager_class", "load_grid", "notebook_parameters", "parameter_types", "point_id",
           "recorded_grid", "run_and_save", "run_sweep", "summary"]
