"""Stored results against the repository's committed version (git HEAD).

A result's sha256 catches accidents (a truncated copy, a flipped bit, a stray hand edit); it
cannot catch a deliberate edit, because whoever edits a number can recompute the sha256 too
(`results.content_digest` is public, as it must be for the book to check it). What the
repository holds is the reference: `stored_differences()` compares every file under the stored
results' folder with its blob in git HEAD, by content (git's own hash of the file, not its
timestamps), and lists what differs, what is not committed, and what was deleted.
`python -m dfa_lafs check` prints that list.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

MODIFIED, NOT_COMMITTED, DELETED = "modified", "not committed", "deleted"


def stored_differences(root: str | os.PathLike | None = None) -> list[tuple[Path, str]] | None:
    """Files under `root` (default: the stored results) that differ from git HEAD: (path, how).

    how: 'modified' (content differs from HEAD's blob), 'not committed' (not in HEAD, not
    ignored), 'deleted' (in HEAD, missing here). None when this cannot be told: git is not
    installed, or `root` is not inside a git repository.
    """
    from .files import stored_results_root

    root = Path(root).resolve() if root is not None else stored_results_root().resolve()
    if not root.is_dir():
        return None
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    top = Path(top.strip())
    under = root.relative_to(top).as_posix() if root != top else "."
    committed = _committed_blobs(top, under)
    on_disk = {path.relative_to(top).as_posix() for path in root.rglob("*") if path.is_file()}
    untracked = set((_git(top, "ls-files", "-z", "--others", "--exclude-standard", "--", under) or "").split("\0"))
    differences = [(name, DELETED) for name in committed if name not in on_disk]
    differences += [(name, NOT_COMMITTED) for name in sorted(on_disk & untracked)]
    present = sorted(set(committed) & on_disk)
    if present:
        hashes = (_git(top, "hash-object", "--stdin-paths", stdin="\n".join(present) + "\n") or "").split()
        differences += [(name, MODIFIED) for name, blob in zip(present, hashes) if blob != committed[name]]
    return sorted((top / name, how) for name, how in differences)


def _committed_blobs(top: Path, under: str) -> dict[str, str]:
    """path -> blob hash of every file under `under` in HEAD (none in a repository without commits)."""
    listing = _git(top, "ls-tree", "-r", "-z", "HEAD", "--", under) or ""
    blobs = {}
    for line in filter(None, listing.split("\0")):
        meta, name = line.split("\t", 1)
        _, kind, blob = meta.split()
        if kind == "blob":
            blobs[name] = blob
    return blobs


def _git(folder: Path, *args: str, stdin: str | None = None) -> str | None:
    """git's output, or None when git is missing or fails (no repository, no HEAD)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], input=stdin, capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None
