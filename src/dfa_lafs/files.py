"""Writing files safely: the one place that decides whether a path may be written, and how.

Every file this library writes (results, checkpoints, sweep records) is checked by
`check_writable` before long work starts and written by `atomic_write_bytes`: a temporary file
`.<name>.<8 random characters>.tmp` in the same folder, fsynced, then renamed over the name, so
a reader never sees half a file and a crash leaves the old file (or none) behind.

What may be written is a regular file, or a name that does not exist yet. A rename replaces the
name itself, not what it points to, so a device (`/dev/null`, which root can replace), a named
pipe, a socket or a symbolic link is refused rather than silently turned into a regular file
(the CLI writes a result to standard output with `--out -`). The temporary file's name is what
must fit the file system's limits, and is checked before training. A result under the stored
results' folder ($DFA_LAFS_RESULTS, and the repository's `results/`), which the book reads and
which took hours to compute, is replaced only when the caller asks (`check_result_path(...,
replace_stored=True)`, `--replace-stored`). A write that fails says which file and why: no
space left, a quota, the process's file-size limit.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from . import env

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMP_SUFFIX, TEMP_RANDOM = ".tmp", 8  # what tempfile.mkstemp adds: .<name>.<8 random characters>.tmp
STDOUT_HINT = "the CLI writes a result to standard output with --out -"


class WriteError(OSError):
    """A file could not be written: the message names the file and the cause."""

    def __str__(self) -> str:
        return str(self.strerror)


def stored_results_root() -> Path:
    """The stored results the book reads: $DFA_LAFS_RESULTS, else the repository's results/
    (when the package runs from a checkout), else ./results. Read at each call."""
    configured = env.path(env.RESULTS)
    if configured is not None:
        return configured
    if (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "src" / "dfa_lafs").is_dir():
        return REPO_ROOT / "results"
    return Path("results")


def stored_root_of(path: str | os.PathLike) -> Path | None:
    """The stored-results folder `path` lies in ($DFA_LAFS_RESULTS or the repository's), or None."""
    resolved = Path(path).resolve()
    for root in (stored_results_root(), REPO_ROOT / "results"):
        if root.is_dir() and resolved.is_relative_to(root.resolve()):
            return root
    return None


def check_result_path(path: str | os.PathLike, what: str = "result file", replace_stored: bool = False) -> Path:
    """`check_writable`, and refuse to replace a stored result unless `replace_stored`."""
    path = check_writable(path, what)
    root = stored_root_of(path)
    if root is not None and path.exists() and not replace_stored:
        raise ValueError(f"{what} {path} is a stored result under {root}, which the book reads: write "
                         f"elsewhere, or ask to replace it (--replace-stored; replace_stored=True in Python)")
    return path


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """`path` as a Path if a file can be written there; else a one-line ValueError naming it.

    Checked before training starts, so that an hour of work is not lost to a typo: a folder
    (an existing one, or a name ending in '/'), a device, pipe or symbolic link, a folder that
    cannot be made or written, a read-only file, and a name or path too long for the temporary
    file the write goes through. The folder is created if missing (as the write would do), and
    the temporary file is created and removed once; nothing else is written.
    """
    text = os.fspath(path)
    if isinstance(text, str) and text.endswith(("/", os.sep)):
        raise ValueError(f"{what} {text} is a folder; give a file path such as {Path(text) / 'result.json'}")
    path = Path(path)
    folder = path.parent
    existing = next(parent for parent in (folder, *folder.parents) if _lstat(parent) is not None)
    _check_lengths(path, existing, what)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give a file path such as {path / 'result.json'}")
    refuse_special(path, what)
    if not existing.is_dir():
        raise ValueError(f"{what} {path} cannot be written: {existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be written: cannot create {folder} ({err.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path} cannot be written: folder {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        # a rename would replace it anyway, but a read-only file says "do not overwrite me"
        raise ValueError(f"{what} {path} exists and is read-only; remove it or choose another path")
    try:
        fd, probe = _temporary(path)
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be written: creating a file in {folder} fails "
                         f"({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def refuse_special(path: Path, what: str = "output") -> None:
    """A ValueError unless `path` is a regular file, a folder or absent (a rename would replace it)."""
    status = _lstat(path)
    if status is None or stat.S_ISREG(status.st_mode) or stat.S_ISDIR(status.st_mode):
        return
    mode = status.st_mode
    if stat.S_ISLNK(mode):
        raise ValueError(f"{what} {path} is a symbolic link (to {os.readlink(path)}); writing would replace the "
                         f"link, not its target: give the target's own path ({STDOUT_HINT})")
    kind = ("device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "named pipe" if stat.S_ISFIFO(mode)
            else "socket" if stat.S_ISSOCK(mode) else "special file")
    raise ValueError(f"{what} {path} is a {kind}, not a regular file, and writing would replace it; "
                     f"choose a file path ({STDOUT_HINT})")


def _lstat(path: Path) -> os.stat_result | None:
    """lstat, or None where nothing can be (absent, a name too long, a file on the way)."""
    try:
        return os.lstat(path)
    except OSError:
        return None


def _check_lengths(path: Path, existing: Path, what: str) -> None:
    """The temporary file's name, and the path the write passes to the system, must fit its limits."""
    name = len(os.fsencode(path.name))
    temporary = name + 2 + TEMP_RANDOM + len(TEMP_SUFFIX)  # .<name>.<random>.tmp
    name_max = _pathconf(existing, "PC_NAME_MAX", 255)
    if temporary > name_max:
        raise ValueError(f"{what} {path}: its name is {name} bytes, and the temporary file written first "
                         f"(.<name>.<8 characters>.tmp) needs {temporary}, over this file system's limit of "
                         f"{name_max}: use a name of at most {name_max - temporary + name} bytes")
    full = len(os.fsencode(os.path.join(os.fspath(path.parent), "x" * temporary)))
    path_max = _pathconf(existing, "PC_PATH_MAX", 4096)
    if full >= path_max:
        raise ValueError(f"{what} {path} is too long a path: {full} bytes with its temporary file's name, over "
                         f"the limit of {path_max - 1}")


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def _temporary(path: Path) -> tuple[int, str]:
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    refuse_special(path, "file")
    try:
        fd, tmp = _temporary(path)
    except OSError as err:
        raise write_error(err, path, len(data)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise write_error(err, path, len(data)) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


# Errors that say where a file was being written is full or limited, not that anything read is broken.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def write_error(err: OSError, path: Path, size: int | None = None) -> WriteError:
    """A WriteError naming `path` and the cause of `err` in words (the disk, a quota, `ulimit -f`)."""
    folder = path.parent
    if err.errno == errno.ENOSPC:
        cause = f"no space left on the device that holds {folder}; free some, or write elsewhere"
    elif err.errno == errno.EDQUOT:
        cause = f"disk quota exceeded on the file system that holds {folder}"
    elif err.errno == errno.EFBIG:
        limit = _file_size_limit()
        cause = (f"file too large: this process's file-size limit (ulimit -f) is {limit:,} bytes" if limit
                 else "file too large for this file system")
    elif err.errno == errno.EROFS:
        cause = f"read-only file system (the one that holds {folder})"
    else:
        cause = err.strerror or str(err)
    needed = f" ({size:,} bytes)" if size is not None else ""
    return WriteError(err.errno, f"cannot write {path}{needed}: {cause}")


def _file_size_limit() -> int | None:
    """RLIMIT_FSIZE in bytes, None when unlimited (or on a system without it)."""
    try:
        import resource
    except ImportError:
        return None
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if limit == resource.RLIM_INFINITY else limit
