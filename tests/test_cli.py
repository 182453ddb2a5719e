"""The command line end to end: real runs on small MNIST subsets, and one-line errors."""

import json

from dfa_lafs.cli import main

TINY = ["--hidden", "32,32", "--epochs", "1", "--train-size", "640", "--eval-size", "200", "--probe-size", "32",
        "--record-points", "4", "--quiet"]


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


def test_bad_values_give_one_line_errors(tmp_path, data_root, capsys):
    assert main(["train", "--lr", "-1", "--data-root", data_root, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: lr must be > 0, got -1.0"
    assert main(["train", "--rule", "hebb", "--out", str(tmp_path / "r.json")]) == 2
    assert "rule must be one of bp, fa, dfa, lafs" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_missing_data_is_one_clear_line(tmp_path, capsys, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.MNIST, "download", lambda self: (_ for _ in ()).throw(OSError("offline")))
    assert main(["train", "--data-root", str(tmp_path / "nowhere"), *TINY, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: mnist files not found in") and "train-images-idx3-ubyte" in err
    assert "\n" not in err
