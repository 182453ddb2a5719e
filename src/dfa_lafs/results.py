"""Run results: config + history + timings + provenance, saved as JSON, written atomically.

A result carries two keys: the config's key (what was computed) and a hash of the training
code. `load_result(..., expect=config)` refuses a result whose keys do not match the config
and the code in this checkout (or an earlier code that `lineage` records as giving the same
numbers), so a stale result is never shown silently. The config key is recomputed from the
stored config, never trusted.

What the sha256 of the content protects against: accidents. A truncated or partly copied file,
a flipped bit, an edit made by hand or by a tool that did not recompute it are refused. It does
not protect against a deliberate edit: whoever changes a number can recompute the sha256 with
`content_digest`, as this module must be able to. For that, compare a stored result with the
repository's committed version: `repository.stored_differences()`, `python -m dfa_lafs check`.

The code hash is taken over what computes the numbers, not over formatting: the syntax tree
of each module in HASHED_MODULES, without docstrings, comments, blank lines or layout. A
comment or docstring edit leaves every stored result fresh; a changed operator stales them.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import PLACE_FIELDS, RunConfig, resolve_device
from .files import atomic_write_text as _atomic_write_text
from .files import check_result_path

FORMAT_VERSION = 2  # 2: a sha256 of the content, so that an edited number is refused
# The modules whose code decides a run's numbers. config.py is not among them: the config key
# covers its values, and its defaults only matter through the values they give.
HASHED_MODULES = ("data.py", "model.py", "rules.py", "metrics.py", "probes.py", "train.py")
# Of data.py only what turns the files into tensors is hashed: finding, fetching and
# decompressing the files cannot change a number, because every file's md5 is checked.
HASHED_PARTS = {"data.py": ("Split", "_load_cpu", "load_split")}
REGENERATE_HINT = "regenerate it with `python -m dfa_lafs regenerate` (see the README)"


class ResultError(RuntimeError):
    """A result file cannot be used: missing, unreadable, malformed, edited, or stale."""


def accepted_hashes() -> set[str]:
    """This code's hash and the earlier ones that give the same numbers (see `lineage`)."""
    from .lineage import accepted_hashes as linked

    return linked(code_hash())


