"""Where a file may be written: one check for every output, and writes that fail saying which file and why."""

from __future__ import annotations

import errno
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dfa_lafs import Result, RunConfig
from dfa_lafs.files import (WriteError, atomic_write_bytes, check_result_path, check_writable, stored_results_root,
                            stored_root_of)
from dfa_lafs.results import code_hash

CONFIG = RunConfig(rule="lafs", hidden=(8,), epochs=1)


def result() -> Result:
    return Result(CONFIG, {"step": [0]}, {}, {"code_hash": code_hash()})


@pytest.fixture
def stored(tmp_path, monkeypatch) -> Path:
    """A stored-results folder (DFA_LAFS_RESULTS) holding one result."""
    root = tmp_path / "stored"
    monkeypatch.setenv("DFA_LAFS_RESULTS", str(root))
    (root / "figure1").mkdir(parents=True)
    result().save(root / "figure1" / "dfa.json")
    return root


# --- what may be replaced ------------------------------------------------------------------------

def specials(tmp_path: Path) -> dict[str, Path]:
    target = tmp_path / "target.json"
    target.write_text("the user's file")
    made = {"fifo": tmp_path / "fifo", "link": tmp_path / "link.json", "dangling": tmp_path / "dangling.json"}
    os.mkfifo(made["fifo"])
    made["link"].symlink_to(target)
    made["dangling"].symlink_to(tmp_path / "nowhere.json")
    if os.geteuid() == 0:  # a node like /dev/null, which root could otherwise replace
        made["device"] = tmp_path / "null"
        os.mknod(made["device"], stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return made


@pytest.mark.parametrize("kind, message", [("fifo", "is a named pipe"), ("link", "is a symbolic link"),
                                           ("dangling", "is a symbolic link"), ("device", "is a device")])
def test_only_a_regular_file_or_nothing_is_replaced(tmp_path, kind, message):
    path = specials(tmp_path).get(kind)
    if path is None:
        pytest.skip("making a device node needs root")
    before = os.lstat(path)
    for attempt in (lambda: check_writable(path, "result file"), lambda: atomic_write_bytes(path, b"x"),
                    lambda: result().save(path)):
        with pytest.raises(ValueError, match=message) as err:
            attempt()
        assert str(path) in str(err.value) and "--out -" in str(err.value)
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert (tmp_path / "target.json").read_text() == "the user's file"


def test_a_trailing_slash_means_a_folder_even_when_it_does_not_exist(tmp_path):
    for path in (str(tmp_path / "newdir") + "/", str(tmp_path / "newdir") + os.sep):
        with pytest.raises(ValueError, match="is a folder; give a file path such as"):
            check_writable(path)
        with pytest.raises(ValueError, match="is a folder"):
            result().save(path)
    assert not (tmp_path / "newdir").exists()


def test_the_temporary_files_name_must_fit_before_anything_runs(tmp_path):
    longest = 255 - len(".." + "x" * 8 + ".tmp")  # 241: the temporary file's name is then 255 bytes
    assert check_writable(tmp_path / ("a" * longest))
    with pytest.raises(ValueError, match=rf"its name is {longest + 1} bytes.*needs 256.*at most {longest} bytes"):
        check_writable(tmp_path / ("a" * (longest + 1)))
    with pytest.raises(ValueError, match="its name is 300 bytes"):
        check_writable(tmp_path / ("b" * 300))
    deep = tmp_path.joinpath(*["d" * 200] * 21) / "r.json"
    with pytest.raises(ValueError, match="is too long a path"):
        check_writable(deep)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the checks leave nothing behind


def test_the_check_leaves_no_file_and_writes_go_through_a_temporary_file(tmp_path):
    path = check_writable(tmp_path / "sub" / "r.json")
    assert path.parent.is_dir() and list(path.parent.iterdir()) == []
    atomic_write_bytes(path, b"data")
    assert path.read_bytes() == b"data" and [p.name for p in path.parent.iterdir()] == ["r.json"]


# --- stored results ----------------------------------------------------------------------------------

def test_a_stored_result_is_replaced_only_when_asked(stored, tmp_path):
    path = stored / "figure1" / "dfa.json"
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"is a stored result under .*--replace-stored"):
        check_result_path(path)
    with pytest.raises(ValueError, match="is a stored result"):
        Result(CONFIG.replace(seed=1), {"step": [0]}, {}, {"code_hash": code_hash()}).save(path)
    assert path.read_bytes() == before
    assert check_result_path(stored / "figure1" / "new.json")  # a new file under results/ replaces nothing
    assert check_result_path(tmp_path / "elsewhere.json")
    Result(CONFIG.replace(seed=1), {"step": [0]}, {}, {"code_hash": code_hash()}).save(path, replace_stored=True)
    assert path.read_bytes() != before


