"""Fault injection: the command line killed mid-write, interrupted, fed corrupt or crafted
checkpoints, pointed at unwritable places, given values that diverge. Each case checks that no
work is lost, nothing half-written is ever read, and the user sees one line.

The CLI runs in a subprocess (`DRIVER`), optionally with a fault injected first: SIGKILL at
the n-th atomic rename (the moment a file would be replaced), or a slowed-down step so that a
signal lands mid-run. Runs are tiny; the module takes well under two minutes.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from dfa_lafs import RunConfig, load_result
from dfa_lafs.cli import main
from dfa_lafs.train import run

TINY = {"hidden": [16], "train_size": 512, "eval_size": 256, "probe_size": 64, "record_points": 5, "epochs": 2,
        "baseline_epochs": 0}
FLAGS = ["--hidden", "16", "--train-size", "512", "--eval-size", "256", "--probe-size", "64", "--record-points", "5",
         "--epochs", "2", "--baseline-epochs", "0", "--quiet"]

# argv[1]: the CLI's arguments (JSON); argv[2]: a fault to inject before calling it.
DRIVER = r"""
import json, os, signal, sys, time
# Ctrl-C raises KeyboardInterrupt, as in a terminal, even when the tests run in a background job
# (which starts its processes with SIGINT ignored, and Python keeps an ignored SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
import torch
torch.set_num_threads(1)  # as in the test process (conftest), so that results compare bit for bit
fault = sys.argv[2]
if fault.startswith("kill-at-replace:"):  # SIGKILL instead of the n-th rename onto a file named *suffix
    n, suffix = fault.split(":")[1:]
    real, seen = os.replace, [0]
    def replace(src, dst):
        if str(dst).endswith(suffix):
            seen[0] += 1
            if seen[0] == int(n):
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    os.replace = replace
elif fault.startswith("slow-steps:"):  # each training step takes this long, so a signal lands mid-run
    import dfa_lafs.train as train  # slow-steps:DELAY[:MARKER]: MARKER is created at the first step
    delay, marker, real_step = float(fault.split(":")[1]), fault.split(":", 2)[2:], train.update
    def slow(*args, **kwargs):
        if marker:
            open(marker.pop(), "w").close()
        time.sleep(delay)
        return real_step(*args, **kwargs)
    train.update = slow
elif fault.startswith("block-point:"):  # the n-th sweep point writes MARKER, then waits to be interrupted
    import threading
    import dfa_lafs.sweep.runner as runner
    n, marker = fault.split(":", 2)[1:]
    real_point, calls = runner.execute_point, [0]
    def blocking(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(n):
            open(marker, "w").close()
            threading.Event().wait()  # until SIGINT raises KeyboardInterrupt here
        return real_point(*args, **kwargs)
    runner.execute_point = blocking
from dfa_lafs.cli import main
if fault == "batch":  # several invocations in one process: [[args], ...] -> [[code, stderr], ...] on stdout
    import contextlib, io
    outcomes = []
    for args in json.loads(sys.argv[1]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(args)
        outcomes.append([code, err.getvalue()])
    print(json.dumps(outcomes))
    sys.exit(0)
sys.exit(main(json.loads(sys.argv[1])))
"""


def cli(args: list, fault: str = "", prefix: tuple[str, ...] = (), wait: bool = True):
    """Run the CLI in a subprocess; the finished process (or, with wait=False, the running one)."""
    command = [*prefix, sys.executable, "-c", DRIVER, json.dumps(args, default=str), fault]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        proc.out, proc.err = proc.communicate(timeout=120)
    return proc


def in_process(args: list, capsys) -> tuple[int, str]:
    """The CLI in this process (no fault to inject): its exit code and its stderr, checked to be one line."""
    code = main([str(a) for a in args])
    return code, one_line(capsys.readouterr().err)


def one_line(err) -> str:
    err = (err if isinstance(err, str) else err.err).strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def unprivileged() -> tuple[str, ...]:
    """A prefix under which file permissions apply (root ignores them unless its capabilities go)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", "--bounding-set", caps, "--inh-caps", caps)


def history_and_final(path: Path) -> tuple[dict, dict]:
    result = load_result(path)
    return result.history, result.final


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_root) -> Path:
    """The tiny run, uninterrupted, as the CLI saves it."""
    out = tmp_path_factory.mktemp("reference") / "r.json"
    assert main(["train", "--data-root", data_root, *FLAGS, "--out", str(out)]) == 0
    return out


# --- killed while writing ---------------------------------------------------------------------------

def test_kill_during_save_keeps_the_old_result_whole(tmp_path, data_root, reference):
    out = tmp_path / "r.json"
    shutil.copy(reference, out)
    old = out.read_bytes()
    proc = cli(["train", "--data-root", data_root, *FLAGS, "--seed", "1", "--out", out], "kill-at-replace:1:r.json")
    assert proc.returncode == -signal.SIGKILL
    assert out.read_bytes() == old  # never half a file: the old result, whole
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".json"] == ["r.json"]