def code_hash(package: str | os.PathLike | None = None) -> str:
    """sha256 (first 16 hex digits) of the normalized syntax trees of HASHED_MODULES.

    package: the folder holding the modules (default: this package).
    """
    folder = Path(package) if package is not None else Path(__file__).parent
    h = hashlib.sha256()
    for name in HASHED_MODULES:
        path = folder / name
        stat = path.stat()
        digest = _module_digest(str(path), stat.st_mtime_ns, stat.st_size, HASHED_PARTS.get(name))
        h.update(f"{name}\0{digest}\0".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def _module_digest(path: str, mtime_ns: int, size: int, parts: tuple[str, ...] | None) -> str:
    # mtime and size are part of the cache key, so an edited file is read again
    return hashlib.sha256(normalized_code(Path(path).read_text(), parts).encode()).hexdigest()


def normalized_code(source: str, parts: tuple[str, ...] | None = None) -> str:
    """The code of a module as a canonical string: its syntax tree without docstrings.

    The messages of raised exceptions are left out too (only the exception's type stays).

    Comments, blank lines and layout never reach the tree. Fields that are empty (None, [])
    are left out, so Python versions that add empty fields (3.12's type_params) or drop them
    from ast.dump (3.13) give the same string for the same code.

    parts: only these top-level functions and classes (all of the module when None); a
    missing one is an error, so a rename cannot silently drop code from the hash.
    """
    tree = ast.parse(source)
    if parts is None:
        return _canonical(tree)
    named = {node.name: node for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    missing = [name for name in parts if name not in named]
    if missing:
        raise ValueError(f"hashed code {missing} not found: update HASHED_PARTS in results.py")
    return _canonical([named[name] for name in parts])


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _canonical(node) -> str:
    if isinstance(node, list):
        return "[" + ",".join(_canonical(item) for item in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    if isinstance(node, ast.Raise) and node.exc is not None:
        # What is raised counts, not the wording of its message: an error stops a run, it
        # never changes a stored number, so rewording one must not stale every result.
        kind = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return f"Raise(exc={_canonical(kind)})"
    parts = []
    for name, value in ast.iter_fields(node):
        if name == "body" and isinstance(node, _DOCUMENTED) and value and _is_docstring(value[0]):
            value = value[1:]
        if value is None or value == [] or name in ("type_comment", "kind"):
            continue
        parts.append(f"{name}={_canonical(value)}")
    return f"{type(node).__name__}({','.join(parts)})"


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


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
        "lock_sha256": lock_hash(),
    }


def lock_hash(lock: Path | None = None) -> str | None:
    """sha256 (first 16 hex digits) of requirements.lock, the exact versions CI installs; None
    where the package is installed without the repository around it."""
    lock = lock or Path(__file__).resolve().parents[2] / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.is_file() else None


@dataclass
class Result:
    """What `run(config)` returns. history maps metric names to one value per record step."""

    config: RunConfig
    history: dict[str, list[float]]
    timings: dict[str, float]
    provenance: dict
    final: dict[str, float] = field(default_factory=dict)  # full-test-set metrics at the end
    per_epoch: dict[str, list[float]] = field(default_factory=dict)  # validation after each epoch

    def series(self, metric: str, layer: int | None = None, split: str = "train") -> list[float]:
        """history["train/angle/2"] as `series("angle", 2)`; "step" and "probe/..." by full name."""
        if metric in self.history:
            return self.history[metric]
        name = f"{split}/{metric}" + (f"/{layer}" if layer is not None else "")
        if name not in self.history:
            raise KeyError(f"no metric {name!r} in this result; available: {sorted(self.history)[:8]} ...")
        return self.history[name]

    def to_dict(self) -> dict:
        body = {
            "format_version": FORMAT_VERSION,
            "config_key": self.config.key(),
            "code_hash": self.provenance.get("code_hash"),
            "config": self.config.to_dict(),
            "history": self.history,
            "timings": self.timings,
            "provenance": self.provenance,
            "final": self.final,
            "per_epoch": self.per_epoch,
        }
        return {**body, "sha256": content_digest(body)}

    def to_json(self) -> str:
        """The result file's text (what `save` writes)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=True) + "\n"

    def save(self, path: str | os.PathLike, *, replace_stored: bool = False) -> Path:
        """Write JSON atomically (a temporary file in the same folder, then a rename).

        The path is checked first (`files.check_result_path`): a regular file or nothing, and
        not a stored result under results/ unless `replace_stored`.
        """
        path = check_result_path(path, "result file", replace_stored)
        _atomic_write_text(path, self.to_json())
        return path



def load_result(path: str | os.PathLike, expect: RunConfig | None = None, *, check_code: bool = True) -> Result:
    """Load a result; with `expect`, insist it was made by this config and (check_code) this code.

    Every problem is a one-line ResultError naming the file: missing, unreadable, not JSON,
    another format, content that does not match its sha256 (edited by hand), missing or
    mistyped fields, a config that does not hash to the stored key, a different config than
    `expect`, or other training code: a code hash that is neither this code's nor one that the
    code lineage (`lineage.accepted_hashes`) records as giving the same numbers.
    """
    path = Path(path)
    d = _read_json(path)
    version = d.get("format_version")
    if version != FORMAT_VERSION:
        raise ResultError(f"{path} has result format {version!r}, this version of dfa_lafs reads "
                          f"format {FORMAT_VERSION}; {REGENERATE_HINT}")
    if d.get("sha256") != content_digest({k: v for k, v in d.items() if k != "sha256"}):
        raise ResultError(f"{path} has been edited: its sha256 does not match its content; {REGENERATE_HINT}")
    result = _from_dict(d, path)
    if d["config_key"] != result.config.key():
        raise ResultError(f"{path} has been edited or was written by another version of dfa_lafs: its config "
                          f"does not hash to its config_key; {REGENERATE_HINT}")
    if expect is not None:
        differences = config_differences(result.config, expect)
        if differences:
            raise ResultError(f"{path} was made with a different config than the one asked for "
                              f"({'; '.join(differences)}); {REGENERATE_HINT}")
        if check_code and d["code_hash"] not in accepted_hashes():
            raise ResultError(f"{path} is stale: the training code changed since it was written "
                              f"(code hash {d['code_hash']}, now {code_hash()}); {REGENERATE_HINT}")
    return result


def content_digest(body: dict) -> str:
    """sha256 of a result's fields as canonical JSON (the same before saving and after loading)."""
    plain = json.loads(json.dumps(body, allow_nan=True))  # tuples -> lists, int keys -> str, as on disk
    return hashlib.sha256(json.dumps(plain, sort_keys=True, allow_nan=True, separators=(",", ":")).encode()).hexdigest()


def config_differences(got: RunConfig, want: RunConfig) -> list[str]:
    """'lr 0.5, asked 0.1' for each field (other than where a run ran) that differs."""
    a, b = got.to_dict(), want.to_dict()
    return [f"{name} {a[name]!r}, asked {b[name]!r}" for name in a if name not in PLACE_FIELDS and a[name] != b[name]]


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise ResultError(f"no result file at {path}; {REGENERATE_HINT}")
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ResultError(f"{path} cannot be read ({getattr(err, 'strerror', None) or err})") from None
    except json.JSONDecodeError as err:
        raise ResultError(f"{path} is not valid JSON ({err.msg}); delete it and {REGENERATE_HINT}") from None
    except RecursionError:  # '[[[[...' deeper than the JSON parser goes: no result looks like that
        raise ResultError(f"{path} is not a result: its JSON is nested too deeply to read; delete it and "
                          f"{REGENERATE_HINT}") from None
    if not isinstance(d, dict):
        raise ResultError(f"{path} is not a result (a JSON object), got a JSON {type(d).__name__}")
    return d


_FIELDS = {"config_key": str, "code_hash": str, "config": dict, "history": dict, "timings": dict,
           "provenance": dict}


def _from_dict(d: dict, path: Path) -> Result:
    for name, kind in _FIELDS.items():
        if not isinstance(d.get(name), kind):
            what = "missing" if name not in d else f"a {type(d[name]).__name__}, not a {kind.__name__}"
            raise ResultError(f"{path} is not a complete result: {name!r} is {what}; {REGENERATE_HINT}")
    try:
        return cls_from_dict(d)
    except (ValueError, TypeError, KeyError) as err:
        raise ResultError(f"{path} holds an invalid result ({err}); {REGENERATE_HINT}") from None


def cls_from_dict(d: dict) -> Result:
    config = dict(d["config"])
    try:
        resolve_device(config.get("device", "auto"))
    except ValueError:  # made on a GPU, read where there is none: where it ran is in provenance
        config["device"] = "auto"
    return Result(config=RunConfig.from_dict(config), history=d["history"], timings=d["timings"],
                  provenance=d["provenance"], final=d.get("final", {}), per_epoch=d.get("per_epoch", {}))