def test_the_stored_results_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DFA_LAFS_RESULTS", str(tmp_path / "elsewhere"))
    assert stored_results_root() == tmp_path / "elsewhere"
    monkeypatch.setenv("DFA_LAFS_RESULTS", "")  # empty means unset: the repository's results/
    assert stored_results_root() == Path(__file__).resolve().parents[1] / "results"
    assert stored_root_of(Path(__file__).resolve().parents[1] / "results" / "figure1" / "dfa.json") is not None
    assert stored_root_of(tmp_path / "r.json") is None


def test_run_refuses_a_stored_result_before_loading_anything(stored, monkeypatch):
    from dfa_lafs import train

    monkeypatch.setattr(train, "_load", lambda *a: pytest.fail("data were loaded"))
    with pytest.raises(ValueError, match="is a stored result"):
        train.run(CONFIG, out=stored / "figure1" / "dfa.json", progress=False)


# --- failed writes name the file and the cause ------------------------------------------------------

@pytest.mark.parametrize("number, words", [(errno.ENOSPC, "no space left on the device that holds"),
                                           (errno.EDQUOT, "disk quota exceeded"),
                                           (errno.EROFS, "read-only file system")])
def test_a_failed_write_names_the_file_and_the_cause(tmp_path, monkeypatch, number, words):
    def fail(fd):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, "fsync", fail)
    path = tmp_path / "r.json"
    with pytest.raises(WriteError) as err:
        atomic_write_bytes(path, b"x" * 1000)
    assert str(err.value).startswith(f"cannot write {path} (1,000 bytes): {words}")
    assert list(tmp_path.iterdir()) == []  # no temporary file left


FSIZE_WRITE = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from dfa_lafs.files import atomic_write_bytes
try:
    atomic_write_bytes(sys.argv[1], b"x" * 10000)
except OSError as err:
    print(err)
"""


def test_a_file_size_limit_is_named_as_such(tmp_path):
    """`ulimit -f`: the kernel answers EFBIG ("File too large"); the message says which limit."""
    if resource.getrlimit(resource.RLIMIT_FSIZE)[1] != resource.RLIM_INFINITY:
        pytest.skip("a hard file-size limit is already set")
    path = tmp_path / "big.json"
    done = subprocess.run([sys.executable, "-c", FSIZE_WRITE, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == (f"cannot write {path} (10,000 bytes): file too large: this process's file-size "
                                   f"limit (ulimit -f) is 4,096 bytes"), done.stderr
    assert not path.exists()


def test_the_cli_names_the_file_when_a_write_fails(tmp_path, monkeypatch, capsys):
    from dfa_lafs import cli

    def fail(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    monkeypatch.setattr(cli, "_train", lambda args: result().save(args.out) and 0)
    assert cli.main(["train", "--out", str(tmp_path / "r.json"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot write {tmp_path / 'r.json'} (") and "no space left" in err, err


def test_a_sweep_record_is_written_through_the_same_check(tmp_path):
    from dfa_lafs.sweep.grid import load_grid, record_grid

    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "_grid.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ValueError, match="is a symbolic link"):
        record_grid(folder, load_grid({"grid": {"seed": [0]}}))
    assert not (tmp_path / "elsewhere.json").exists()  # neither the link nor its target was written


def test_figure1_replaces_a_stale_stored_result_only_when_asked(stored, monkeypatch):
    """Anywhere under the stored results, not only in results/figure1: refused before any training."""
    from dfa_lafs import experiments

    calls = []
    monkeypatch.setattr(experiments, "run", lambda config, **kw: calls.append(kw["replace_stored"]))
    monkeypatch.setattr(experiments, "save_figure", lambda *a: [])
    monkeypatch.setattr(experiments, "figure1", lambda *a: None)
    folder = stored / "elsewhere"
    folder.mkdir()
    (folder / "dfa.json").write_text("{")  # unreadable, so it would be remade
    with pytest.raises(ValueError, match=rf"Figure 1 output {folder / 'dfa.json'} is a stored result"):
        experiments.make_figure1(folder, progress=False, epochs=1)
    assert calls == []
    experiments.make_figure1(folder, progress=False, replace_stored=True, epochs=1)
    assert calls == [True, True]
