"""The open question's search: learning rate x scale of B^i per cell, on the validation split.

The plan is read from `preregistration.yaml` (claims.open_question.search), so the search that
runs is the one that was registered. A *cell* is one (rule, hidden layers): DFA and LAFS search
lr x feedback_scale, the backprop bars (one hidden layer) search lr. Every cell is an Optuna
study in one journal file shared by the Dask workers; each trial trains one configuration with
seed 0 through `train.run`, pausing at the pruner's rungs (a checkpoint), so that Optuna's
successive halving can stop it there. A choice at the edge of what was tried gets the next
value outward (`extensions`) until it is interior.

Resumable: finished trials are kept in the journal, a trial interrupted mid-run resumes from
its checkpoint, and `trials.json` (every trial, pruned ones included, as plain JSON) is what the
book reads, so the book needs no Optuna.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from .config import RunConfig
from .files import atomic_write_text
from .results import ResultError, load_result

REPO_ROOT = Path(__file__).resolve().parents[2]
PREREGISTRATION = REPO_ROOT / "preregistration.yaml"
D_IN, D_Y, MNIST_TRAIN = 784, 10, 60000  # MNIST
# Wide bounds for Optuna's bookkeeping only; the values tried are the plan's (enqueued).
BOUNDS = {"lr": (1e-6, 1e3), "feedback_scale": (1e-4, 1e5)}
FINISHED = ("complete", "pruned", "diverged")  # a trial in one of these states needs no rerun


@dataclass(frozen=True)
class Cell:
    """One Optuna study: a rule on fixed hidden layers; `dims` are the values of the first round."""

    rule: str
    hidden: tuple[int, ...]
    dims: dict  # name -> tuple of values
    pruned: bool

    @property
    def name(self) -> str:
        return f"{self.rule}_{len(self.hidden)}x{self.hidden[0]}"

    @property
    def grid(self) -> list[dict]:
        """The first round's points: the product of the dims' values."""
        points = [{}]
        for name, values in self.dims.items():
            points = [{**p, name: float(v)} for p in points for v in values]
        return points


@dataclass(frozen=True)
class Plan:
    base: dict
    seed: int
    cells: tuple[Cell, ...]
    caps: dict
    pruner: dict
    folder: Path


def param_count(hidden: tuple[int, ...], d_in: int = D_IN, d_y: int = D_Y) -> int:
    """Weights and biases of an MLP with these hidden layers."""
    dims = [d_in, *hidden, d_y]
    return sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:]))


def matched_width(hidden: tuple[int, ...], d_in: int = D_IN, d_y: int = D_Y) -> int:
    """The width of one hidden layer with (about) as many parameters as `hidden`: P = (d_in+1) w + (w+1) d_y."""
    return round((param_count(hidden, d_in, d_y) - d_y) / (d_in + 1 + d_y))


def load_plan(path: str | os.PathLike = PREREGISTRATION, study: str = "open_question") -> Plan:
    """The registered search of `study` as cells: DFA/LAFS at every width and depth, and the bars."""
    spec = yaml.safe_load(Path(path).read_text())["claims"][study]["search"]
    widths, depths = spec["widths"], spec["depths"]
    extra = {int(w): d for w, d in (spec.get("extra_depths") or {}).items()}
    pruned_from = spec["pruner"]["from_width"]
    cells, bar_widths = [], set(widths)
    for rule, dims in spec["rules"].items():
        for width in widths:
            for depth in sorted({*depths, *extra.get(width, {}).get(rule, [])}):
                hidden = (width,) * depth
                cells.append(Cell(rule, hidden, {k: tuple(v) for k, v in dims.items()}, width >= pruned_from))
                bar_widths.add(matched_width(hidden))
    bar = spec["bar"]
    cells += [Cell(bar["rule"], (w,), {"lr": tuple(bar["lr"])}, False) for w in sorted(bar_widths)]
    folder = Path(spec["folder"])
    folder = folder if folder.is_absolute() else Path(path).resolve().parent / folder
    return Plan(spec["base"], spec["seed"], tuple(cells), spec["edge"]["caps"], spec["pruner"], folder)


def config_of(plan: Plan, cell: Cell, params: dict, seed: int | None = None, **changes) -> RunConfig:
    return RunConfig(**{**plan.base, "rule": cell.rule, "hidden": cell.hidden, **params,
                        "seed": plan.seed if seed is None else seed, **changes})


# --- the edge rule and the choice (pure functions on plain trial records) -----------------------

def ladder(value: float, step: int) -> float:
    """The neighbour of `value` on the 1-3-10 ladder (..., 0.1, 0.3, 1, 3, ...): step +1 up, -1 down."""
    exponent = math.floor(math.log10(value) + 1e-9)
    rungs = [float(f"{m}e{e}") for e in range(exponent - 2, exponent + 3) for m in (1, 3)]
    index = min(range(len(rungs)), key=lambda i: abs(math.log(rungs[i] / value)))
    return rungs[index + step]


def settled(trials: list[dict]) -> bool:
    """Whether every configuration of a cell has finished: its latest trial completed, was pruned or
    diverged (an earlier trial that failed, e.g. interrupted with its driver and run again, does
    not count)."""
    latest = {}
    for t in sorted(trials, key=lambda t: t.get("number", 0)):
        latest[tuple(sorted(t["params"].items()))] = t["state"]
    return bool(latest) and all(state in FINISHED for state in latest.values())


def choose(trials: list[dict]) -> dict | None:
    """The completed trial with the best validation accuracy (ties: smaller lr, then smaller scale)."""
    done = [t for t in trials if t["state"] == "complete"]
    if not done:
        return None
    return max(done, key=lambda t: (t["value"], -t["params"]["lr"], -t["params"].get("feedback_scale", 0)))


def edges(cell: Cell, trials: list[dict]) -> dict:
    """Per searched dimension, where the current choice sits along the line through it:
    "interior", "low edge", "high edge" or "both edges" (nothing tried beyond it on that side)."""
    best = choose(trials)
    if best is None:
        return {}
    out = {}
    for name in cell.dims:
        line = [t["params"][name] for t in trials if t["state"] in FINISHED
                and all(t["params"][o] == best["params"][o] for o in cell.dims if o != name)]
        value = best["params"][name]
        low, high = value <= min(line), value >= max(line)
        out[name] = "both edges" if low and high else "low edge" if low else "high edge" if high else "interior"
    return out


def extensions(cell: Cell, trials: list[dict], caps: dict) -> list[dict]:
    """The next points outward from a choice at an edge (one per edge), within the caps.

    Call once every trial of the cell has finished; returns [] when the choice is interior in
    every dimension (or an edge is at its cap).
    """
    best = choose(trials)
    if best is None:
        return []
    tried = {tuple(sorted(t["params"].items())) for t in trials}
    out = []
    for name, where in edges(cell, trials).items():
        steps = {"interior": (), "low edge": (-1,), "high edge": (+1,), "both edges": (-1, +1)}[where]
        for step in steps:
            value = ladder(best["params"][name], step)
            low, high = caps[name]
            point = {**best["params"], name: value}
            if low <= value <= high and tuple(sorted(point.items())) not in tried:
                out.append(point)
    return out


# --- running -----------------------------------------------------------------------------------

def rungs(plan: Plan, cell: Cell, epochs: int) -> list[int]:
    """The epochs at which a pruned cell's trial may be stopped (e.g. 5, 15, 45)."""
    if not cell.pruned:
        return []
    r, eta = plan.pruner["min_resource"], plan.pruner["reduction_factor"]
    out = []
    while r < epochs:
        out.append(r)
        r *= eta
    return out


