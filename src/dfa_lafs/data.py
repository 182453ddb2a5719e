"""MNIST and Fashion-MNIST as tensors on the training device, checked against md5 sums.

The root folder comes from the `root` argument, else the DFA_LAFS_DATA environment
variable, else ~/.cache/dfa_lafs. It holds torchvision's layout (ROOT/MNIST/raw/...,
ROOT/FashionMNIST/raw/...). Missing files are downloaded by torchvision where the network
allows (into a temporary folder, moved in only once verified); Fashion-MNIST is also taken
from Debian's `dataset-fashion-mnist` package when installed.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

ENV_VAR = "DFA_LAFS_DATA"
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
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return DEFAULT_ROOT


def raw_folder(dataset: str, root: str | os.PathLike | None = None) -> Path:
    return resolve_root(root) / _TV_CLASS[dataset] / "raw"


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_files(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Make sure the four idx files are present and intact; return their folder."""
    if dataset not in KNOWN_FILES:
        raise DataError(f"unknown dataset {dataset!r}; use one of {sorted(KNOWN_FILES)}")
    folder = raw_folder(dataset, root)
    if any(not (folder / name).exists() for name in KNOWN_FILES[dataset]):
        _fetch(dataset, folder)
    for name, expected in KNOWN_FILES[dataset].items():
        got = md5(folder / name)
        if got != expected:
            raise DataError(f"{folder / name} is corrupt (md5 {got}, expected {expected}); "
                            f"delete it and load again to re-fetch it")
    return folder


def _fetch(dataset: str, folder: Path) -> None:
    """Fill `folder` with the missing files from Debian's package or a download, atomically."""
    with tempfile.TemporaryDirectory(prefix="dfa_lafs_data_") as tmp:
        staged = Path(tmp) / _TV_CLASS[dataset] / "raw"
        if dataset == "fashion-mnist" and all((DEBIAN_FASHION / f"{n}.gz").exists() for n in KNOWN_FILES[dataset]):
            staged.mkdir(parents=True)
            for name in KNOWN_FILES[dataset]:
                with gzip.open(DEBIAN_FASHION / f"{name}.gz", "rb") as src, open(staged / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        else:
            _download(dataset, Path(tmp), folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in KNOWN_FILES[dataset]:
            if not (folder / name).exists():
                part = folder / f"{name}.part"  # same folder, so the rename is atomic
                shutil.copyfile(staged / name, part)
                os.replace(part, folder / name)


def _download(dataset: str, tmp_root: Path, folder: Path) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, _TV_CLASS[dataset])
    files = ", ".join(KNOWN_FILES[dataset])
    try:
        cls(str(tmp_root), train=True, download=True)
        cls(str(tmp_root), train=False, download=True)
    except Exception as err:  # torchvision raises RuntimeError/URLError/OSError by mirror
        raise DataError(f"{dataset} files not found in {folder} and could not be downloaded "
                        f"({type(err).__name__}); put {files} there, or set {ENV_VAR} to a folder "
                        f"that has {_TV_CLASS[dataset]}/raw/ with them") from None


@functools.lru_cache(maxsize=4)
def _load_cpu(dataset: str, root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision.datasets as tvd

    ensure_files(dataset, root)
    ds = getattr(tvd, _TV_CLASS[dataset])(root, train=train, download=False)
    return ds.data.reshape(len(ds.data), -1), ds.targets.long()


def load_split(dataset: str = "mnist", train: bool = True, root: str | os.PathLike | None = None,
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Split:
    """A whole split as tensors on `device`: x in [0, 1] of shape (n, 784), one-hot y."""
    pixels, labels = _load_cpu(dataset, str(resolve_root(root)), train)
    x = pixels.to(device=device, dtype=dtype) / 255.0
    labels = labels.to(device)
    y = torch.nn.functional.one_hot(labels, 10).to(dtype)
    return Split(x, y, labels)
