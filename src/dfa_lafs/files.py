"""Writing files safely: check a path can be written before long work, then write atomically.

Every file this library writes (results, checkpoints, figures) goes through a temporary file
in the same folder and a rename, so a reader never sees half a file, and a crash or a kill
leaves the old file (or none) behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """`path` as a Path if a file can be written there; else a one-line ValueError naming it.

    Checked before training starts, so that an hour of work is not lost to a typo. The
    folder is created if missing (as the write would do); nothing else is written.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give a file path such as {path / 'result.json'}")
    folder = path.parent
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{what} {path} cannot be written: {parent} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be written: cannot create {folder} ({err.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path} cannot be written: folder {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        # a rename would replace it anyway, but a read-only file says "do not overwrite me"
        raise ValueError(f"{what} {path} exists and is read-only; remove it or choose another path")
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())
