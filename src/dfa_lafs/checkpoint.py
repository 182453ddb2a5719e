"""Checkpoints: a run's full state, saved atomically, loaded without running any code.

A checkpoint holds the config, the weights, the optimizer's momentum, and the loop's state
(step, history, timings, the best-validation weights). It is read with
`torch.load(weights_only=True)`, which refuses pickled objects, so a crafted file cannot run
code; and it carries a sha256 of everything in it, so a flipped bit, a truncated copy or a
hand-edited history is refused instead of resumed. The sha256 guards against accidents, not
against someone who edits a checkpoint on purpose and recomputes it (`digest` is public): a
checkpoint is only as trustworthy as the place it is kept. A checkpoint made by an earlier
training code that the code lineage records as giving the same numbers resumes (see `lineage`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import torch

from .config import RunConfig
from .files import atomic_write_bytes

FORMAT = 2
_KEYS = ("format", "config", "config_key", "code_hash", "net", "opt", "state", "sha256")


class CheckpointError(ValueError):
    """A checkpoint cannot be used: unreadable, corrupt, tampered, or made by another run."""


def digest(obj) -> str:
    """sha256 of a nest of dicts, lists, numbers, strings and tensors (values and dtypes)."""
    h = hashlib.sha256()

    def walk(x):
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x):
                h.update(json.dumps(k).encode())
                walk(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[")
            for v in x:
                walk(v)
            h.update(b"]")
        else:
            h.update(json.dumps(x).encode())

    walk(obj)
    return h.hexdigest()


def save(path: str | os.PathLike, config: RunConfig, net, opt, state: dict) -> Path:
    """Write the run's state to `path` atomically (a kill mid-write leaves the old checkpoint)."""
    from .results import code_hash

    body = {"format": FORMAT, "config": config.to_dict(), "config_key": config.key(), "code_hash": code_hash(),
            "net": net.state(), "opt": opt.state(), "state": state}
    body["sha256"] = digest(body)
    buffer = io.BytesIO()
    torch.save(body, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buffer.getvalue())


def load(path: str | os.PathLike, config: RunConfig, net, opt) -> dict:
    """Restore `net` and `opt` from `path` and return the loop's state; CheckpointError if unusable."""
    from .results import accepted_hashes

    path = Path(path)
    hint = "delete it to start the run over, or pass another checkpoint path"
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file; {hint}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before failing
            warnings.simplefilter("ignore")
            body = torch.load(path, map_location=net.W[0].device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        raise CheckpointError(f"checkpoint {path} cannot be read ({_reason(err)}); {hint}") from None
    if not isinstance(body, dict) or any(k not in body for k in _KEYS) or body["format"] != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a dfa_lafs checkpoint of format {FORMAT}; {hint}")
    stored = body.pop("sha256")
    if digest(body) != stored:
        raise CheckpointError(f"checkpoint {path} is corrupt or was edited (its sha256 does not match); {hint}")
    if body["config_key"] != config.key() or body["code_hash"] not in accepted_hashes():
        raise CheckpointError(f"checkpoint {path} was made by another config or version of the code; {hint}")
    for dst, src in zip(net.W + net.b, body["net"]["W"] + body["net"]["b"]):
        if dst.shape != src.shape:
            raise CheckpointError(f"checkpoint {path} holds weights of another shape; {hint}")
        dst.copy_(src)
    opt.load_state(body["opt"])
    return body["state"]


def _reason(err: Exception) -> str:
    """Why torch.load failed, in words a user can act on."""
    text = str(err)
    if "Weights only load failed" in text or "Unsupported global" in text:
        return "it holds Python objects, not only tensors and numbers; they were not loaded, so none of its code ran"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return f"not a file written by torch.save: {type(err).__name__}"


def remove(path: str | os.PathLike | None) -> None:
    """Delete a checkpoint once its result is safely saved."""
    if path is not None and Path(path).exists():
        Path(path).unlink()
