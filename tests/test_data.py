import shutil
from pathlib import Path

import pytest
import torch

from dfa_lafs import data
from dfa_lafs.data import DataError, ensure_files, load_split, resolve_root


def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    assert resolve_root() == data.DEFAULT_ROOT
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert resolve_root() == tmp_path
    assert resolve_root("/given") == Path("/given")


def test_mnist_loads_with_known_shapes_and_checksums(data_root):
    train = load_split("mnist", True, data_root)
    test = load_split("mnist", False, data_root)
    assert train.x.shape == (60000, 784) and test.x.shape == (10000, 784)
    assert train.x.dtype == torch.float32 and 0 <= train.x.min() and train.x.max() == 1
    torch.testing.assert_close(train.y.sum(1), torch.ones(60000))
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first MNIST labels
    assert torch.bincount(test.labels).tolist()[:3] == [980, 1135, 1032]


def copy_mnist(src_root: str, dst_root: Path) -> Path:
    folder = dst_root / "MNIST" / "raw"
    shutil.copytree(Path(src_root) / "MNIST" / "raw", folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def test_corrupt_file_is_an_error(data_root, tmp_path):
    folder = copy_mnist(data_root, tmp_path)
    with open(folder / "t10k-labels-idx1-ubyte", "r+b") as f:
        f.seek(100)
        f.write(b"\x07")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte is corrupt \(md5 .*\); delete it"):
        ensure_files("mnist", tmp_path)


def test_truncated_file_is_an_error(data_root, tmp_path):
    folder = copy_mnist(data_root, tmp_path)
    (folder / "train-labels-idx1-ubyte").write_bytes((folder / "train-labels-idx1-ubyte").read_bytes()[:1000])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte is corrupt"):
        ensure_files("mnist", tmp_path)


def test_missing_files_offline_name_folder_and_files_and_leave_nothing(monkeypatch, tmp_path):
    import torchvision.datasets as tvd

    def offline(self, *args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(tvd.MNIST, "download", offline)
    with pytest.raises(DataError) as err:
        ensure_files("mnist", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "\n" not in message
    assert all(name in message for name in data.KNOWN_FILES["mnist"])
    assert not (tmp_path / "MNIST").exists()  # nothing half-written


@pytest.mark.skipif(not data.DEBIAN_FASHION.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package(tmp_path):
    split = load_split("fashion-mnist", False, tmp_path)
    assert split.x.shape == (10000, 784)
    assert torch.bincount(split.labels).tolist() == [1000] * 10
