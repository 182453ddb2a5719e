"""Run results: config + history + timings + provenance, saved as JSON, written atomically.

A result carries two keys: the config's key (what was computed) and a hash of the training
code. `load_result(..., expect=config)` refuses a result whose keys do not match the config
and the code in this checkout, so a stale result is never shown silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import RunConfig, resolve_device

FORMAT_VERSION = 1
# The modules whose code decides a run's numbers; a change to any of them makes old results stale.
_CODE_MODULES = ("config.py", "data.py", "model.py", "rules.py", "metrics.py", "train.py")
REGENERATE_HINT = "regenerate it with `python -m dfa_lafs regenerate` (see the README)"


class ResultError(RuntimeError):
    """A result file cannot be used: wrong format version, or stale."""


def code_hash() -> str:
    """sha256 of the training code's source files (first 16 hex digits)."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _CODE_MODULES:
        h.update(name.encode())
        h.update((here / name).read_bytes().replace(b"\r\n", b"\n"))
    return h.hexdigest()[:16]


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(device: torch.device) -> dict:
    from . import __version__

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": name,
        "threads": torch.get_num_threads(),
        "code_hash": code_hash(),
    }


@dataclass
class Result:
    """What `run(config)` returns. history maps metric names to one value per record step."""

    config: RunConfig
    history: dict[str, list[float]]
    timings: dict[str, float]
    provenance: dict
    final: dict[str, float] = field(default_factory=dict)  # full-test-set metrics at the end

    def series(self, metric: str, layer: int | None = None, split: str = "train") -> list[float]:
        """history["train/angle/2"] as `series("angle", 2)`; "step" and "probe/..." by full name."""
        if metric in self.history:
            return self.history[metric]
        name = f"{split}/{metric}" + (f"/{layer}" if layer is not None else "")
        if name not in self.history:
            raise KeyError(f"no metric {name!r} in this result; available: {sorted(self.history)[:8]} ...")
        return self.history[name]

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "config_key": self.config.key(),
            "code_hash": self.provenance.get("code_hash"),
            "config": self.config.to_dict(),
            "history": self.history,
            "timings": self.timings,
            "provenance": self.provenance,
            "final": self.final,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically: a temporary file in the same folder, then a rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Result:
        return load_result(path)


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a result is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_result(path: str | os.PathLike, expect: RunConfig | None = None) -> Result:
    """Load a result; with `expect`, insist it was made by this config and this code."""
    path = Path(path)
    if not path.exists():
        raise ResultError(f"no result file at {path}; {REGENERATE_HINT}")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ResultError(f"{path} is not valid JSON ({err.msg}); delete it and {REGENERATE_HINT}") from None
    version = d.get("format_version") if isinstance(d, dict) else None
    if version != FORMAT_VERSION:
        raise ResultError(f"{path} has result format {version!r}, this version of dfa_lafs reads "
                          f"format {FORMAT_VERSION}; {REGENERATE_HINT}")
    result = cls_from_dict(d)
    if expect is not None:
        if d["config_key"] != expect.key():
            raise ResultError(f"{path} was made with a different config than the one asked for; {REGENERATE_HINT}")
        if d["code_hash"] != code_hash():
            raise ResultError(f"{path} is stale: the training code changed since it was written; {REGENERATE_HINT}")
    return result


def cls_from_dict(d: dict) -> Result:
    config = dict(d["config"])
    try:
        resolve_device(config.get("device", "auto"))
    except ValueError:  # made on a GPU, read where there is none: where it ran is in provenance
        config["device"] = "auto"
    return Result(config=RunConfig.from_dict(config), history=d["history"], timings=d["timings"],
                  provenance=d["provenance"], final=d.get("final", {}))