def test_kill_during_checkpoint_then_resume_is_bit_identical(tmp_path, data_root, reference):
    out, ckpt = tmp_path / "r.json", tmp_path / "run.ckpt"
    args = ["train", "--data-root", data_root, *FLAGS, "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "3"]
    proc = cli(args, "kill-at-replace:2:run.ckpt")  # the first checkpoint is written, the second is not
    assert proc.returncode == -signal.SIGKILL and ckpt.exists() and not out.exists()
    assert main([str(a) for a in args]) == 0
    assert history_and_final(out) == history_and_final(reference) and not ckpt.exists()


def test_a_result_that_cannot_be_saved_keeps_its_checkpoint(tmp_path, data_root):
    """The result is saved before the checkpoint goes: a failed save loses nothing."""
    out, ckpt = tmp_path / "r.json", tmp_path / "run.ckpt"
    args = ["train", "--data-root", data_root, *FLAGS, "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "3"]
    proc = cli(args, "kill-at-replace:1:r.json")
    assert proc.returncode == -signal.SIGKILL and ckpt.exists() and not out.exists()
    assert main([str(a) for a in args]) == 0 and load_result(out) and not ckpt.exists()


# --- signals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_checkpoints_prints_one_line_and_resumes_bit_identically(tmp_path, data_root, reference, sig):
    out, ckpt = tmp_path / "r.json", tmp_path / "run.ckpt"
    args = ["train", "--data-root", data_root, *FLAGS, "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "2"]
    proc = cli(args, "slow-steps:0.05", wait=False)
    deadline = time.monotonic() + 60
    while not ckpt.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.out, proc.err = proc.communicate(timeout=60)
    assert proc.returncode == 130, proc.err
    assert "interrupted" in one_line(proc) and "resume" in proc.err
    assert ckpt.exists() and not out.exists()
    assert main([str(a) for a in args]) == 0
    assert history_and_final(out) == history_and_final(reference)


# --- corrupt and crafted checkpoints --------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_root) -> tuple[RunConfig, Path]:
    config = RunConfig(rule="dfa", data_root=data_root, **TINY)
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    assert run(config, checkpoint=path, stop_after=5, progress=False) is None
    return config, path


def resume_cli(data_root, ckpt: Path, tmp_path: Path, capsys) -> str:
    out = tmp_path / "r.json"
    code, err = in_process(["train", "--data-root", data_root, *FLAGS, "--out", out, "--checkpoint", ckpt], capsys)
    assert code == 2 and not out.exists()
    return err


def test_a_flipped_bit_in_a_weight_is_refused(tmp_path, data_root, checkpoint, capsys):
    body = torch.load(checkpoint[1], weights_only=True)
    W = body["net"]["W"][0]
    W.view(torch.int32)[3, 5] ^= 1 << 20  # one bit of one weight
    ckpt = tmp_path / "flipped.ckpt"
    torch.save(body, ckpt)
    assert f"checkpoint {ckpt} is corrupt or was edited" in resume_cli(data_root, ckpt, tmp_path, capsys)


def test_a_flipped_bit_anywhere_in_the_file_is_refused(tmp_path, data_root, checkpoint, capsys):
    raw = bytearray(checkpoint[1].read_bytes())
    for position in (len(raw) // 3, len(raw) // 2, 2 * len(raw) // 3):
        ckpt = tmp_path / f"bit{position}.ckpt"
        flipped = raw.copy()
        flipped[position] ^= 0x10
        ckpt.write_bytes(bytes(flipped))
        assert f"checkpoint {ckpt}" in resume_cli(data_root, ckpt, tmp_path, capsys)


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_crafted_pickle_checkpoint_runs_no_code(tmp_path, data_root, capsys):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"format": 2, "net": _Exploit(marker)}, ckpt)
    with open(tmp_path / "plain.ckpt", "wb") as f:
        pickle.dump(_Exploit(marker), f)
    for path in (ckpt, tmp_path / "plain.ckpt"):
        assert f"checkpoint {path}" in resume_cli(data_root, path, tmp_path, capsys)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage\x00" * 50, b"a text file\n", b'{"config": {}}'])
def test_garbage_checkpoints_are_one_line(tmp_path, data_root, content, capsys):
    ckpt = tmp_path / "bad.ckpt"
    ckpt.write_bytes(content)
    assert f"checkpoint {ckpt}" in resume_cli(data_root, ckpt, tmp_path, capsys)


def test_a_checkpoint_missing_keys_or_a_folder_is_one_line(tmp_path, data_root, checkpoint, capsys):
    body = torch.load(checkpoint[1], weights_only=True)
    ckpt = tmp_path / "partial.ckpt"
    torch.save({k: v for k, v in body.items() if k != "state"}, ckpt)
    assert f"checkpoint {ckpt} is not a dfa_lafs checkpoint" in resume_cli(data_root, ckpt, tmp_path, capsys)
    folder = tmp_path / "folder.ckpt"
    folder.mkdir()
    assert f"checkpoint {folder} is a folder" in resume_cli(data_root, folder, tmp_path, capsys)


# --- unwritable outputs -------------------------------------------------------------------------------

def test_unwritable_outputs_and_unreadable_data_fail_before_training_in_one_line(tmp_path, data_root):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "old.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    raw = tmp_path / "data" / "MNIST" / "raw"
    shutil.copytree(Path(data_root) / "MNIST" / "raw", raw)
    cases = [
        (["train", *FLAGS, "--out", locked / "r.json"], f"folder {locked} is not writable"),
        (["train", *FLAGS, "--out", tmp_path / "old.json"], f"{tmp_path / 'old.json'} exists and is read-only"),
        (["train", *FLAGS, "--out", tmp_path / "r.json", "--checkpoint", locked / "c.ckpt"],
         f"checkpoint {locked / 'c.ckpt'} cannot be written"),
        (["figure1", *FLAGS, "--out-dir", locked], f"Figure 1 output {locked / 'dfa.json'} cannot be written"),
        (["train", *FLAGS, "--out", locked / "new" / "r.json"], f"cannot create {locked / 'new'}"),
        (["sweep", Path(__file__).parents[1] / "sweeps" / "ci" / "lr.yaml", "--out", locked], f"sweep folder {locked / '_grid.json'} cannot be written"),
    ]
    cases = [([*args, "--data-root", data_root], message) for args, message in cases]
    cases.append((["train", *FLAGS, "--data-root", tmp_path / "data", "--out", tmp_path / "r.json"],
                  f"{raw / 'train-labels-idx1-ubyte'} cannot be read (Permission denied)"))
    (tmp_path / "old.json").chmod(0o444)
    locked.chmod(0o555)
    (raw / "train-labels-idx1-ubyte").chmod(0o000)
    try:
        proc = cli([[str(a) for a in args] for args, _ in cases], "batch", prefix=unprivileged())
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 0, proc.err
    for (code, err), (args, message) in zip(json.loads(proc.out), cases):
        assert code == 2 and message in one_line(err), (args, err)
    assert sorted(p.name for p in locked.iterdir()) == ["old.json"] and not (tmp_path / "r.json").exists()


# --- values that diverge -----------------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    (["--lr", "inf"], "lr must be finite"),
    (["--lr", "nan"], "lr must be > 0, got nan"),
    (["--init-scale", "inf"], "init_scale must be finite"),
    (["--lr", "1e30", "--activation", "relu"], "training diverged at step"),
])
def test_non_finite_values_and_divergence_write_no_result(tmp_path, data_root, flags, message, capsys):
    out = tmp_path / "r.json"
    code, err = in_process(["train", "--data-root", data_root, *FLAGS, *flags, "--out", out], capsys)
    assert code == 2 and message in err
    assert not out.exists()


