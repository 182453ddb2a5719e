"""Sweeps: a YAML grid of runs, each point executed as the experiment notebook with papermill.

A grid file names a sweep, a `base` config and the values to vary:

    name: lr
    base: {hidden: [800, 800, 800], epochs: 10}
    grid: {rule: [dfa, lafs], lr: [0.01, 0.1, 1.0]}     # cartesian product over base
    points: [{rule: bp, lr: 0.1}]                       # optional: extra single points

`grid` may also be a list of such mappings (a union of products). Every point is turned into
a RunConfig before anything trains, so a typo fails in a second, not an hour into the sweep.

Each point runs `dfa_lafs/notebooks/experiment.ipynb` in a fresh kernel and leaves
`OUT/<point id>.ipynb` (the executed notebook) and `OUT/<point id>.json` (the Result). A point
whose JSON loads fresh for its config is skipped, so an interrupted sweep resumes where it
stopped. Points run serially, on a Dask LocalCluster (one single-threaded worker per core), or
on an existing Dask cluster (`scheduler="tcp://host:port"`). Workers send the files back to
this process, which writes them: the cluster needs no shared file system.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib.resources
import itertools
import logging
import os
import re
import sys
import tempfile
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from tqdm.auto import tqdm

from .config import RunConfig, field_names
from .results import Result, ResultError, atomic_write_text, load_result
from .train import run

NOTEBOOK = "experiment.ipynb"
KERNEL_NAME = "python3"
GRID_KEYS = ("name", "base", "grid", "points")
DEFAULT_OUT_ROOT = Path("results") / "sweeps"
# Notebook parameters that are not RunConfig fields: where to save, and how many CPU threads.
NOTEBOOK_ONLY = {"result_path": str, "threads": int}


class GridError(ValueError):
    """A grid file or one of its points is invalid; nothing has been run."""


# ---------------------------------------------------------------------------------------------
# Parameters: the notebook's, and each grid point's, checked against RunConfig's field types.
# ---------------------------------------------------------------------------------------------

def parameter_types() -> dict[str, object]:
    """Each accepted parameter name -> its type hint (RunConfig's fields plus NOTEBOOK_ONLY)."""
    hints = typing.get_type_hints(RunConfig)
    return {**{name: hints[name] for name in field_names()}, **NOTEBOOK_ONLY}


def check_parameters(params: dict) -> list[str]:
    """One message per unknown name or mistyped value in `params` (empty: all fine)."""
    types_ = parameter_types()
    problems = []
    for name, value in params.items():
        if name not in types_:
            close = difflib.get_close_matches(name, types_, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(types_)}"
            problems.append(f"unknown parameter {name!r} ({hint})")
        elif not _has_type(value, types_[name]):
            problems.append(_type_message(name, value, types_[name]))
    return problems


def config_from_parameters(params: dict) -> RunConfig:
    """A RunConfig from notebook or grid parameters, with one-line errors papermill would not give.

    Papermill passes values through untyped (`-p lr 1` arrives as int, `-p lr fast` as str) and
    only warns about unknown names; both are errors here. Ints for float fields are converted,
    so `lr: 1` and `lr: 1.0` are the same run with the same key. NOTEBOOK_ONLY names are
    checked and left out of the config.
    """
    problems = check_parameters(params)
    if problems:
        raise ValueError("bad parameters: " + "; ".join(problems))
    hints = parameter_types()
    fields = {name: float(value) if hints[name] is float else value
              for name, value in params.items() if name not in NOTEBOOK_ONLY}
    return RunConfig.from_dict(fields)


def notebook_parameters(namespace: dict) -> dict:
    """The parameters a notebook received: the plain values its parameters cells defined.

    Called with `globals()` right after papermill's injected cell, so it sees unknown names
    that papermill only warned about. Skips IPython's own names, private names, modules and
    callables (the imports of the cell that calls this).
    """
    from IPython import get_ipython  # ipykernel's dependency, so present wherever a kernel runs

    shell = get_ipython()
    hidden = set(shell.user_ns_hidden) if shell is not None else set()
    return {name: value for name, value in namespace.items()
            if not name.startswith("_") and name not in hidden
            and not isinstance(value, (types.ModuleType, type)) and not callable(value)}


def run_and_save(config: RunConfig, result_path: str, threads: int = 0) -> Result:
    """Train `config`, save the Result to `result_path`. threads > 0 caps torch's CPU threads."""
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 keeps torch's default), got {threads}")
    if threads:
        torch.set_num_threads(threads)  # several workers on one CPU: one thread each, no oversubscription
    result = run(config, progress=False)
    result.save(result_path)
    return result


def summary(result: Result) -> str:
    """A few lines: what ran, the final test accuracy, and the last recorded per-layer angles."""
    c, h = result.config, result.history
    lines = [f"{c.rule} on {c.dataset}, hidden {list(c.hidden)}, {c.activation}, lr {c.lr}, seed {c.seed}: "
             f"test accuracy {result.final.get('test/accuracy', float('nan')):.4f} after "
             f"{int(h['step'][-1])} steps in {result.timings['wall_s']:.1f} s"]
    for metric in ("angle", "angle_centered", "angle_control", "readout_accuracy"):
        values = [f"{h[f'train/{metric}/{i}'][-1]:.3g}" for i in range(1, c.depth) if f"train/{metric}/{i}" in h]
        if values:
            lines.append(f"  {metric} by hidden layer: {', '.join(values)}")
    updates = [f"{h[f'probe/update_angle/{i}'][-1]:.3g}" for i in range(1, c.depth + 1)
               if f"probe/update_angle/{i}" in h]
    if updates:
        lines.append(f"  update angle to backprop by layer: {', '.join(updates)}")
    return "\n".join(lines)


def _has_type(value, hint) -> bool:
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:  # tuple[int, ...]: a list of ints from YAML or papermill
        (item, _) = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_has_type(v, item) for v in value)
    raise TypeError(f"no type check for {hint!r}")  # a new RunConfig field type: teach _has_type


