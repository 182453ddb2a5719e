"""Running a sweep: each point executes the experiment notebook with papermill.

Each point runs `dfa_lafs/notebooks/experiment.ipynb` in a fresh kernel and leaves
`OUT/<point id>.ipynb` (the executed notebook) and `OUT/<point id>.json` (the Result). A point
whose JSON loads fresh for its config is skipped, so an interrupted sweep resumes where it
stopped. Points run serially, on a Dask LocalCluster (one single-threaded worker per core), or
on an existing Dask cluster (`scheduler="tcp://host:port"`). Workers send the files back to
this process, which writes them: the cluster needs no shared file system. `OUT/_grid.json`
records which grid file the folder belongs to (see `grid.record_grid`).
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..files import atomic_write_text, check_result_path, check_writable, stored_results_root
from ..results import ResultError, load_result
from .grid import RECORD, Grid, GridError, Point, load_grid, record_grid, recorded_grid_file

NOTEBOOK = "experiment.ipynb"
KERNEL_NAME = "python3"


def default_out(name: str) -> Path:
    """A sweep's folder when none is given: <stored results>/sweeps/<name> ($DFA_LAFS_RESULTS, else the
    repository's results/)."""
    return stored_results_root() / "sweeps" / name


@dataclass(frozen=True)
class PointOutcome:
    """What executing one point sent back: the notebook, and the result JSON unless it failed."""

    id: str
    notebook: str | None
    result_json: str | None
    error: str | None
    seconds: float


