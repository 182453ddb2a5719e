"""The command line end to end: real runs on small MNIST subsets, and one-line errors."""

import json

import pytest

from dfa_lafs import experiments
from dfa_lafs.cli import main

TINY = ["--hidden", "32,32", "--epochs", "1", "--train-size", "640", "--eval-size", "200", "--probe-size", "32",
        "--record-points", "4", "--baseline-epochs", "0", "--quiet"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_train_writes_a_loadable_result(tmp_path, data_root, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--rule", "lafs", "--data-root", data_root, *TINY, "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["config"]["rule"] == "lafs" and d["config"]["hidden"] == [32, 32]
    assert "final test accuracy" in capsys.readouterr().out


def test_figure1_writes_results_and_both_image_formats(tmp_path, data_root, capsys):
    assert main(["figure1", "--data-root", data_root, *TINY, "--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dfa.json", "figure1.pdf", "figure1.png", "lafs.json"]
    assert (tmp_path / "figure1.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "DFA: test accuracy" in out and "LAFS: test accuracy" in out
    # A second call finds both results fresh and trains nothing.
    before = (tmp_path / "dfa.json").stat().st_mtime_ns
    assert main(["figure1", "--data-root", data_root, *TINY, "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "dfa.json").stat().st_mtime_ns == before


def test_figure1_never_overwrites_the_stored_paper_results(tmp_path, data_root, capsys, monkeypatch):
    stored = tmp_path / "figure1"
    stored.mkdir()
    (stored / "dfa.json").write_text("the book's paper-scale result")
    monkeypatch.setattr(experiments, "FIGURE1_DIR", stored)
    assert main(["figure1", "--data-root", data_root, *TINY]) == 2
    err = one_line_error(capsys)
    assert ", epochs, " in err and ", hidden, " in err and "differ(s) from the paper config" in err and "--out-dir" in err
    assert (stored / "dfa.json").read_text() == "the book's paper-scale result"
    assert sorted(p.name for p in stored.iterdir()) == ["dfa.json"]
    with pytest.raises(ValueError, match="paper config"):  # the library refuses too
        experiments.make_figure1(stored, epochs=1)


@pytest.mark.parametrize("flags, message", [
    (["--lr", "-1"], "error: lr must be > 0, got -1.0"),
    (["--lr", "inf"], "lr must be finite, got inf"),
    (["--lr", "nan"], "lr must be > 0, got nan"),
    (["--init-scale", "inf"], "init_scale must be finite"),
    (["--feedback-scale", "1e999"], "feedback_scale must be finite"),
    (["--rule", "hebb"], "rule must be one of bp, fa, dfa, lafs"),
    (["--hidden", ""], "rule 'dfa' needs at least one hidden layer"),
    (["--hidden", "32,x"], "--hidden takes comma-separated widths"),
    (["--hidden", "0"], "hidden[0] (a layer width) must be a positive int"),
    (["--epochs", "1.5"], "argument --epochs: invalid int value: '1.5'"),
    (["--train-size", "all"], "argument --train-size: invalid int or none value: 'all'"),
    (["--checkpoint-every", "0"], "argument --checkpoint-every: must be an int >= 1"),
    (["--device", "tpu"], "device 'tpu'"),
])
def test_bad_values_give_one_line_errors_and_write_nothing(tmp_path, data_root, capsys, flags, message):
    out = tmp_path / "r.json"
    assert main(["train", "--data-root", data_root, *TINY, *flags, "--out", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out, message", [(".", "is a folder"), ("file/r.json", "is a file, not a folder")])
def test_unusable_output_paths_fail_before_training(tmp_path, data_root, capsys, out, message):
    (tmp_path / "file").write_text("")
    assert main(["train", "--data-root", data_root, *TINY, "--out", str(tmp_path / out)]) == 2
    assert message in one_line_error(capsys)


def test_checkpoint_and_out_must_differ(tmp_path, data_root, capsys):
    path = str(tmp_path / "same.json")
    assert main(["train", "--data-root", data_root, *TINY, "--out", path, "--checkpoint", path]) == 2
    assert "same file" in one_line_error(capsys)


def test_a_garbage_checkpoint_is_one_line_naming_it(tmp_path, data_root, capsys):
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_bytes(b"\x00garbage" * 10)
    assert main(["train", "--data-root", data_root, *TINY, "--out", str(tmp_path / "r.json"),
                 "--checkpoint", str(ckpt)]) == 2
    assert f"checkpoint {ckpt}" in one_line_error(capsys)
    assert not (tmp_path / "r.json").exists() and ckpt.exists()  # the user's file is left for them to inspect


def test_missing_data_is_one_clear_line(tmp_path, capsys, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.setenv("DFA_LAFS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tvd.MNIST, "download", lambda self: (_ for _ in ()).throw(OSError("offline")))
    assert main(["train", "--data-root", str(tmp_path / "nowhere"), *TINY, "--out", str(tmp_path / "r.json")]) == 2
    err = one_line_error(capsys)
    assert err.startswith("error: mnist file(s) train-images-idx3-ubyte") and "(OSError: offline)" in err


def test_regenerate_checks_its_arguments_before_any_work(capsys, monkeypatch):
    monkeypatch.setattr(experiments, "make_figure1", lambda *a, **k: pytest.fail("Figure 1 was started"))
    assert main(["regenerate", "--workers", "0"]) == 2
    assert "argument --workers: must be an int >= 1, got '0'" in one_line_error(capsys)
    with pytest.raises(ValueError, match="workers must be an int >= 1, got 0"):
        experiments.regenerate_all(workers=0)


def test_interrupt_is_one_line_and_traceback_is_behind_a_flag(tmp_path, data_root, capsys, monkeypatch):
    from dfa_lafs import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "run", interrupted)
    args = ["train", "--data-root", data_root, *TINY, "--out", str(tmp_path / "r.json")]
    assert main(args) == 130
    assert capsys.readouterr().err.strip() == ("interrupted: nothing was saved "
                                               "(--checkpoint FILE makes a run resumable)")

    def interrupted_at_a_step(*args, **kwargs):
        raise KeyboardInterrupt("interrupted at step 3")

    monkeypatch.setattr(train, "run", interrupted_at_a_step)
    assert main(args) == 130
    assert capsys.readouterr().err.strip() == ("interrupted at step 3: nothing was saved "
                                               "(--checkpoint FILE makes a run resumable)")
    monkeypatch.setattr(train, "run", lambda *a, **k: {}["a bug"])
    assert main(args) == 2
    assert one_line_error(capsys) == "error: KeyError: 'a bug' (rerun with --traceback for details)"
    with pytest.raises(KeyError):
        main([*args, "--traceback"])
    monkeypatch.setenv("DFA_LAFS_TRACEBACK", "1")
    with pytest.raises(KeyError):
        main(args)


def test_sweep_flags_are_checked(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.yaml"), "--workers", "0"]) == 2
    assert "argument --workers: must be an int >= 1" in one_line_error(capsys)
    assert main(["sweep", str(tmp_path / "none.yaml")]) == 2
    assert one_line_error(capsys) == f"error: grid file {tmp_path / 'none.yaml'} does not exist"


# --- issue 18: outputs, stored results, flags named, the environment, start-up ----------------------

def test_out_dash_writes_the_result_to_standard_output(tmp_path, data_root, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "run.ckpt"
    assert main(["train", "--data-root", data_root, *TINY, "--out", "-", "--checkpoint", str(ckpt)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["config"]["rule"] == "dfa" and "sha256" in result
    assert "wrote the result to standard output" in captured.err
    assert list(tmp_path.iterdir()) == []  # no file named '-', and the checkpoint is gone


def test_out_with_a_trailing_slash_is_a_folder(tmp_path, data_root, capsys):
    assert main(["train", "--data-root", data_root, *TINY, "--out", str(tmp_path / "newdir") + "/"]) == 2
    assert "is a folder; give a file path such as" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_train_replaces_a_stored_result_only_when_asked(tmp_path, data_root, capsys, monkeypatch):
    from dfa_lafs import Result, RunConfig
    from dfa_lafs.results import code_hash

    monkeypatch.setenv("DFA_LAFS_RESULTS", str(tmp_path))
    stored = Result(RunConfig(), {"step": [0]}, {}, {"code_hash": code_hash()}).save(tmp_path / "figure1" / "dfa.json")
    before = stored.read_bytes()
    assert main(["train", "--data-root", data_root, *TINY, "--out", str(stored)]) == 2
    assert f"result file {stored} is a stored result under {tmp_path}" in one_line_error(capsys)
    assert stored.read_bytes() == before
    assert main(["train", "--data-root", data_root, *TINY, "--out", str(stored), "--replace-stored"]) == 0
    assert stored.read_bytes() != before


@pytest.mark.parametrize("flags, message", [
    (["--lr", "1e308"], "lr 1e+308 does not fit in float32 (largest 3.4e+38); use a smaller lr or dtype float64 "
                        "(--lr)"),
    (["--lr", "1e-50"], "lr 1e-50 rounds to 0 in float32"),
    (["--feedback-scale", "1e39"], "(--feedback-scale)"),
    (["--patience", "2"], "patience=2 needs a validation split: set val_size > 0 (e.g. 10000), or patience=0 to "
                          "train all epochs (--patience, --val-size)"),
    (["--feedback-scale", "1e30", "--activation", "relu"],
     "try a smaller feedback_scale (--feedback-scale, 1e+30 here, default 1)"),
])
def test_errors_name_the_flag_to_change(tmp_path, data_root, capsys, flags, message):
    out = tmp_path / "r.json"
    assert main(["train", "--data-root", data_root, *TINY, *flags, "--out", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("value, traceback", [("false", False), ("no", False), ("0", False), ("off", False),
                                              ("", False), ("1", True), ("TRUE", True), ("yes", True)])
def test_dfa_lafs_traceback_reads_yes_and_no(tmp_path, capsys, monkeypatch, value, traceback):
    monkeypatch.setenv("DFA_LAFS_TRACEBACK", value)
    args = ["train", *TINY, "--lr", "-1", "--out", str(tmp_path / "r.json")]
    if traceback:
        with pytest.raises(ValueError, match="lr must be > 0"):
            main(args)
    else:
        assert main(args) == 2 and "lr must be > 0" in one_line_error(capsys)


def test_dfa_lafs_traceback_neither_yes_nor_no_is_an_error_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DFA_LAFS_TRACEBACK", "maybe")
    assert main(["train", *TINY, "--out", str(tmp_path / "r.json")]) == 2
    assert one_line_error(capsys) == ("error: DFA_LAFS_TRACEBACK='maybe' is not a yes/no value: use 1, true, yes, on "
                                      "or 0, false, no, off (empty means off)")


CTRL_C_AT_IMPORT = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even when started from a background job
class CtrlC:  # SIGINT while `import torch` runs, the slow part of starting
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["dfa_lafs", "train", "--help"]
import runpy
runpy.run_module("dfa_lafs", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_while_starting_is_one_line(tmp_path):
    """`python -m dfa_lafs`, interrupted while torch is imported: deterministic, the signal is sent by the import."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CTRL_C_AT_IMPORT], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert (done.returncode, done.stderr) == (130, "interrupted while starting: nothing was run\n"), done.stderr


def test_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, dfa_lafs; print('torch' in sys.modules); from dfa_lafs import RunConfig; print(RunConfig().rule)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["False", "dfa"], done.stderr


def test_check_prints_the_code_hash_lineage_and_differences(tmp_path, capsys):
    from dfa_lafs.results import code_hash

    code = main(["check", "--results", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.startswith(f"training-code hash: {code_hash()}\n") and "accepts results made by:" in out
    assert f"stored results in {tmp_path}: cannot compare with the repository" in out and code == 0
