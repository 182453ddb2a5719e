"""Code lineage: the earlier training-code hashes that give the same numbers as this code.

A result stores the hash of the training code that made it (`results.code_hash`), and
`load_result(..., expect=config)` refuses a result of other code. Any edit to a hashed module
changes the hash, even one that changes no number (a new argument check, say), and would make
the book refuse every stored result, hours of CPU. `code_lineage.json`, beside this module,
records such edits. It is append-only: each entry says that the code with `hash` gives the same
numbers as the code with `same_numbers_as`, with its date, reason and evidence. The accepted
hashes are the current one and every hash linked to it through entries, transitively; results
and checkpoints made by any of them are accepted as this code's.

The evidence an entry needs: `tests/test_reference_runs.py`, which trains the reference runs of
`tests/reference_runs/` (saved by an earlier code, float64, every hashed code path) with the new
code and compares every number with the stored ones, passes. An entry whose code changes a
number would make the book show results that this code cannot reproduce: never add one without
that test passing. `python -m dfa_lafs check` prints the current hash and checks this file.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
from pathlib import Path

LINEAGE_FILE = Path(__file__).with_name("code_lineage.json")
FIELDS = ("hash", "same_numbers_as", "date", "reason", "evidence")
_HASH = re.compile(r"[0-9a-f]{16}")


class LineageError(ValueError):
    """The lineage file is unreadable or an entry is malformed."""


def entries(path: str | os.PathLike | None = None) -> list[dict]:
    """The entries of the lineage file (default LINEAGE_FILE), checked; a missing file has none."""
    path = Path(path) if path is not None else LINEAGE_FILE
    if not path.exists():
        return []
    stat = path.stat()
    return _entries(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _entries(path: str, mtime_ns: int, size: int) -> list[dict]:
    try:
        body = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise LineageError(f"the code lineage {path} cannot be read ({err})") from None
    found = body.get("entries") if isinstance(body, dict) else None
    if not isinstance(found, list):
        raise LineageError(f"the code lineage {path} has no list of entries")
    for i, entry in enumerate(found, start=1):
        problem = _entry_problem(entry)
        if problem:
            raise LineageError(f"the code lineage {path}, entry {i}: {problem}")
    return found


def _entry_problem(entry) -> str | None:
    if not isinstance(entry, dict) or set(entry) != set(FIELDS):
        return f"needs exactly the fields {', '.join(FIELDS)}"
    for name in ("hash", "same_numbers_as"):
        if not isinstance(entry[name], str) or not _HASH.fullmatch(entry[name]):
            return f"{name} must be a code hash (16 hex digits), got {entry[name]!r}"
    if entry["hash"] == entry["same_numbers_as"]:
        return "links a hash to itself"
    try:
        datetime.date.fromisoformat(entry["date"])
    except (TypeError, ValueError):
        return f"date must be YYYY-MM-DD, got {entry['date']!r}"
    if not all(isinstance(entry[name], str) and entry[name].strip() for name in ("reason", "evidence")):
        return "reason and evidence must say something"
    return None


def accepted_hashes(current: str | None = None, path: str | os.PathLike | None = None) -> set[str]:
    """`current` (default: this code's hash) and every hash the lineage links to it, transitively."""
    if current is None:
        from .results import code_hash

        current = code_hash()
    accepted, links = {current}, entries(path)
    grown = True
    while grown:
        before = len(accepted)
        accepted |= {entry["same_numbers_as"] for entry in links if entry["hash"] in accepted}
        grown = len(accepted) > before
    return accepted


def unaccepted_results(root: str | os.PathLike) -> list[tuple[Path, str]]:
    """(file, code hash) of each result under `root` made by code that this code does not accept:
    the results `load_result(..., expect=config)` would refuse as stale."""
    accepted, out = accepted_hashes(), []
    for path in sorted(Path(root).rglob("*.json")):
        try:
            body = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue  # not a result: load_result names what is wrong with it
        if isinstance(body, dict) and isinstance(body.get("code_hash"), str) and body["code_hash"] not in accepted:
            out.append((path, body["code_hash"]))
    return out


def problems(path: str | os.PathLike | None = None) -> list[str]:
    """What is wrong with the lineage file (empty: nothing): unreadable, malformed, or not append-only in time."""
    path = path if path is not None else LINEAGE_FILE
    try:
        found = entries(path)
    except LineageError as err:
        return [str(err)]
    out = []
    dates = [entry["date"] for entry in found]
    if dates != sorted(dates):
        out.append(f"the code lineage {path} is not in date order: entries are appended, never inserted")
    pairs = [(entry["hash"], entry["same_numbers_as"]) for entry in found]
    if len(set(pairs)) != len(pairs):
        out.append(f"the code lineage {path} records a link twice")
    return out


def describe(path: str | os.PathLike | None = None) -> list[str]:
    """Lines for `python -m dfa_lafs check`: the current hash and what it accepts."""
    from .results import code_hash

    path = path if path is not None else LINEAGE_FILE
    current = code_hash()
    lines = [f"training-code hash: {current}"]
    trouble = problems(path)
    if trouble:
        return lines + [f"error: {problem}" for problem in trouble]
    accepted = accepted_hashes(current, path)
    found = entries(path)
    lines.append(f"code lineage {path}: {len(found)} entr{'y' if len(found) == 1 else 'ies'}")
    for entry in found:
        if entry["hash"] in accepted:
            lines.append(f"  {entry['hash']} gives the same numbers as {entry['same_numbers_as']} "
                         f"({entry['date']}: {entry['reason']})")
    lines.append("accepts results made by: " + ", ".join([f"{current} (this code)", *sorted(accepted - {current})]))
    return lines