def _storage(folder: Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))


def _pruner(plan: Plan, cell: Cell):
    import optuna

    if not cell.pruned:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=plan.pruner["min_resource"],
                                                  reduction_factor=plan.pruner["reduction_factor"])


def _stem(params: dict) -> str:
    return "__".join(f"{k}-{v:g}" for k, v in sorted(params.items()))


def _checkpoint_state(path: Path) -> dict | None:
    import torch

    return torch.load(path, weights_only=True)["state"] if path.exists() else None


def run_trial(plan: Plan, cell: Cell, data_root: str | None = None) -> str:
    """Ask the cell's study for its next waiting trial, train it (pausing at each rung to ask the
    pruner), and tell the study how it ended. Runs on a Dask worker; returns the cell's name."""
    import optuna
    import torch

    from .train import DivergedError, run

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=cell.name, storage=_storage(plan.folder), pruner=_pruner(plan, cell))
    trial = study.ask()
    params = {name: trial.suggest_float(name, *BOUNDS[name], log=True) for name in cell.dims}
    config = config_of(plan, cell, params, **({"data_root": data_root} if data_root else {}))
    out = plan.folder / cell.name / f"{_stem(params)}.json"
    checkpoint = plan.folder / "checkpoints" / f"{cell.name}__{_stem(params)}.ckpt"
    trial.set_user_attr("result", str(out.relative_to(plan.folder)))
    reported = 0

    def report(curve: list[float]) -> None:  # the best validation accuracy so far, at every epoch
        nonlocal reported
        for epoch in range(reported + 1, len(curve) + 1):
            trial.report(max(curve[:epoch]), epoch)
        reported = len(curve)

    try:
        try:
            result = load_result(out, expect=config)  # finished before an interruption
        except ResultError:
            result = None
        n_train = config.train_size or MNIST_TRAIN - config.val_size  # the examples an epoch goes through
        steps_per_epoch = math.ceil(n_train / config.batch_size)
        for rung in rungs(plan, cell, config.epochs) if result is None else []:
            state = _checkpoint_state(checkpoint)
            done = state["step"] if state else 0
            if done < rung * steps_per_epoch:
                result = run(config, checkpoint=checkpoint, stop_after=rung * steps_per_epoch - done, out=out,
                             progress=False)
                if result is not None:  # stopped early before the rung
                    break
            report(_checkpoint_state(checkpoint)["per_epoch"]["val/accuracy"])
            if trial.should_prune():
                trial.set_user_attr("epochs_run", reported)
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                checkpoint.unlink(missing_ok=True)
                return cell.name
        if result is None:
            result = run(config, checkpoint=checkpoint, out=out, progress=False)
        report(result.per_epoch["val/accuracy"])
        for key in ("best_epoch", "epochs_run", "hit_cap"):
            trial.set_user_attr(key, result.final[key])
        study.tell(trial, result.final["val/accuracy"])
    except DivergedError as err:
        trial.set_user_attr("diverged", str(err))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        checkpoint.unlink(missing_ok=True)
    except BaseException as err:
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    return cell.name