def _describe(hint) -> str:
    names = {float: "a number", int: "an int", str: "a string", type(None): "None"}
    if hint in names:
        return names[hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    return "a list of ints"


def _type_message(name: str, value, hint) -> str:
    message = f"{name} must be {_describe(hint)}, got {type(value).__name__} {value!r}"
    if isinstance(value, str) and _looks_numeric(value):
        message += " (YAML reads 1e-2 as a string: write 1.0e-2 or 0.01)"
    elif isinstance(value, str) and typing.get_origin(hint) is tuple:
        message += f" (papermill -p passes strings: use -y '{name}: [32, 32]')"
    return message


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Grids: YAML -> validated points with stable ids.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """One run of a sweep: its id (the file stem), the parameters its grid entry sets, its config."""

    id: str
    params: dict
    config: RunConfig


@dataclass(frozen=True)
class Grid:
    """A validated sweep: every point already built a RunConfig."""

    name: str
    points: tuple[Point, ...]

    def with_data_root(self, data_root: str | os.PathLike | None) -> Grid:
        """The same points reading data from `data_root` (not part of a point's key or id)."""
        if data_root is None:
            return self
        points = tuple(dataclasses.replace(p, config=p.config.replace(data_root=str(data_root)))
                       for p in self.points)
        return dataclasses.replace(self, points=points)


def load_grid(source: str | os.PathLike | dict, data_root: str | os.PathLike | None = None) -> Grid:
    """Read and validate a grid (a YAML path or the same structure as a dict); run nothing."""
    if isinstance(source, dict):
        spec, where, default_name = source, "grid", "sweep"
    else:
        path = Path(source)
        if not path.exists():
            raise GridError(f"grid file {path} does not exist")
        try:
            spec = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise GridError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
        where, default_name = str(path), path.stem
    if not isinstance(spec, dict):
        raise GridError(f"{where}: expected a mapping with keys {', '.join(GRID_KEYS)}, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(GRID_KEYS))
    if unknown:
        raise GridError(f"{where}: unknown top-level key(s) {unknown}; use {', '.join(GRID_KEYS)}")
    name = str(spec.get("name") or default_name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise GridError(f"{where}: name {name!r} must be letters, digits, '.', '_' or '-' (it names the output folder)")
    base = _mapping(spec.get("base") or {}, f"{where}: base")
    combos = _expand(spec, where)
    if not combos:
        raise GridError(f"{where}: the grid has no points; give `grid:` a mapping of non-empty lists "
                        f"or add a `points:` list")
    return Grid(name, _build_points(base, combos, where)).with_data_root(data_root)


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise GridError(f"{what} must be a mapping of config fields to values, got {type(value).__name__} {value!r}")
    return value


def _expand(spec: dict, where: str) -> list[dict]:
    """The varied parameters of every point: each grid mapping's product, then the explicit points."""
    grids = spec.get("grid") or []
    grids = [grids] if isinstance(grids, dict) else grids
    if not isinstance(grids, list):
        raise GridError(f"{where}: grid must be a mapping of lists (or a list of such mappings), got {grids!r}")
    combos = []
    for g, grid in enumerate(grids):
        what = f"{where}: grid" + (f"[{g}]" if len(grids) > 1 else "")
        grid = _mapping(grid, what)
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise GridError(f"{what}.{key} must be a non-empty list of values, got {values!r}; "
                                f"put a single value under `base:`")
        combos += [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    points = spec.get("points") or []
    if not isinstance(points, list):
        raise GridError(f"{where}: points must be a list of mappings, got {points!r}")
    combos += [_mapping(p, f"{where}: points[{i}]") for i, p in enumerate(points)]
    return combos


def _build_points(base: dict, combos: list[dict], where: str) -> tuple[Point, ...]:
    """Build and check every point's config; name each by the parameters its grid entry sets.

    The name depends on the point alone, not on the others, so adding points to a grid keeps
    the finished ones' files (and the resumption that relies on them).
    """
    points, seen = [], {}
    for i, combo in enumerate(combos):
        params = {**base, **combo}
        label = ", ".join(f"{k}={params[k]!r}" for k in combo) or "base"
        reserved = sorted(set(params) & set(NOTEBOOK_ONLY))
        if reserved:
            raise GridError(f"{where}: point {i + 1} ({label}) sets {reserved}, which the runner chooses; remove it")
        try:
            config = config_from_parameters(params)
        except ValueError as err:
            raise GridError(f"{where}: point {i + 1} of {len(combos)} ({label}): {err}") from None
        if config.key() in seen:
            raise GridError(f"{where}: points {seen[config.key()] + 1} and {i + 1} ({label}) are the same run; "
                            f"remove one")
        seen[config.key()] = i
        shown = {k: getattr(config, k) for k in combo}
        points.append(Point(point_id(shown, config), shown, config))
    return tuple(points)


def point_id(params: dict, config: RunConfig) -> str:
    """A file-safe id: the point's own parameters for people, then the config key for uniqueness."""
    stem = "__".join(f"{k}-{_short(v)}" for k, v in params.items())
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", stem)
    return f"{stem}__{config.key()[:10]}" if stem else config.key()


def _short(value) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Running one point: papermill in a temporary folder; the files travel back as text.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PointOutcome:
    """What executing one point sent back: the notebook, and the result JSON unless it failed."""

    id: str
    notebook: str | None
    result_json: str | None
    error: str | None
    seconds: float


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
                # log_level ERROR: ipykernel warns on every start that local TCP is unencrypted,
                # which would bury the sweep's progress bar; the run's own errors still arrive.
                argv = make_ipkernel_cmd(extra_arguments=["--IPKernelApp.log_level=ERROR"])
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


# ---------------------------------------------------------------------------------------------
# Running a sweep.
# ---------------------------------------------------------------------------------------------

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
                         f"(an earlier version of it?), e.g. {self.others[0]}.json; aggregation would include them")
        lines += [f"FAILED {pid}: {error} (see {self.out_dir / f'{pid}.ipynb'})" for pid, error in self.failed.items()]
        return "\n".join(lines)


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_sweep(grid: Grid | str | os.PathLike | dict, out_dir: str | os.PathLike | None = None, *,
              workers: int | None = None, scheduler: str | None = None, data_root: str | os.PathLike | None = None,
              threads: int | None = None, progress: bool = True) -> SweepReport:
    """Run every point of `grid` that has no fresh result in `out_dir`; never raises for failed points.

    out_dir: this sweep's folder (default results/sweeps/<name>). workers: local processes
    (default one per core; 1 runs in this process, without Dask). scheduler: the address of a
    running Dask cluster to use instead. threads: torch CPU threads per point (default 1 when
    points run in parallel, else torch's default). Check `report.ok` or `report.failed`.
    """
    grid = grid.with_data_root(data_root) if isinstance(grid, Grid) else load_grid(grid, data_root)
    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT_ROOT / grid.name
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    parallel = scheduler is not None or workers > 1
    threads = (1 if parallel else 0) if threads is None else threads
    report = SweepReport(grid.name, out, [p.id for p in grid.points])
    todo = [p for p in grid.points if not _is_fresh(out, p)]
    report.skipped = [p.id for p in grid.points if p not in todo]
    report.others = sorted({path.stem for path in out.glob("*.json")} - set(report.points))
    start = time.perf_counter()
    bar = tqdm(total=len(grid.points), initial=len(report.skipped), desc=f"sweep {grid.name}", unit="point",
               disable=not progress, dynamic_ncols=True)
    with bar:
        if todo:
            out.mkdir(parents=True, exist_ok=True)
        for outcome in _outcomes(todo, threads, workers, scheduler, parallel):
            _store(out, outcome, report)
            bar.update(1)
            bar.set_postfix(failed=len(report.failed), refresh=False)
    report.seconds = time.perf_counter() - start
    return report


def _is_fresh(out: Path, point: Point) -> bool:
    """Whether the point's result exists and was made by its config and this code."""
    try:
        load_result(out / f"{point.id}.json", expect=point.config)
    except (ResultError, ValueError, KeyError, TypeError):  # missing, stale, or written by another version
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


# ---------------------------------------------------------------------------------------------
# Command line: `python -m dfa_lafs sweep GRID.yaml ...`
# ---------------------------------------------------------------------------------------------

def add_sweep_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("grid", help="grid file (YAML): name, base, grid, points")
    parser.add_argument("--out", help="folder for this sweep's notebooks and results "
                                      "(default: results/sweeps/<name>)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: one per core; 1 runs serially, without Dask)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786, "
                                            "to run the points on that cluster instead")
    parser.add_argument("--data-root", help="dataset folder (default: $DFA_LAFS_DATA, else ~/.cache/dfa_lafs)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per point (default: 1 when points run in parallel)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=sweep_command)
    return parser


def add_sweep_parser(subparsers) -> argparse.ArgumentParser:
    """Register `sweep` on an argparse subparsers object; the parsed args' `handler(args)` runs it."""
    return add_sweep_arguments(subparsers.add_parser(
        "sweep", help="run a grid of configs through the experiment notebook (papermill), resumably",
        description=__doc__.splitlines()[0]))


def sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep the parsed arguments describe; 0 if every point has a result, 1 otherwise."""
    try:
        report = run_sweep(args.grid, args.out, workers=args.workers, scheduler=args.scheduler,
                           data_root=args.data_root, threads=args.threads, progress=not args.quiet)
    except (ValueError, OSError) as err:  # a bad grid, or no Dask scheduler at that address
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.text(), file=sys.stderr if report.failed else sys.stdout)
    return 0 if report.ok else 1


def sweep_main(argv: list[str] | None = None) -> int:
    parser = add_sweep_arguments(argparse.ArgumentParser(prog="python -m dfa_lafs sweep",
                                                         description=__doc__.splitlines()[0]))
    return sweep_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(sweep_main())
