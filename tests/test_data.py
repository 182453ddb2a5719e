import errno
import gzip
import hashlib
import os
import shutil
import struct
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


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """Each test decompresses into its own cache folder, not ~/.cache."""
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path_factory.mktemp("cache")))


def offline(monkeypatch, cls="MNIST"):
    import torchvision.datasets as tvd

    def fail(self, *args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(getattr(tvd, cls), "download", fail)


def test_missing_files_offline_name_folder_and_files_and_leave_nothing(monkeypatch, tmp_path):
    offline(monkeypatch)
    with pytest.raises(DataError) as err:
        ensure_files("mnist", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "\n" not in message
    assert all(name in message for name in data.KNOWN_FILES["mnist"])
    assert "(OSError: network unreachable)" in message  # the underlying reason, kept
    assert not (tmp_path / "MNIST").exists()  # nothing half-written


def test_one_missing_file_is_named_alone(data_root, monkeypatch, tmp_path):
    offline(monkeypatch)
    folder = copy_mnist(data_root, tmp_path)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"^mnist file\(s\) t10k-labels-idx1-ubyte not found in .*network unreachable"):
        ensure_files("mnist", tmp_path)


def test_verified_gz_files_are_used_offline_without_writing_to_the_root(data_root, monkeypatch, tmp_path):
    offline(monkeypatch)
    folder = copy_mnist(data_root, tmp_path)
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with open(folder / name, "rb") as src, gzip.open(folder / f"{name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        (folder / name).unlink()
    before = sorted(p.name for p in folder.iterdir())
    paths = ensure_files("mnist", tmp_path)
    assert paths["train-images-idx3-ubyte"].parent == data.cache_folder("mnist")
    assert paths["train-labels-idx1-ubyte"] == folder / "train-labels-idx1-ubyte"
    assert sorted(p.name for p in folder.iterdir()) == before
    ours = load_split("mnist", True, tmp_path)
    reference = load_split("mnist", True, data_root)
    assert torch.equal(ours.x, reference.x) and torch.equal(ours.labels, reference.labels)


def test_a_corrupt_gz_is_named(data_root, monkeypatch, tmp_path):
    offline(monkeypatch)
    folder = copy_mnist(data_root, tmp_path)
    (folder / "train-labels-idx1-ubyte").unlink()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz cannot be decompressed \(BadGzipFile"):
        ensure_files("mnist", tmp_path)
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01 wrong content")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz is corrupt \(its content has md5"):
        ensure_files("mnist", tmp_path)
    assert not list(data.cache_folder("mnist").iterdir())  # nothing unverified is kept


def fake_idx_gz(folder: Path, n_train: int = 12, n_test: int = 10) -> dict[str, str]:
    """Tiny gzip'd idx files in Debian's layout; returns their uncompressed md5 sums."""
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    sums = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        contents = {f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, 28, 28) + images.numpy().tobytes(),
                    f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))}
        for name, raw in contents.items():
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            sums[name] = hashlib.md5(raw).hexdigest()
    return sums


def test_fashion_mnist_from_a_read_only_root(tmp_path, monkeypatch):
    """Debian's .gz files are decompressed into the cache, md5-checked; the root is never written."""
    sums = fake_idx_gz(tmp_path / "debian")
    monkeypatch.setattr(data, "DEBIAN_FASHION", tmp_path / "debian")
    monkeypatch.setitem(data.KNOWN_FILES, "fashion-mnist", sums)
    offline(monkeypatch, "FashionMNIST")
    root = tmp_path / "root"
    root.mkdir()
    root.chmod(0o555)
    split = load_split("fashion-mnist", False, root)
    assert split.x.shape == (10, 784) and split.labels.tolist() == list(range(10))
    assert list(root.iterdir()) == []
    assert sorted(p.name for p in data.cache_folder("fashion-mnist").iterdir()) == sorted(sums)
    data._load_cpu.cache_clear()
    (data.cache_folder("fashion-mnist") / "t10k-labels-idx1-ubyte").write_bytes(b"tampered")
    assert load_split("fashion-mnist", False, root).labels.tolist() == list(range(10))  # re-made from the .gz
    data._load_cpu.cache_clear()


@pytest.mark.skipif(not data.DEBIAN_FASHION.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package(tmp_path):
    split = load_split("fashion-mnist", False, tmp_path)
    assert split.x.shape == (10000, 784)
    assert torch.bincount(split.labels).tolist() == [1000] * 10
    assert not (tmp_path / "FashionMNIST").exists()


@pytest.mark.parametrize("number, words", [(errno.ENOSPC, "no space left on the device that holds"),
                                           (errno.EDQUOT, "disk quota exceeded")])
def test_a_full_disk_while_decompressing_blames_the_disk_not_the_archive(data_root, monkeypatch, tmp_path, number,
                                                                         words):
    """The archive is fine: the message names the cache folder and the cause, and never says to delete it."""
    offline(monkeypatch)
    folder = copy_mnist(data_root, tmp_path)
    with open(folder / "train-labels-idx1-ubyte", "rb") as src, gzip.open(folder / "train-labels-idx1-ubyte.gz",
                                                                          "wb") as dst:
        shutil.copyfileobj(src, dst)
    (folder / "train-labels-idx1-ubyte").unlink()
    real = shutil.copyfileobj

    def full(src, dst, *args):
        if getattr(src, "name", "").endswith(".gz"):  # the decompression's writes fail, as on a full disk
            raise OSError(number, os.strerror(number))
        return real(src, dst, *args)

    monkeypatch.setattr(shutil, "copyfileobj", full)
    with pytest.raises(DataError) as err:
        ensure_files("mnist", tmp_path)
    message = str(err.value)
    assert message.startswith(f"cannot decompress {folder / 'train-labels-idx1-ubyte.gz'}: cannot write "
                              f"{data.cache_folder('mnist') / 'train-labels-idx1-ubyte'}: {words}"), message
    assert "DFA_LAFS_CACHE" in message and "delete" not in message
    assert (folder / "train-labels-idx1-ubyte.gz").exists() and not list(data.cache_folder("mnist").iterdir())


def test_empty_environment_variables_mean_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("DFA_LAFS_DATA", "")
    monkeypatch.setenv("DFA_LAFS_CACHE", " ")
    monkeypatch.setattr(data, "DEFAULT_ROOT", tmp_path / "default")
    assert data.resolve_root() == tmp_path / "default"
    assert data.cache_folder("mnist") == tmp_path / "default" / "extracted" / "MNIST"