def trial_records_of(study) -> list[dict]:
    """Every trial of one study as plain records: number, params, state, value, curve, attributes."""
    states = {"COMPLETE": "complete", "PRUNED": "pruned", "RUNNING": "running", "WAITING": "waiting"}
    out = []
    for t in study.get_trials(deepcopy=False):
        state = states.get(t.state.name, "diverged" if "diverged" in t.user_attrs else "failed")
        out.append({"number": t.number, "params": {**t.system_attrs.get("fixed_params", {}), **t.params},
                    "state": state, "value": t.value if t.state.name == "COMPLETE" else None,
                    "curve": [t.intermediate_values[k] for k in sorted(t.intermediate_values)],
                    **t.user_attrs})
    return out


def trial_records(plan: Plan) -> dict[str, list[dict]]:
    """`trial_records_of` for every cell of the plan (an empty list for a cell not started)."""
    import optuna

    storage = _storage(plan.folder)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    return {c.name: trial_records_of(optuna.load_study(study_name=c.name, storage=storage)) if c.name in names
            else [] for c in plan.cells}


def export(plan: Plan, records: dict[str, list[dict]]) -> Path:
    """Write `trials.json`: the plan's cells and every trial (what the book reads)."""
    body = {"cells": [{**asdict(c), "name": c.name, "hidden": list(c.hidden)} for c in plan.cells],
            "trials": records}
    return atomic_write_text(plan.folder / "trials.json", json.dumps(body, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def _exclusive(folder: Path):
    """One search driver per folder at a time (a second one would re-run the first one's trials)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".search.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another search is running in {folder}; wait for it or stop it first") from None
        yield


def pending(plan: Plan, cell: Cell, records: list[dict], first_new: int = 0) -> list[dict]:
    """Points of the cell still to run: its grid, then (once all have finished) the extensions.

    A failed trial (an error, or a run interrupted with its driver) counts as not run if it is
    older than trial number `first_new` (the search's start), so a new search retries it, but a
    trial that fails in this search is not retried in a loop.
    """
    tried = {tuple(sorted(r["params"].items())) for r in records
             if r["state"] in (*FINISHED, "waiting", "running") or r["number"] >= first_new}
    todo = [p for p in cell.grid if tuple(sorted(p.items())) not in tried]
    if todo or any(r["state"] in ("waiting", "running") for r in records):
        return todo
    return extensions(cell, records, plan.caps)


def cells_of_width(plan: Plan, width: int) -> list[str]:
    """The cells one width's comparisons need: DFA and LAFS at every depth searched there, and the
    bars of the same width and of as many parameters as each of those networks."""
    deep = [c for c in plan.cells if c.rule != "bp" and c.hidden[0] == width]
    bars = {width} | {matched_width(c.hidden) for c in deep}
    return [c.name for c in deep] + [f"bp_1x{w}" for w in sorted(bars)]


def search_order(plan: Plan) -> list[Cell]:
    """The cells by the narrowest width whose comparisons need them, then by cost (depth x width^1.5)."""
    group: dict[str, int] = {}
    for width in sorted({c.hidden[0] for c in plan.cells if c.rule != "bp"}):
        for name in cells_of_width(plan, width):
            group.setdefault(name, width)
    return sorted(plan.cells, key=lambda c: (group.get(c.name, c.hidden[0]), len(c.hidden) * c.hidden[0] ** 1.5))


def priorities(plan: Plan) -> dict[str, int]:
    """Each cell's Dask priority (Dask runs the highest first): the search order's, first highest."""
    return {c.name: -rank for rank, c in enumerate(search_order(plan))}


def run_search(plan: Plan, workers: int = 2, data_root: str | None = None, progress: bool = True) -> dict:
    """Run the plan until every cell's choice is interior (or capped); returns counts per state.

    Trials interrupted by an earlier driver's death are marked and re-enqueued. Cells are
    started width by width (each width's DFA and LAFS cells with the bars its comparisons need,
    so that a width's verdict runs can start while wider ones are searched), cheapest first
    within a width; within a cell the points run in a shuffled order (seeded), since successive
    halving compares each run with those that came before it.
    """
    import optuna
    from distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _exclusive(plan.folder):
        storage = _storage(plan.folder)
        studies = {c.name: optuna.create_study(study_name=c.name, storage=storage, direction="maximize",
                                               load_if_exists=True) for c in plan.cells}
        for study in studies.values():  # left running by a driver that died: failed, so run again
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        first_new = {name: len(study.get_trials(deepcopy=False)) for name, study in studies.items()}
        order = search_order(plan)
        priority = priorities(plan)
        rng = random.Random(plan.seed)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        with cluster, Client(cluster) as client:
            running = as_completed()
            bar = tqdm(desc="search", unit="trial", disable=not progress, dynamic_ncols=True)

            def top_up(cell: Cell) -> None:
                todo = pending(plan, cell, trial_records_of(studies[cell.name]), first_new[cell.name])
                rng.shuffle(todo)
                for point in todo:
                    studies[cell.name].enqueue_trial(point)
                    running.add(client.submit(run_trial, plan, cell, data_root, pure=False,
                                              priority=priority[cell.name]))
                bar.total = (bar.total or 0) + len(todo)
                bar.refresh()

            for cell in order:  # trials an earlier search enqueued but never ran get a task first
                waiting = sum(r["state"] == "waiting" for r in trial_records_of(studies[cell.name]))
                for _ in range(waiting):
                    running.add(client.submit(run_trial, plan, cell, data_root, pure=False, priority=priority[cell.name]))
                bar.total = (bar.total or 0) + waiting
                top_up(cell)
            for future in running:
                try:
                    name = future.result()
                except Exception as err:  # the trial is marked failed; a rerun of the search retries it
                    bar.write(f"a trial failed: {type(err).__name__}: {err}")
                    continue
                finally:
                    bar.update(1)
                cell = next(c for c in plan.cells if c.name == name)
                top_up(cell)
                export(plan, trial_records(plan))
        records = trial_records(plan)
        export(plan, records)
    counts = {}
    for rows in records.values():
        for r in rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
    return counts
