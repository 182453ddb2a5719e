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
