"""MNIST and Fashion-MNIST as tensors on the training device, checked against md5 sums.

The root folder comes from the `root` argument, else the DFA_LAFS_DATA environment
variable (empty means unset, like every DFA_LAFS_* variable: see `env`), else ~/.cache/dfa_lafs. It holds torchvision's layout (ROOT/MNIST/raw/...,
ROOT/FashionMNIST/raw/...) and is only read, never written, unless files must be downloaded.
Each of the four idx files is taken, in this order, from:

1. ROOT/<Dataset>/raw/<name>, uncompressed (a corrupt one is an error, not skipped);
2. the extraction cache, `$DFA_LAFS_CACHE` (default ~/.cache/dfa_lafs/extracted; a temporary
   folder if that cannot be written), where earlier runs decompressed it;
3. ROOT/<Dataset>/raw/<name>.gz, as torchvision would use it offline, or for Fashion-MNIST
   Debian's `dataset-fashion-mnist` package: decompressed into the cache;
4. a torchvision download (into a temporary folder, moved in only once verified): into the
   raw folder when it is writable, else into the cache.

Every file is checked against the md5 of its uncompressed content before it is used.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from . import env
from .files import WRITE_ERRNOS, write_error

ENV_VAR = env.DATA
CACHE_ENV_VAR = env.CACHE
DEFAULT_ROOT = Path.home() / ".cache" / "dfa_lafs"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
# md5 of the uncompressed idx files. MNIST: the canonical sums (see shared/data/README.md).
# Fashion-MNIST: the sums of the uncompressed files that upstream's gzip archives (and
# Debian's re-compressed ones) contain.
KNOWN_FILES = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
_TV_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


class DataError(RuntimeError):
    """Data files are missing, corrupt or cannot be fetched."""


@dataclass(frozen=True)
class Split:
    """One split on one device: inputs flattened to [0, 1], one-hot targets, labels."""

    x: torch.Tensor  # (n, 784)
    y: torch.Tensor  # (n, 10) one-hot
    labels: torch.Tensor  # (n,) int64

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.x[index], self.y[index], self.labels[index])


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The dataset root: the argument, else $DFA_LAFS_DATA, else ~/.cache/dfa_lafs."""
    if root is not None:
        return Path(root).expanduser()
    return env.path(ENV_VAR) or DEFAULT_ROOT


def raw_folder(dataset: str, root: str | os.PathLike | None = None) -> Path:
    return resolve_root(root) / _TV_CLASS[dataset] / "raw"


def cache_folder(dataset: str) -> Path:
    """Where decompressed (and, for a read-only root, downloaded) files go; created if missing."""
    base = env.path(CACHE_ENV_VAR) or DEFAULT_ROOT / "extracted"
    for folder in (base / _TV_CLASS[dataset],
                   Path(tempfile.gettempdir()) / f"dfa_lafs-{os.getuid()}" / _TV_CLASS[dataset]):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
    raise DataError(f"no writable folder to decompress {dataset} into: set {CACHE_ENV_VAR} to one")


def md5(path: Path) -> str:
    h = hashlib.md5()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as err:
        raise DataError(f"{path} cannot be read ({err.strerror or err})") from None
    return h.hexdigest()


def ensure_files(dataset: str, root: str | os.PathLike | None = None) -> dict[str, Path]:
    """The four idx files of `dataset`, uncompressed and md5-checked: file name -> path."""
    if dataset not in KNOWN_FILES:
        raise DataError(f"unknown dataset {dataset!r}; use one of {sorted(KNOWN_FILES)}")
    raw = raw_folder(dataset, root)
    try:
        paths = {name: _find(dataset, name, raw) for name in KNOWN_FILES[dataset]}
        missing = [name for name, path in paths.items() if path is None]
        if missing:
            _download(dataset, raw, missing)
            paths = {name: _find(dataset, name, raw) for name in KNOWN_FILES[dataset]}
    except OSError as err:  # e.g. a folder on the way that cannot be searched
        raise DataError(f"{err.filename or raw} cannot be read ({err.strerror or err})") from None
    return paths


