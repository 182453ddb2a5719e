"""`run(config)`: train one network with one rule and record what Figure 1 needs.

The data live on the training device as whole tensors; each epoch draws a permutation from
a generator seeded by (seed, epoch), so a run resumed from a checkpoint sees exactly the
batches an uninterrupted run would, and the same config and seed give the same history.

With `val_size`, the last examples of the training set are held out and evaluated after
every epoch (`Result.per_epoch`); with `patience`, training stops once validation accuracy
has not improved for that many epochs, and the best-validation weights are the ones
evaluated on the test set (`Result.final`).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from .config import RunConfig, resolve_device
from .data import Split, load_split
from .checks import integer
from .files import check_result_path, check_writable
from .metrics import evaluate, update_angles
from .model import MLP, STREAM_EVAL, STREAM_SHUFFLE, generator
from .probes import LinearBaseline, noise_angles, noise_keys
from .results import Result, provenance
from .rules import SGD, update

FINITE_CHECK_EVERY = 50  # steps between checks that the weights are still finite


class DivergedError(RuntimeError):
    """The weights or the loss became NaN or infinite: no result is written."""


def record_steps(total_steps: int, points: int) -> list[int]:
    """Step 0, `points` log-spaced steps in [1, total_steps], and the last step."""
    log_spaced = np.geomspace(1, max(total_steps, 1), points).round().astype(int)
    return sorted({0, total_steps, *log_spaced.tolist()})


def noise_steps(schedule: list[int], points: int) -> set[int]:
    """`points` of the record steps, evenly spaced in the (log-spaced) schedule, first and last included."""
    if points == 0:
        return set()
    index = np.linspace(0, len(schedule) - 1, min(points, len(schedule))).round().astype(int)
    return {schedule[i] for i in index}


def learning_rate(config: RunConfig, step: int, total: int) -> float:
    """The learning rate of step `step` (0-based) of `total`: constant, or cosine decay to 0."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * step / total))
    return config.lr


def run(config: RunConfig, *, checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 2000,
        stop_after: int | None = None, progress: bool = True, out: str | os.PathLike | None = None,
        replace_stored: bool = False) -> Result | None:
    """Train `config.rule` on `config.dataset` and return a `Result`.

    out: save the result there (atomically) and only then remove the checkpoint; checked before
    anything is loaded, with `replace_stored` saying whether it may replace a stored result
    under results/ (see `files.check_result_path`).
    checkpoint: a file to save state to every `checkpoint_every` steps (and on Ctrl-C) and to
    resume from when it exists; without `out` it is kept, for the caller to remove once the
    result is saved (`checkpoint.remove`). stop_after: train at most this many steps in this
    call, checkpoint, and return None (for time-limited sessions).
    Raises DivergedError, with no result written, if the weights or the loss stop being finite.
    """
    _check_arguments(checkpoint, checkpoint_every, stop_after, out, replace_stored)
    t_start = time.perf_counter()
    device, dtype = resolve_device(config.device), getattr(torch, config.dtype)
    train, val, test = _load(config, device, dtype)
    evals = _eval_sets(config, train, test)
    net = MLP.from_config(config, d_in=train.x.shape[1], d_y=train.y.shape[1])
    opt = SGD(net, config.lr, config.momentum)
    linear = (LinearBaseline.fit(train.x, train.y, config.baseline_epochs, config.batch_size, config.seed)
              if config.baseline_epochs else None)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = config.epochs * steps_per_epoch
    schedule = record_steps(total, config.record_points)
    loop = _Loop(config, net, opt, evals, linear, train, steps_per_epoch, total, noise_steps(schedule, config.noise_points))
    if checkpoint is not None and Path(checkpoint).exists():
        loop.state = ckpt.load(checkpoint, config, net, opt)
    else:
        loop.record()
    wall_before = loop.state["timings"].pop("wall_s_before_resume", 0.0)  # time spent in earlier calls

    def save_checkpoint() -> None:
        loop.state["timings"]["wall_s_before_resume"] = wall_before + time.perf_counter() - t_start
        ckpt.save(checkpoint, config, net, opt, loop.state)
        loop.state["timings"].pop("wall_s_before_resume")

    bar = tqdm(total=total, initial=loop.state["step"], disable=not progress, unit="step",
               desc=f"{config.rule} {config.dataset}", dynamic_ncols=True)
    with bar, _deferred_interrupts() as interrupted, torch.no_grad():  # hand-written updates: no graph, ever
        finished = loop.train(set(schedule), bar, val, stop_after, interrupted,
                              save_checkpoint if checkpoint is not None else None, checkpoint_every)
    if not finished:
        return None
    result = _finish(config, net, test, linear, loop, device, wall_before + time.perf_counter() - t_start)
    if out is not None:
        result.save(out, replace_stored=replace_stored)
        ckpt.remove(checkpoint)
    return result


