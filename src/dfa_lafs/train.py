"""`run(config)`: train one network with one rule and record what Figure 1 needs.

The data live on the training device as whole tensors; each epoch draws a permutation from
a generator seeded by (seed, epoch), so a run resumed from a checkpoint sees exactly the
batches an uninterrupted run would, and the same config and seed give the same history.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import RunConfig, resolve_device
from .data import Split, load_split
from .metrics import evaluate, update_angles
from .model import MLP, STREAM_EVAL, STREAM_SHUFFLE, generator
from .results import Result, code_hash, provenance
from .rules import SGD, train_step


def record_steps(total_steps: int, points: int) -> list[int]:
    """Step 0, `points` log-spaced steps in [1, total_steps], and the last step."""
    log_spaced = np.geomspace(1, max(total_steps, 1), points).round().astype(int)
    return sorted({0, total_steps, *log_spaced.tolist()})


def run(config: RunConfig, *, checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 2000,
        stop_after: int | None = None, progress: bool = True) -> Result | None:
    """Train `config.rule` on `config.dataset` and return a `Result`.

    checkpoint: a file to save state to every `checkpoint_every` steps and to resume from
    when it exists (it is removed once the run completes). stop_after: train at most this
    many steps in this call, checkpoint, and return None (for time-limited sessions).
    """
    if stop_after is not None and checkpoint is None:
        raise ValueError("stop_after needs a checkpoint path to save the unfinished run to")
    t_start = time.perf_counter()
    device, dtype = resolve_device(config.device), getattr(torch, config.dtype)
    train, test = _load(config, device, dtype)
    evals = _eval_sets(config, train, test)
    net = MLP.from_config(config, d_in=train.x.shape[1], d_y=train.y.shape[1])
    opt = SGD(net, config.lr, config.momentum)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = config.epochs * steps_per_epoch
    schedule = set(record_steps(total, config.record_points))
    state = {"step": 0, "history": {}, "timings": {"train_s": 0.0, "record_s": 0.0}}
    if checkpoint is not None and Path(checkpoint).exists():
        state = _resume(Path(checkpoint), config, net, opt)
    else:
        _record(state, config, net, evals, steps_per_epoch)
    wall_before = state["timings"].pop("wall_s_before_resume", 0.0)  # time spent in earlier calls

    bar = tqdm(total=total, initial=state["step"], disable=not progress, unit="step",
               desc=f"{config.rule} {config.dataset}", dynamic_ncols=True)
    t_train, done_here = time.perf_counter(), 0
    for epoch in range(state["step"] // steps_per_epoch, config.epochs):
        perm = torch.randperm(len(train), generator=generator(config.seed, STREAM_SHUFFLE, epoch)).to(device)
        for b in range(state["step"] - epoch * steps_per_epoch, steps_per_epoch):
            idx = perm[b * config.batch_size:(b + 1) * config.batch_size]
            train_step(config.rule, net, opt, train.x[idx], train.y[idx], config.error_reduction)
            state["step"] += 1
            done_here += 1
            bar.update(1)
            if state["step"] in schedule:
                state["timings"]["train_s"] += time.perf_counter() - t_train
                _record(state, config, net, evals, steps_per_epoch)
                bar.set_postfix(_postfix(state["history"]), refresh=False)
                t_train = time.perf_counter()
            stopping = stop_after is not None and done_here >= stop_after and state["step"] < total
            if checkpoint is not None and (state["step"] % checkpoint_every == 0 or stopping):
                state["timings"]["train_s"] += time.perf_counter() - t_train
                state["timings"]["wall_s_before_resume"] = wall_before + time.perf_counter() - t_start
                _save_checkpoint(Path(checkpoint), config, net, opt, state)
                state["timings"].pop("wall_s_before_resume")
                t_train = time.perf_counter()
            if stopping:
                bar.close()
                return None
    bar.close()
    _sync(device)
    state["timings"]["train_s"] += time.perf_counter() - t_train
    return _finish(config, net, test, state, device, wall_before + time.perf_counter() - t_start, checkpoint)


def _load(config: RunConfig, device: torch.device, dtype: torch.dtype) -> tuple[Split, Split]:
    train = load_split(config.dataset, True, config.data_root, device, dtype)
    test = load_split(config.dataset, False, config.data_root, device, dtype)
    if config.train_size is not None:
        if config.train_size > len(train):
            raise ValueError(f"train_size {config.train_size} exceeds the {len(train)} training examples "
                             f"of {config.dataset}; use at most {len(train)} or None for all")
        train = train.subset(torch.arange(config.train_size, device=device))
    return train, test


def _eval_sets(config: RunConfig, train: Split, test: Split) -> dict[str, Split]:
    """Fixed random subsets: `eval_size` of train and of test, and the probe batch."""
    def pick(split: Split, size: int, index: int) -> Split:
        order = torch.randperm(len(split), generator=generator(config.seed, STREAM_EVAL, index))
        return split.subset(order[:min(size, len(split))].to(split.x.device))

    return {"train": pick(train, config.eval_size, 0), "test": pick(test, config.eval_size, 1),
            "probe": pick(train, config.probe_size, 2)}


def _record(state: dict, config: RunConfig, net: MLP, evals: dict[str, Split], steps_per_epoch: int) -> None:
    t0 = time.perf_counter()
    row = {"step": state["step"], "epoch": state["step"] / steps_per_epoch}
    for split in ("train", "test"):
        row.update(evaluate(net, evals[split].x, evals[split].y, split))
    probe = evals["probe"]
    row.update(update_angles(config.rule, net, probe.x, probe.y, config.error_reduction))
    for name, value in row.items():
        state["history"].setdefault(name, []).append(value)
    state["timings"]["record_s"] += time.perf_counter() - t0


def _postfix(history: dict) -> dict[str, str]:
    out = {"acc": f"{history['train/accuracy'][-1]:.3f}"}
    if "train/angle/1" in history:
        out["angle1"] = f"{history['train/angle/1'][-1]:.1f}"
        out["readout1"] = f"{history['train/readout_accuracy/1'][-1]:.3f}"
    return out


def _finish(config: RunConfig, net: MLP, test: Split, state: dict, device: torch.device, wall_s: float,
            checkpoint: str | os.PathLike | None) -> Result:
    """Evaluate on the full test set, add timings and provenance, remove the checkpoint."""
    t0 = time.perf_counter()
    final = evaluate(net, test.x, test.y, "test")
    timings = state["timings"]
    timings["wall_s"] = wall_s + time.perf_counter() - t0
    timings["record_share"] = timings["record_s"] / max(timings["train_s"] + timings["record_s"], 1e-9)
    timings["steps"] = state["step"]
    timings["train_steps_per_s"] = state["step"] / max(timings["train_s"], 1e-9)
    if checkpoint is not None and Path(checkpoint).exists():
        Path(checkpoint).unlink()
    return Result(config, state["history"], timings, provenance(device), final)


def _save_checkpoint(path: Path, config: RunConfig, net: MLP, opt: SGD, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"config": config.to_dict(), "config_key": config.key(), "code_hash": code_hash(),
            "net": net.state(), "opt": opt.state(), "state": state}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _resume(path: Path, config: RunConfig, net: MLP, opt: SGD) -> dict:
    blob = torch.load(path, map_location=net.W[0].device, weights_only=False)
    if blob["config_key"] != config.key() or blob["code_hash"] != code_hash():
        raise ValueError(f"checkpoint {path} was made by another config or version of the code; "
                         f"delete it or pass a different checkpoint path")
    for dst, src in zip(net.W + net.b, blob["net"]["W"] + blob["net"]["b"]):
        dst.copy_(src)
    opt.load_state(blob["opt"])
    return blob["state"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