def _find(dataset: str, name: str, raw: Path) -> Path | None:
    """An intact uncompressed copy of `name`: in the raw folder, in the cache, or made from a .gz."""
    expected = KNOWN_FILES[dataset][name]
    plain = raw / name
    if plain.exists():
        got = md5(plain)
        if got != expected:
            raise DataError(f"{plain} is corrupt (md5 {got}, expected {expected}); delete it and load again "
                            f"to re-fetch it")
        return plain
    cached = cache_folder(dataset) / name
    if cached.exists() and md5(cached) == expected:
        return cached
    archives = [raw / f"{name}.gz"] + ([DEBIAN_FASHION / f"{name}.gz"] if dataset == "fashion-mnist" else [])
    for archive in archives:
        if archive.exists():
            return _decompress(archive, cached, expected)
    return None


def _decompress(archive: Path, dst: Path, expected: str) -> Path:
    """Decompress `archive` to `dst` atomically, if its content has the expected md5.

    A failure to write (no space, a quota, a file-size limit) is said to be one, naming the
    folder: the archive is fine, and deleting it would only lose it.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    except OSError as err:
        raise DataError(f"cannot decompress {archive}: {write_error(err, dst)}") from None
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(archive, "rb") as src:
            shutil.copyfileobj(src, out)
        got = md5(Path(tmp))
        if got != expected:
            raise DataError(f"{archive} is corrupt (its content has md5 {got}, expected {expected}); "
                            f"delete it and load again to re-fetch it")
        os.replace(tmp, dst)
    except OSError as err:
        if err.errno in WRITE_ERRNOS:
            raise DataError(f"cannot decompress {archive}: {write_error(err, dst)} (or set {CACHE_ENV_VAR} to a "
                            f"folder with room for the MNIST files, about 55 MB)") from None
        raise DataError(f"{archive} cannot be decompressed ({type(err).__name__}: {_squash(err)}); "
                        f"delete it and load again to re-fetch it") from None
    except (EOFError, zlib.error) as err:
        raise DataError(f"{archive} cannot be decompressed ({type(err).__name__}: {_squash(err)}); "
                        f"delete it and load again to re-fetch it") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def _download(dataset: str, raw: Path, missing: list[str]) -> None:
    """Fetch the dataset with torchvision into a temporary folder; move in the missing files once verified."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, _TV_CLASS[dataset])
    with tempfile.TemporaryDirectory(prefix="dfa_lafs_data_") as tmp:
        try:
            cls(tmp, train=True, download=True)
            cls(tmp, train=False, download=True)
        except Exception as err:  # torchvision raises RuntimeError/URLError/OSError by mirror
            raise DataError(f"{dataset} file(s) {', '.join(missing)} not found in {raw} (nor as .gz) and could not be downloaded "
                            f"({type(err).__name__}: {_squash(err)}); put the files there, or set {ENV_VAR} to "
                            f"a folder that has {_TV_CLASS[dataset]}/raw/ with them") from None
        staged = Path(tmp) / _TV_CLASS[dataset] / "raw"
        dest = raw if _can_write(raw) else cache_folder(dataset)
        for name in missing:
            if md5(staged / name) != KNOWN_FILES[dataset][name]:
                raise DataError(f"the downloaded {name} does not match its md5 sum; try again later")
            part = dest / f".{name}.part"  # same folder, so the rename is atomic
            shutil.copyfile(staged / name, part)
            os.replace(part, dest / name)


def _can_write(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _squash(err: BaseException, limit: int = 300) -> str:
    """An error message on one line, cut to `limit` characters."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[:limit] + " ..."


@functools.lru_cache(maxsize=4)
def _load_cpu(dataset: str, root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets.mnist import read_image_file, read_label_file  # what torchvision's MNIST uses

    files = ensure_files(dataset, root)
    prefix = "train" if train else "t10k"
    images = read_image_file(str(files[f"{prefix}-images-idx3-ubyte"]))  # (n, 28, 28) uint8
    labels = read_label_file(str(files[f"{prefix}-labels-idx1-ubyte"]))  # (n,) int64
    return images.reshape(len(images), -1), labels


def load_split(dataset: str = "mnist", train: bool = True, root: str | os.PathLike | None = None,
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Split:
    """A whole split as tensors on `device`: x in [0, 1] of shape (n, 784), one-hot y."""
    pixels, labels = _load_cpu(dataset, str(resolve_root(root)), train)
    x = pixels.to(device=device, dtype=dtype) / 255.0
    labels = labels.to(device)
    y = torch.nn.functional.one_hot(labels, 10).to(dtype)
    return Split(x, y, labels)