# --- two writers, and an interrupted sweep ----------------------------------------------------------------

WRITER = r"""
import sys
from dfa_lafs import Result, RunConfig
from dfa_lafs.results import code_hash
seed, path = int(sys.argv[1]), sys.argv[2]
config = RunConfig(rule="dfa", hidden=(16,), seed=seed)
history = {"step": list(range(2000)), "train/loss": [float(seed)] * 2000}  # ~50 kB: a write takes a while
for _ in range(60):
    Result(config, history, {}, {"code_hash": code_hash()}).save(path)
"""


def test_two_writers_on_one_file_leave_one_whole_result(tmp_path):
    """Two processes save to one path over and over; a reader never sees half a file."""
    out = tmp_path / "r.json"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(seed), str(out)]) for seed in (0, 1)]
    reads = 0
    while any(w.poll() is None for w in writers):
        if out.exists():
            result = load_result(out)
            assert result.history["train/loss"][-1] == result.config.seed  # never a mix of the two
            reads += 1
        time.sleep(0.002)
    assert [w.returncode for w in writers] == [0, 0] and reads > 10
    assert load_result(out).config.seed in (0, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_an_interrupted_sweep_keeps_finished_points_and_resumes(tmp_path, data_root, capsys):
    """Deterministic: the second point blocks until interrupted and says so (a marker file), so the
    interrupt always lands after the first point's result is stored and before the sweep can end."""
    grid_file, out, marker = tmp_path / "tiny.yaml", tmp_path / "sweep", tmp_path / "blocked"
    grid = {"name": "tiny", "base": TINY, "grid": {"rule": ["dfa", "lafs"]}}
    grid_file.write_text(yaml.safe_dump(grid))
    args = ["sweep", grid_file, "--out", out, "--workers", "1", "--data-root", data_root, "--quiet"]
    proc = cli(args, f"block-point:2:{marker}", wait=False)
    deadline = time.monotonic() + 600  # generous: kernel start-up on a loaded CI machine
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not marker.exists():
        proc.kill()
        pytest.fail(f"the second point never started (rc {proc.wait()}): {proc.communicate()}")
    stored = sorted(p.name for p in out.iterdir())
    assert len([name for name in stored if name.endswith(".json") and name != "_grid.json"]) == 1, stored
    proc.send_signal(signal.SIGINT)
    proc.out, proc.err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (proc.returncode, proc.err)
    assert one_line(proc) == "interrupted: finished points are kept; rerun the same command to resume"
    assert len(list(out.glob("rule-*.json"))) == 1
    capsys.readouterr()
    assert main([str(a) for a in args]) == 0
    assert "1 ran, 1 skipped" in capsys.readouterr().out