@dataclass
class SweepReport:
    """What a sweep did: which points ran, were skipped (fresh results existed), or failed."""

    name: str
    out_dir: Path
    points: list[str]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # point id -> error
    others: list[str] = field(default_factory=list)  # results in out_dir that are no point of this grid
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def text(self) -> str:
        lines = [f"sweep {self.name}: {len(self.points)} points, {len(self.ran)} ran, {len(self.skipped)} skipped "
                 f"(fresh results), {len(self.failed)} failed, in {self.seconds:.0f} s; results in {self.out_dir}"]
        if self.others:
            lines.append(f"note: {len(self.others)} other result(s) in {self.out_dir} are not points of this grid "
                         f"(an earlier version of it?), e.g. {self.others[0]}.json; load_sweep leaves them out")
        lines += [f"FAILED {pid}: {error} (see {self.out_dir / f'{pid}.ipynb'})" for pid, error in self.failed.items()]
        return "\n".join(lines)


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_workers(workers) -> int:
    """`workers` if it is an int >= 1 (None: one per core), else a one-line ValueError."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    return workers


def run_sweep(grid: Grid | str | os.PathLike | dict, out_dir: str | os.PathLike | None = None, *,
              workers: int | None = None, scheduler: str | None = None, data_root: str | os.PathLike | None = None,
              threads: int | None = None, progress: bool = True, replace_stored: bool = False,
              allow_large: bool = False) -> SweepReport:
    """Run every point of `grid` that has no fresh result in `out_dir`; never raises for failed points.

    out_dir: this sweep's folder (default `default_out`: $DFA_LAFS_RESULTS/sweeps/<name>, else
    the repository's results/sweeps/<name>). workers: local processes (default one per core; 1
    runs in this process, without Dask). scheduler: the address of a running Dask cluster to use
    instead. threads: torch CPU threads per point (default 1 when points run in parallel, else
    torch's default). replace_stored: remake stale or unreadable results of a folder under the
    stored results (else refused). allow_large: accept more than MAX_POINTS points. Everything
    is checked before the first point runs. Check `report.ok` or `report.failed`.
    """
    grid = load_grid(grid, data_root, allow_large=allow_large)
    out = Path(out_dir) if out_dir is not None else default_out(grid.name)
    workers = check_workers(workers)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 0):
        raise ValueError(f"threads must be an int >= 0 (0 keeps torch's default), got {threads!r}")
    _check_folder(out, grid)
    parallel = scheduler is not None or workers > 1
    threads = (1 if parallel else 0) if threads is None else threads
    report = SweepReport(grid.name, out, [p.id for p in grid.points])
    todo = [p for p in grid.points if not _is_fresh(out, p)]
    for point in todo:  # a stale stored result is replaced only when asked; no file that is not one is
        check_result_path(out / f"{point.id}.json", f"point {point.id}'s result", replace_stored)
    report.skipped = [p.id for p in grid.points if p not in todo]
    report.others = sorted({path.stem for path in out.glob("*.json")} - set(report.points) - {Path(RECORD).stem})
    record_grid(out, grid)
    start = time.perf_counter()
    bar = tqdm(total=len(grid.points), initial=len(report.skipped), desc=f"sweep {grid.name}", unit="point",
               disable=not progress, dynamic_ncols=True)
    with bar:
        for outcome in _outcomes(todo, threads, workers, scheduler, parallel):
            _store(out, outcome, report)
            bar.update(1)
            bar.set_postfix(failed=len(report.failed), refresh=False)
    report.seconds = time.perf_counter() - start
    return report


def _check_folder(out: Path, grid: Grid) -> None:
    """The folder can be written, and holds no other grid file's sweep (two grids must not mix)."""
    check_writable(out / RECORD, "sweep folder")
    recorded = recorded_grid_file(out)
    if recorded is not None and recorded.exists() and recorded != grid.source:
        raise GridError(f"{out} holds the results of {recorded}; running {grid.describe()} there would mix two "
                        f"grids: pass another output folder (--out), or delete {out / RECORD} to hand it over")


def _is_fresh(out: Path, point: Point) -> bool:
    """Whether the point's result exists and was made by its config and this code."""
    try:
        load_result(out / f"{point.id}.json", expect=point.config)
    except (ResultError, ValueError):  # missing, stale, tampered, or written by another version
        return False
    return True


def _store(out: Path, outcome: PointOutcome, report: SweepReport) -> None:
    """Write the notebook, then the result (its presence marks the point done)."""
    if outcome.notebook is not None:
        atomic_write_text(out / f"{outcome.id}.ipynb", outcome.notebook)
    if outcome.error is None:
        atomic_write_text(out / f"{outcome.id}.json", outcome.result_json)
        report.ran.append(outcome.id)
    else:
        stale = out / f"{outcome.id}.json"
        stale.unlink(missing_ok=True)  # a stale result of this point must not look like this run's
        report.failed[outcome.id] = outcome.error


def kernel_manager_class():
    """A kernel manager that starts ipykernel with *this* interpreter.

    papermill asks for the `python3` kernel, whose kernelspec may come from another Python
    (a user-wide ~/.local/share/jupyter/kernels/python3, a system Jupyter) that lacks dfa_lafs
    or has another version of it. Pinning sys.executable makes the kernel run the same
    environment as the runner (on a Dask worker: the worker's), with no kernelspec to install.
    """
    from ipykernel.kernelspec import make_ipkernel_cmd
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class ThisPythonKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:
            if self._kernel_spec is None:
                # log_level CRITICAL: ipykernel warns on every start that local TCP is unencrypted,
                # and logs "ERROR | KeyboardInterrupt caught in kernel" when jupyter_client
                # interrupts it before shutting it down (every point) or on Ctrl-C: lines on the
                # sweep's stderr that would bury its progress bar and its one-line messages. The
                # run's own errors still arrive, through the executed notebook.
                argv = make_ipkernel_cmd(extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
                self._kernel_spec = KernelSpec(argv=argv, name=KERNEL_NAME, language="python",
                                               display_name=f"Python {sys.version_info[0]} ({sys.executable})")
            return self._kernel_spec

    return ThisPythonKernelManager


def execute_point(pid: str, config: dict, threads: int = 0) -> PointOutcome:
    """Execute the experiment notebook for one config (a RunConfig dict); never raises for the run's errors."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    notebook_in = importlib.resources.files("dfa_lafs") / "notebooks" / NOTEBOOK
    with tempfile.TemporaryDirectory(prefix="dfa_lafs_point_") as tmp, \
            importlib.resources.as_file(notebook_in) as notebook_path:
        out_nb, out_json = Path(tmp) / f"{pid}.ipynb", Path(tmp) / f"{pid}.json"
        params = {**config, "result_path": str(out_json), "threads": threads}
        error = None
        try:  # the kernel keeps this process's cwd, so a relative data_root means what it says
            pm.execute_notebook(str(notebook_path), str(out_nb), parameters=params, kernel_name=KERNEL_NAME,
                                progress_bar=False, kernel_manager_class=kernel_manager_class())
        except PapermillExecutionError as err:
            error = f"{err.ename}: {err.evalue}"
        except Exception as err:  # the kernel died or never started: report it like a failed run
            error = f"{type(err).__name__}: {err}"
        if error is None and not out_json.exists():
            error = f"the notebook finished without writing {out_json.name}"
        notebook = out_nb.read_text() if out_nb.exists() else None
        result_json = out_json.read_text() if error is None else None
    return PointOutcome(pid, notebook, result_json, error, time.perf_counter() - start)


def _outcomes(points: list[Point], threads: int, workers: int, scheduler: str | None, parallel: bool):
    """Outcomes in the order points finish: in this process, or on a Dask cluster."""
    if not points:
        return iter(())
    if parallel:
        return _run_on_dask(points, threads, workers, scheduler)
    return (execute_point(p.id, p.config.to_dict(), threads) for p in points)


def _run_on_dask(points: list[Point], threads: int, workers: int, scheduler: str | None):
    """Yield outcomes as points finish on a Dask cluster: the given one, or a LocalCluster."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        # Processes, not threads: each point is a papermill kernel plus torch; one thread per
        # worker so `workers` points use `workers` cores.
        with warnings.catch_warnings():  # another cluster on this machine holds port 8787: any port will do
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with Client(scheduler if scheduler is not None else cluster) as client:
            futures = {client.submit(execute_point, p.id, p.config.to_dict(), threads, pure=False): p
                       for p in points}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # the worker died (KilledWorker) or the task could not run
                    yield PointOutcome(futures[future].id, None, None, f"{type(err).__name__}: {err}", 0.0)
    finally:
        if cluster is not None:
            cluster.close()