class _Loop:
    """The training loop's state and the steps that change it (kept in a checkpoint as `state`)."""

    def __init__(self, config, net, opt, evals, linear, train, steps_per_epoch, total, noise_at):
        self.config, self.net, self.opt, self.evals, self.linear = config, net, opt, evals, linear
        self.train_split, self.steps_per_epoch, self.total, self.noise_at = train, steps_per_epoch, total, noise_at
        self.state = {"step": 0, "history": {}, "per_epoch": {}, "best": None, "stale_epochs": 0,
                      "timings": {"train_s": 0.0, "record_s": 0.0}}

    def train(self, schedule, bar, val, stop_after, interrupted, save_checkpoint, checkpoint_every) -> bool:
        """Train until the cap, early stopping, or `stop_after`; True when the run is complete."""
        cfg, state, done_here = self.config, self.state, 0
        t_train = time.perf_counter()
        epoch = state["step"] // self.steps_per_epoch
        while epoch < cfg.epochs and not self.stopped_early():
            perm = torch.randperm(len(self.train_split), generator=generator(cfg.seed, STREAM_SHUFFLE, epoch))
            perm = perm.to(self.train_split.x.device)
            for b in range(state["step"] - epoch * self.steps_per_epoch, self.steps_per_epoch):
                idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                self.opt.lr = learning_rate(cfg, state["step"], self.total)
                update(cfg.rule, self.net, self.opt, self.train_split.x[idx], self.train_split.y[idx],
                       cfg.error_reduction)
                state["step"] += 1
                done_here += 1
                bar.update(1)
                if state["step"] % FINITE_CHECK_EVERY == 0:
                    self.check_finite()
                pause = state["step"] in schedule or state["step"] % self.steps_per_epoch == 0
                if pause:
                    _sync(self.train_split.x.device)  # on CUDA, let the steps finish before timing them
                    state["timings"]["train_s"] += time.perf_counter() - t_train
                    if state["step"] in schedule:
                        self.record()
                        bar.set_postfix(_postfix(state["history"]), refresh=False)
                    if state["step"] % self.steps_per_epoch == 0 and val is not None:
                        self.validate(val)
                    t_train = time.perf_counter()
                stopping = stop_after is not None and done_here >= stop_after and state["step"] < self.total
                if save_checkpoint and (state["step"] % checkpoint_every == 0 or stopping or interrupted.is_set()):
                    state["timings"]["train_s"] += time.perf_counter() - t_train
                    save_checkpoint()
                    t_train = time.perf_counter()
                if interrupted.is_set():
                    where = "; checkpoint saved: run the same command to resume" if save_checkpoint else ""
                    raise KeyboardInterrupt(f"interrupted at step {state['step']}{where}")
                if stopping:
                    return False
                if self.stopped_early():
                    break
            epoch += 1
        state["timings"]["train_s"] += time.perf_counter() - t_train
        if state["history"]["step"][-1] != state["step"]:  # stopped early: end the history where training ended
            self.record()
        return True

    def stopped_early(self) -> bool:
        return bool(self.config.patience) and self.state["stale_epochs"] >= self.config.patience

    def check_finite(self) -> None:
        for i, W in enumerate(self.net.W, start=1):
            if not torch.isfinite(W).all():
                raise DivergedError(f"training diverged at step {self.state['step']}: W^{i} is no longer finite; "
                                    f"{self.config.divergence_hint()}")

    def record(self) -> None:
        t0 = time.perf_counter()
        cfg, state, net, evals = self.config, self.state, self.net, self.evals
        row = {"step": state["step"], "epoch": state["step"] / self.steps_per_epoch}
        for split in ("train", "test"):
            x, y = evals[split].x, evals[split].y
            row.update(evaluate(net, x, y, split, self.linear.logits(x) if self.linear else None))
        if not math.isfinite(row["train/loss"]):
            raise DivergedError(f"training diverged at step {state['step']}: the training loss is "
                                f"{row['train/loss']}; {cfg.divergence_hint()}")
        row.update(update_angles(cfg.rule, net, evals["probe"].x, evals["probe"].y, cfg.error_reduction))
        if self.noise_at and net.k > 1:
            nan = dict.fromkeys(noise_keys(net.k), math.nan)
            row.update(noise_angles(net, self.train_split.x, self.train_split.y, cfg.seed, state["step"])
                       if state["step"] in self.noise_at else nan)
        for name, value in row.items():
            state["history"].setdefault(name, []).append(value)
        state["timings"]["record_s"] += time.perf_counter() - t0

    def validate(self, val: Split) -> None:
        """Evaluate on the validation split after an epoch; keep the best weights (early stopping)."""
        t0 = time.perf_counter()
        state = self.state
        with torch.no_grad():
            logits = self.net.forward(val.x)[-1]
        accuracy = (logits.argmax(1) == val.labels).float().mean().item()
        loss = torch.nn.functional.cross_entropy(logits, val.labels).item()
        row = {"epoch": state["step"] // self.steps_per_epoch, "val/accuracy": accuracy, "val/loss": loss}
        for name, value in row.items():
            state["per_epoch"].setdefault(name, []).append(value)
        if state["best"] is None or accuracy > state["best"]["val_accuracy"]:
            state["best"] = {"epoch": row["epoch"], "val_accuracy": accuracy,
                             "W": [W.clone() for W in self.net.W], "b": [b.clone() for b in self.net.b]}
            state["stale_epochs"] = 0
        else:
            state["stale_epochs"] += 1
        state["timings"]["record_s"] += time.perf_counter() - t0


def _check_arguments(checkpoint, checkpoint_every, stop_after, out, replace_stored) -> None:
    """Everything about where the run writes, checked before any data is loaded or step taken."""
    integer("checkpoint_every", checkpoint_every)
    if stop_after is not None:
        integer("stop_after", stop_after)
    if stop_after is not None and checkpoint is None:
        raise ValueError("stop_after needs a checkpoint path to save the unfinished run to")
    if out is not None:
        check_result_path(out, "result file", replace_stored)
    if checkpoint is not None:
        check_writable(checkpoint, "checkpoint")
        if out is not None and Path(out).resolve() == Path(checkpoint).resolve():
            raise ValueError(f"the result and the checkpoint must be different files, both are {out}")


@contextlib.contextmanager
def _deferred_interrupts():
    """Ctrl-C / SIGTERM set a flag that the loop checks between steps (never mid-update).

    An update changes the layers one after another; stopping in between would leave weights
    that no step produced. Outside the main thread (Dask workers) signals are left alone.
    """
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if flag.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        flag.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _load(config: RunConfig, device: torch.device, dtype: torch.dtype) -> tuple[Split, Split | None, Split]:
    """(train, validation or None, test); validation is the last `val_size` training examples."""
    train = load_split(config.dataset, True, config.data_root, device, dtype)
    test = load_split(config.dataset, False, config.data_root, device, dtype)
    n = len(train)
    if config.val_size >= n:
        raise ValueError(f"val_size {config.val_size} leaves no training examples out of {n}; use e.g. 10000")
    val = train.subset(torch.arange(n - config.val_size, n, device=device)) if config.val_size else None
    available = n - config.val_size
    if config.train_size is not None:
        if config.train_size > available:
            raise ValueError(f"train_size {config.train_size} exceeds the {available} training examples "
                             f"of {config.dataset} (after val_size {config.val_size}); use at most {available}")
        available = config.train_size
    return train.subset(torch.arange(available, device=device)), val, test


def _eval_sets(config: RunConfig, train: Split, test: Split) -> dict[str, Split]:
    """Fixed random subsets: `eval_size` of train and of test, and the probe batch."""
    def pick(split: Split, size: int, index: int) -> Split:
        order = torch.randperm(len(split), generator=generator(config.seed, STREAM_EVAL, index))
        return split.subset(order[:min(size, len(split))].to(split.x.device))

    return {"train": pick(train, config.eval_size, 0), "test": pick(test, config.eval_size, 1),
            "probe": pick(train, config.probe_size, 2)}


def _postfix(history: dict) -> dict[str, str]:
    out = {"acc": f"{history['train/accuracy'][-1]:.3f}"}
    if "train/angle/1" in history:
        out["angle1"] = f"{history['train/angle/1'][-1]:.1f}"
        out["readout1"] = f"{history['train/readout_accuracy/1'][-1]:.3f}"
    return out


def _finish(config: RunConfig, net: MLP, test: Split, linear: LinearBaseline | None, loop: _Loop,
            device: torch.device, wall_s: float) -> Result:
    """Evaluate on the full test set (best-validation weights if there is a validation split)."""
    t0 = time.perf_counter()
    _sync(device)
    state = loop.state
    extra = {}
    if state["best"] is not None:
        for dst, src in zip(net.W + net.b, state["best"]["W"] + state["best"]["b"]):
            dst.copy_(src)
        epochs_run = state["step"] // loop.steps_per_epoch
        extra = {"best_epoch": state["best"]["epoch"], "val/accuracy": state["best"]["val_accuracy"],
                 "epochs_run": epochs_run, "hit_cap": not loop.stopped_early()}
    final = evaluate(net, test.x, test.y, "test", linear.logits(test.x) if linear else None)
    final.update(extra)
    timings = state["timings"]
    timings["wall_s"] = wall_s + time.perf_counter() - t0
    timings["record_share"] = timings["record_s"] / max(timings["train_s"] + timings["record_s"], 1e-9)
    timings["steps"] = state["step"]
    timings["train_steps_per_s"] = state["step"] / max(timings["train_s"], 1e-9)
    return Result(config, state["history"], timings, provenance(device), final, state["per_epoch"])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
