"""A hostile-but-honest user against the CLI and the API: bad flags and values, unwritable
paths, corrupt files, signals, two writers, tampered results. Prints one row per case and the
table of issue 8 (cases tried, clear one-line errors, correct outcomes, tracebacks, silent wrong
answers, losses). Not a test (it takes a few minutes); tests/test_faults.py is the CI subset.

    DFA_LAFS_DATA=/path/to/data python benchmarks/hostile_inputs.py [--json OUT.json]

Outcomes: `clear` an expected error, on one line, naming what is wrong, nothing written;
`ok` the right result (a resume identical to an uninterrupted run, a valid file kept);
`traceback` a Python traceback; `silent` exit 0 or a value returned where an error was due, or
code run from a file; `loss` a result or checkpoint destroyed, or a half-written file;
`unclear` an error that is not one line.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import torch
import yaml

from dfa_lafs import RunConfig, experiments, load_result
from dfa_lafs.studies.runs import LeftoverResultsWarning, load_sweep
from dfa_lafs.cli import main
from dfa_lafs.results import ResultError, code_hash, content_digest
from dfa_lafs.sweep.grid import load_grid, record_grid

REPO = Path(__file__).resolve().parents[1]
DATA = os.environ.get("DFA_LAFS_DATA") or str(REPO.parent / "shared" / "data")
TINY = ["--hidden", "16", "--train-size", "512", "--eval-size", "256", "--probe-size", "64", "--record-points", "5",
        "--epochs", "2", "--baseline-epochs", "0", "--quiet", "--data-root", DATA]
TINY_CONFIG = {"hidden": [16], "train_size": 512, "eval_size": 256, "probe_size": 64, "record_points": 5,
               "epochs": 1, "baseline_epochs": 0}
DRIVER = str(REPO / "tests" / "test_faults.py")  # reuses its subprocess driver (fault injection)
ROWS: list[tuple[str, str, str, str]] = []  # (category, case, outcome, detail)


def record(category: str, case: str, outcome: str, detail: str = "") -> None:
    ROWS.append((category, case, outcome, detail.strip().replace("\n", " | ")[:160]))
    print(f"{outcome:9s} {category:12s} {case:55s} {ROWS[-1][3]}", flush=True)


def in_process(args: list) -> tuple[int | None, str, str]:
    """The CLI in this process: (exit code or None if it raised, stderr, stdout)."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main([str(a) for a in args])
        except BaseException:  # noqa: BLE001 - what escapes main is what a user would see as a traceback
            traceback.print_exc(file=err)
            code = None
    return code, err.getvalue(), out.getvalue()


def judge_error(code, err: str, written: list[Path] = ()) -> tuple[str, str]:
    """An expected failure: clear if nonzero exit, one line, no traceback and nothing written."""
    if "Traceback" in err or code is None:
        return "traceback", err.strip().splitlines()[-1] if err.strip() else ""
    if code == 0:
        return "silent", "exit 0"
    if any(Path(p).exists() for p in written):
        return "silent", f"wrote {[str(p) for p in written if Path(p).exists()]}"
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return ("clear" if len(lines) == 1 else "unclear"), err


def expect_error(category: str, case: str, args: list, written: list[Path] = (), must: str = "") -> None:
    code, err, _ = in_process(args)
    outcome, detail = judge_error(code, err, written)
    if outcome == "clear" and must and must not in err:
        outcome, detail = "unclear", f"message lacks {must!r}: {err}"
    record(category, case, outcome, detail)


def subprocess_cli(args: list, fault: str = "", prefix: tuple = (), wait: bool = True):
    source = Path(DRIVER).read_text()
    driver = source.split('DRIVER = r"""', 1)[1].split('"""', 1)[0]
    proc = subprocess.Popen([*prefix, sys.executable, "-c", driver, json.dumps(args, default=str), fault],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        proc.out, proc.err = proc.communicate(timeout=300)
    return proc


def unprivileged() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", "--bounding-set", caps, "--inh-caps", caps)


def same_numbers(a: Path, b: Path) -> bool:
    ra, rb = load_result(a), load_result(b)
    return json.dumps([ra.history, ra.final]) == json.dumps([rb.history, rb.final])


# --- A. bad flags and values --------------------------------------------------------------------

BAD_TRAIN_FLAGS = {
    "lr": ["-1", "0", "inf", "-inf", "nan", "1e999", "abc", ""],
    "momentum": ["-0.1", "1", "1.5", "nan", "inf"],
    "batch-size": ["0", "-1", "1.5", "abc"],
    "epochs": ["0", "-1", "1.5"],
    "train-size": ["0", "-5", "100000", "abc"],
    "val-size": ["-1", "60000", "abc"],
    "patience": ["-1", "2"],
    "lr-schedule": ["linear"],
    "init-scale": ["0", "-1", "inf", "nan"],
    "feedback-scale": ["0", "inf", "nan"],
    "hidden": ["", "0", "-5", "a,b", "32,,32", "1e3", "none"],
    "rule": ["hebb", "DFA", ""],
    "activation": ["gelu"], "dataset": ["cifar"], "device": ["tpu", "cuda:9", ""], "dtype": ["float16"],
    "seed": ["-1", "abc"], "record-points": ["0"], "eval-size": ["0"], "probe-size": ["0"],
    "noise-points": ["-1"], "baseline-epochs": ["-1"], "error-reduction": ["max"], "init": ["xavier"],
    "feedback": ["bernoulli"], "checkpoint-every": ["0", "-1", "abc"],
}


def bad_flags(tmp: Path) -> None:
    out = tmp / "r.json"
    if not torch.cuda.is_available():
        BAD_TRAIN_FLAGS["device"].append("cuda")
    for flag, values in BAD_TRAIN_FLAGS.items():
        for value in values:
            expect_error("flags", f"train --{flag} {value!r}", ["train", *TINY, f"--{flag}", value, "--out", out], [out])
    for case, args in {
        "data-root missing": ["--data-root", tmp / "nowhere"],
        "data-root is a file": ["--data-root", Path(DRIVER)],
        "data-root empty folder": ["--data-root", tmp],
        "unknown flag --lrr": ["--lrr", "0.1"],
        "extra positional": ["extra"],
    }.items():
        expect_error("flags", f"train {case}", ["train", *TINY, "--out", out, *args], [out])
    expect_error("flags", "train without --out", ["train", *TINY])
    expect_error("flags", "no subcommand", [])
    expect_error("flags", "unknown subcommand", ["fly"])
    figures = tmp / "fig"
    for case, args in {"--hidden ''": ["--hidden", ""], "--lr inf": ["--lr", "inf"],
                       "--out-dir is a file": ["--out-dir", Path(DRIVER)]}.items():
        expect_error("flags", f"figure1 {case}", ["figure1", *TINY, "--out-dir", figures, *args],
                     [figures / "dfa.json"])
    stored_figure1(tmp)
    regenerate_flags()
    bad_grids(tmp)


def stored_figure1(tmp: Path) -> None:
    """figure1 with non-paper flags and no --out-dir must leave the stored results alone."""
    stored = tmp / "stored_figure1"
    stored.mkdir()
    for name in ("dfa.json", "lafs.json", "figure1.png"):
        (stored / name).write_text(f"stored {name}")
    real, experiments.FIGURE1_DIR = experiments.FIGURE1_DIR, stored
    try:
        code, err, _ = in_process(["figure1", *TINY])
    finally:
        experiments.FIGURE1_DIR = real
    intact = all((stored / n).read_text() == f"stored {n}" for n in ("dfa.json", "lafs.json", "figure1.png"))
    outcome, detail = judge_error(code, err)
    record("flags", "figure1 --epochs 2 --hidden 16 (no --out-dir)", outcome if intact else "loss", detail)


def regenerate_flags() -> None:
    started = []
    real, experiments.make_figure1 = experiments.make_figure1, lambda *a, **k: started.append(1)
    try:
        for value in ("0", "-1", "abc"):
            code, err, _ = in_process(["regenerate", "--workers", value])
            outcome, detail = judge_error(code, err)
            record("flags", f"regenerate --workers {value}", outcome if not started else "silent", detail)
    finally:
        experiments.make_figure1 = real


def bad_grids(tmp: Path) -> None:
    out = tmp / "sweep_out"
    cases = {
        "grid with lrr": {"base": {"lrr": 0.1}, "grid": {"rule": ["dfa"]}},
        "grid rule sgd": {"grid": {"rule": ["dfa", "sgd"]}},
        "grid lr 'fast'": {"grid": {"lr": [0.1, "fast"]}},
        "grid lr 1e-2 (YAML string)": "grid: {lr: [1e-2]}\n",
        "grid hidden scalar": {"grid": {"hidden": [32, 32]}},
        "grid no points": {"name": "empty", "grid": {}},
        "grid empty list": {"grid": {"lr": []}},
        "grid scalar value": {"grid": {"lr": 0.1}},
        "grid unknown key": {"grids": {"lr": [0.1]}},
        "grid duplicate points": {"grid": {"lr": [1, 1.0]}},
        "grid sets threads": {"base": {"threads": 2}, "grid": {"lr": [0.1]}},
        "grid name a/b": {"name": "a/b", "grid": {"lr": [0.1]}},
        "grid hidden [] with dfa": {"grid": {"hidden": [[]]}},
        "grid lr inf": {"grid": {"lr": [".inf"]}},
        "grid is a list": "- 1\n- 2\n",
        "grid invalid YAML": "grid: {lr: [0.1\n",
        "grid empty file": "",
        "grid binary": b"\x00\xff\xfe garbage",
    }
    for case, spec in cases.items():
        path = tmp / "grid.yaml"
        if isinstance(spec, bytes):
            path.write_bytes(spec)
        else:
            path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec).replace("'.inf'", ".inf"))
        expect_error("flags", f"sweep {case}", ["sweep", path, "--out", out, "--quiet"], [out])
    good = tmp / "good.yaml"
    good.write_text(yaml.safe_dump({"base": TINY_CONFIG, "grid": {"rule": ["dfa"]}}))
    for case, args in {"missing grid": [tmp / "none.yaml"], "grid is a folder": [tmp],
                       "--workers 0": [good, "--workers", "0"], "--threads -1": [good, "--threads", "-1"],
                       "--workers abc": [good, "--workers", "abc"]}.items():
        expect_error("flags", f"sweep {case}", ["sweep", *args, "--out", out, "--quiet"], [out])


# --- B. unwritable paths (file permissions applied: root runs this part without its override) ---

def unwritable(tmp: Path) -> None:
    locked, old = tmp / "locked", tmp / "readonly.json"
    locked.mkdir()
    old.write_text("{}")
    raw = tmp / "data" / "MNIST" / "raw"
    shutil.copytree(Path(DATA) / "MNIST" / "raw", raw)
    raw2 = tmp / "data2" / "MNIST" / "raw"
    shutil.copytree(Path(DATA) / "MNIST" / "raw", raw2)
    (tmp / "afile").write_text("")
    grid = REPO / "sweeps" / "ci" / "lr.yaml"
    cases = {  # case: (arguments, what the message must name)
        "train --out in a read-only folder": (["train", *TINY, "--out", locked / "r.json"], f"folder {locked} is not"),
        "train --out a read-only file": (["train", *TINY, "--out", old], f"{old} exists and is read-only"),
        "train --out a folder": (["train", *TINY, "--out", tmp], f"{tmp} is a folder"),
        "train --out under a file": (["train", *TINY, "--out", tmp / "afile" / "r.json"], f"{tmp / 'afile'} is a file"),
        "train --out new folder in read-only folder": (["train", *TINY, "--out", locked / "new" / "r.json"],
                                                       f"cannot create {locked / 'new'}"),
        "train --checkpoint in a read-only folder": (["train", *TINY, "--out", tmp / "r.json", "--checkpoint",
                                                      locked / "c.ckpt"], f"checkpoint {locked / 'c.ckpt'}"),
        "train --checkpoint a folder": (["train", *TINY, "--out", tmp / "r.json", "--checkpoint", tmp],
                                        f"checkpoint {tmp} is a folder"),
        "figure1 --out-dir read-only": (["figure1", *TINY, "--out-dir", locked], f"folder {locked} is not writable"),
        "figure1 --out-dir under a file": (["figure1", *TINY, "--out-dir", tmp / "afile" / "fig"],
                                           f"{tmp / 'afile'} is a file"),
        "sweep --out read-only": (["sweep", grid, "--out", locked, "--quiet"], f"folder {locked} is not writable"),
        "sweep --out a file": (["sweep", grid, "--out", tmp / "afile", "--quiet"], f"{tmp / 'afile'} is a file"),
        "data file unreadable": (["train", *TINY, "--data-root", tmp / "data", "--out", tmp / "r.json"],
                                 f"{raw / 'train-labels-idx1-ubyte'} cannot be read (Permission denied)"),
        "data folder unreadable": (["train", *TINY, "--data-root", tmp / "data2", "--out", tmp / "r.json"],
                                   f"{raw2}"),
    }
    old.chmod(0o444)
    locked.chmod(0o555)
    (raw / "train-labels-idx1-ubyte").chmod(0o000)
    raw2.chmod(0o000)
    try:
        proc = subprocess_cli([[str(a) for a in args] for args, _ in cases.values()], "batch", unprivileged())
    finally:
        locked.chmod(0o755)
        raw2.chmod(0o755)
    outcomes = json.loads(proc.out) if proc.returncode == 0 else [[None, proc.err]] * len(cases)
    for (case, (_, must)), (code, err) in zip(cases.items(), outcomes):
        outcome, detail = judge_error(code, err, [tmp / "r.json", locked / "r.json"])
        if outcome == "clear" and must not in err:
            outcome, detail = "unclear", f"message lacks {must!r}: {err}"
        record("unwritable", case, outcome, detail)


# --- C. corrupt files ---------------------------------------------------------------------------

def corrupt_checkpoints(tmp: Path) -> None:
    from dfa_lafs.train import run

    config = RunConfig(rule="dfa", data_root=DATA, **{**TINY_CONFIG, "epochs": 2})
    good = tmp / "good.ckpt"
    run(config, checkpoint=good, stop_after=5, progress=False)
    body = torch.load(good, weights_only=True)
    raw = good.read_bytes()
    marker = tmp / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    def flipped_weight(path):
        b = torch.load(good, weights_only=True)
        b["net"]["W"][0].view(torch.int32)[3, 5] ^= 1 << 20
        torch.save(b, path)

    def flipped_byte(fraction):
        def make(path):
            data = bytearray(raw)
            data[int(len(data) * fraction)] ^= 0x10
            path.write_bytes(bytes(data))
        return make

    def other_config(path):
        run(config.replace(lr=0.2), checkpoint=path, stop_after=3, progress=False)

    makers = {
        "empty": lambda p: p.write_bytes(b""),
        "garbage": lambda p: p.write_bytes(b"\x00garbage" * 40),
        "text": lambda p: p.write_text("a text file\n"),
        "JSON": lambda p: p.write_text(json.dumps({"config": {}, "net": []})),
        "a folder": lambda p: p.mkdir(),
        "missing keys": lambda p: torch.save({k: v for k, v in body.items() if k != "state"}, p),
        "another format": lambda p: torch.save({**body, "format": 99}, p),
        "flipped bit in a weight": flipped_weight,
        "flipped byte at 1/3": flipped_byte(1 / 3),
        "flipped byte at 1/2": flipped_byte(1 / 2),
        "flipped byte at 2/3": flipped_byte(2 / 3),
        "truncated": lambda p: p.write_bytes(raw[: len(raw) // 2]),
        "crafted torch.save pickle": lambda p: torch.save({"format": 2, "net": Exploit()}, p),
        "crafted plain pickle": lambda p: p.write_bytes(pickle.dumps(Exploit())),
        "another config's": other_config,
    }
    for case, make in makers.items():
        path, out = tmp / f"{re.sub(r'[^A-Za-z0-9]+', '_', case)}.ckpt", tmp / "r.json"
        make(path)
        code, err, _ = in_process(["train", *TINY, "--out", out, "--checkpoint", path])
        outcome, detail = judge_error(code, err, [out])
        if marker.exists():
            outcome, detail = "silent", "the crafted checkpoint ran code"
        if outcome == "clear" and not path.exists():
            outcome, detail = "loss", "the checkpoint was deleted"
        record("corrupt", f"checkpoint: {case}", outcome, detail)


def corrupt_results(tmp: Path) -> None:
    config = RunConfig(rule="lafs", hidden=(8,), epochs=1)
    base = {"format_version": 2, "config_key": config.key(), "code_hash": code_hash(), "config": config.to_dict(),
            "history": {"step": [0]}, "timings": {}, "provenance": {"code_hash": code_hash()}, "final": {},
            "per_epoch": {}}
    sign = lambda d: {**d, "sha256": content_digest(d)}  # noqa: E731
    cases = {
        "garbage": b"\x00garbage", "empty": b"", "a JSON list": b"[1, 2]", "not UTF-8": b"\xff\xfe",
        "format 1": json.dumps({**base, "format_version": 1}).encode(),
        "format 99": json.dumps(sign({**base, "format_version": 99})).encode(),
        "history a list": json.dumps(sign({**base, "history": []})).encode(),
        "config invalid": json.dumps(sign({**base, "config": {"rule": "hebb"}})).encode(),
        "unknown config field": json.dumps(sign({**base, "config": {**base["config"], "lrr": 1}})).encode(),
    }
    cases |= {f"missing {key!r}": json.dumps(sign({k: v for k, v in base.items() if k != key})).encode()
              for key in ("config", "config_key", "code_hash", "history", "timings", "provenance", "format_version")}
    for case, content in cases.items():
        path = tmp / "bad.json"
        path.write_bytes(content)
        api_error("corrupt", f"result: {case}", lambda: load_result(path, expect=config), path)
    api_error("corrupt", "result: a folder", lambda: load_result(tmp, expect=config), tmp)
    api_error("corrupt", "result: missing file", lambda: load_result(tmp / "none.json", expect=config), tmp)


def api_error(category: str, case: str, call, path: Path) -> None:
    """An API call that must raise a one-line ResultError naming the path."""
    try:
        call()
    except ResultError as err:
        message = str(err)
        ok = "\n" not in message and str(path) in message
        record(category, case, "clear" if ok else "unclear", message)
    except Exception:  # noqa: BLE001
        record(category, case, "traceback", traceback.format_exc().strip().splitlines()[-1])
    else:
        record(category, case, "silent", "loaded as fresh")


def corrupt_data(tmp: Path) -> None:
    def copy(name: str) -> Path:
        raw = tmp / name / "MNIST" / "raw"
        shutil.copytree(Path(DATA) / "MNIST" / "raw", raw)
        return raw

    def train_on(root: Path, case: str, expect_ok: bool = False) -> None:
        out = tmp / f"{root.name}.json"
        code, err, _ = in_process(["train", *TINY, "--data-root", root, "--out", out])
        if expect_ok:
            record("corrupt", case, "ok" if code == 0 and load_result(out) else judge_error(code, err)[0], err)
        else:
            outcome, detail = judge_error(code, err, [out])
            record("corrupt", case, outcome, detail)

    raw = copy("bytes")
    with open(raw / "t10k-labels-idx1-ubyte", "r+b") as f:
        f.seek(100)
        f.write(b"\x07")
    train_on(raw.parents[1], "data: a changed byte")
    raw = copy("truncated")
    (raw / "train-images-idx3-ubyte").write_bytes((raw / "train-images-idx3-ubyte").read_bytes()[:5000])
    train_on(raw.parents[1], "data: truncated file")
    raw = copy("missing")
    (raw / "t10k-images-idx3-ubyte").unlink()
    train_on(raw.parents[1], "data: one file missing (offline)")
    raw = copy("badgz")
    (raw / "train-labels-idx1-ubyte").unlink()
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    train_on(raw.parents[1], "data: a corrupt .gz")
    raw = copy("goodgz")
    with open(raw / "train-labels-idx1-ubyte", "rb") as src, gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as d:
        shutil.copyfileobj(src, d)
    (raw / "train-labels-idx1-ubyte").unlink()
    train_on(raw.parents[1], "data: a verified .gz only (offline)", expect_ok=True)
    figure = tmp / "fig_corrupt"
    figure.mkdir()
    (figure / "dfa.json").write_text("{")
    code, err, _ = in_process(["figure1", *TINY, "--out-dir", figure])
    good = code == 0 and load_result(figure / "dfa.json") and (figure / "figure1.png").exists()
    record("corrupt", "figure1 over a corrupt stored result (remade)", "ok" if good else "unclear", err)


def sweep_folders(tmp: Path) -> None:
    grid_spec = {"name": "g", "base": {"hidden": [8], "epochs": 1}, "grid": {"seed": [0, 1]}}
    grid_file = tmp / "g.yaml"
    grid_file.write_text(yaml.safe_dump(grid_spec))

    def fresh_folder(name: str) -> Path:
        folder = tmp / name
        folder.mkdir()
        from dfa_lafs import Result

        for point in load_grid(grid_file).points:
            Result(point.config, {"step": [0]}, {}, {"code_hash": code_hash()}).save(folder / f"{point.id}.json")
        record_grid(folder, load_grid(grid_file))
        return folder

    folder = fresh_folder("no_record")
    (folder / "_grid.json").unlink()
    api_error("corrupt", "sweep folder without its grid record", lambda: load_sweep(folder), folder)
    folder = fresh_folder("garbage_record")
    (folder / "_grid.json").write_text("{")
    api_error("corrupt", "sweep folder with a garbage record", lambda: load_sweep(folder), folder)
    folder = fresh_folder("missing_point")
    next(folder.glob("seed-0*.json")).unlink()
    api_error("corrupt", "sweep folder missing a point", lambda: load_sweep(folder), folder)
    folder = fresh_folder("leftover")
    shutil.copy(next(folder.glob("seed-0*.json")), folder / "old-point.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = load_sweep(folder)
    reported = any(issubclass(w.category, LeftoverResultsWarning) for w in caught) and len(results) == 2
    record("corrupt", "sweep folder with a leftover result (reported, left out)", "ok" if reported else "silent")
    folder = fresh_folder("edited_grid")
    grid_file.write_text(yaml.safe_dump({**grid_spec, "grid": {"seed": [0, 1, 2]}}))
    api_error("corrupt", "sweep grid file edited after the run", lambda: load_sweep(folder), folder)
    grid_file.write_text(yaml.safe_dump(grid_spec))
    folder = fresh_folder("grid_deleted")
    moved = tmp / "moved.yaml"
    grid_file.rename(moved)
    api_error("corrupt", "sweep grid file deleted", lambda: load_sweep(folder), folder)
    moved.rename(grid_file)


# --- F. tampered results ------------------------------------------------------------------------

def tampered(tmp: Path) -> None:
    config = RunConfig(rule="lafs", hidden=(8,), epochs=1, lr=0.1)
    from dfa_lafs import Result

    def edit(case: str, change, sign: bool, expect=config) -> None:
        path = Result(config, {"step": [0, 1]}, {"wall_s": 1.0}, {"code_hash": code_hash()},
                      {"test/accuracy": 0.5}).save(tmp / "r.json")
        d = json.loads(path.read_text())
        d.pop("sha256")
        change(d)
        path.write_text(json.dumps({**d, "sha256": content_digest(d)} if sign else d))
        api_error("tampered", case, lambda: load_result(path, expect=expect), path)

    forged = config.replace(lr=0.5, epochs=7)
    for sign in (False, True):
        how = "re-signed" if sign else "unsigned"
        edit(f"config lr 0.5, epochs 7 ({how})", lambda d: d["config"].update(lr=0.5, epochs=7), sign)
        edit(f"config and config_key forged ({how})",
             lambda d: d.update(config=forged.to_dict(), config_key=forged.key()), sign)
        edit(f"code_hash changed ({how})", lambda d: d.update(code_hash="0" * 16), sign)
        edit(f"format_version 1 ({how})", lambda d: d.update(format_version=1), sign)
    for case, change in {"history value": lambda d: d["history"]["step"].__setitem__(1, 5),
                         "final accuracy": lambda d: d["final"].update({"test/accuracy": 0.99}),
                         "provenance": lambda d: d["provenance"].update(device="cuda"),
                         "timings": lambda d: d["timings"].update(wall_s=0.1),
                         "per_epoch": lambda d: d["per_epoch"].update({"val/accuracy": [1.0]})}.items():
        edit(f"{case} edited (unsigned)", change, False)
    # what must NOT stale: a docstring or comment edit; what must: an operator
    package = tmp / "pkg"
    shutil.copytree(Path(experiments.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_hash(package)
    rules = package / "rules.py"
    rules.write_text(rules.read_text().replace('"""delta a^i', '# note\n    """delta a^i, reworded,', 1))
    record("tampered", "docstring + comment edit keeps results fresh", "ok" if code_hash(package) == before else
           "silent", "")
    rules.write_text(rules.read_text().replace("e / logits.shape[0]", "e * logits.shape[0]", 1))
    record("tampered", "operator change stales results", "ok" if code_hash(package) != before else "silent", "")


# --- D. signals and E. two writers (subprocesses) ---------------------------------------------------

def signals(tmp: Path) -> None:
    reference = tmp / "reference.json"
    assert in_process(["train", *TINY, "--out", reference])[0] == 0
    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
        interrupted_train(tmp, reference, sig, name, checkpoint=True)
    interrupted_train(tmp, reference, signal.SIGINT, "SIGINT", checkpoint=False)
    interrupted_train(tmp, reference, signal.SIGINT, "double SIGINT", checkpoint=True, twice=True)
    rng = random.Random(0)
    for i in range(6):
        killed_train(tmp, reference, f"SIGKILL at a random moment #{i + 1}", delay=rng.uniform(0.5, 6.0))
    out, ckpt = tmp / "inj.json", tmp / "inj.ckpt"
    shutil.copy(reference, out)
    old = out.read_bytes()
    proc = subprocess_cli(["train", *TINY, "--seed", "1", "--out", out], "kill-at-replace:1:inj.json")
    record("signals", "SIGKILL during the result's rename", "ok" if out.read_bytes() == old else "loss",
           f"rc {proc.returncode}")
    args = ["train", *TINY, "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "3"]
    out.unlink()
    subprocess_cli(args, "kill-at-replace:2:inj.ckpt")
    resumed = ckpt.exists() and in_process(args)[0] == 0 and same_numbers(out, reference)
    record("signals", "SIGKILL during a checkpoint's rename, then resume", "ok" if resumed else "loss", "")
    out.unlink()
    subprocess_cli(args, "kill-at-replace:1:inj.json")
    kept = ckpt.exists() and in_process(args)[0] == 0 and same_numbers(out, reference)
    record("signals", "SIGKILL while saving the result (checkpoint kept)", "ok" if kept else "loss", "")
    interrupted_sweep(tmp)


def interrupted_train(tmp: Path, reference: Path, sig, name: str, checkpoint: bool, twice: bool = False) -> None:
    stem = f"sig_{name.replace(' ', '_')}_{'ckpt' if checkpoint else 'none'}"
    out, ckpt = tmp / f"{stem}.json", tmp / f"{stem}.ckpt"
    args = ["train", *TINY, "--out", out] + (["--checkpoint", ckpt, "--checkpoint-every", "2"] if checkpoint else [])
    proc = subprocess_cli(args, "slow-steps:0.05", wait=False)
    time.sleep(4.0)  # imports and data, then a few slowed steps
    while checkpoint and not ckpt.exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(sig)
    if twice:
        time.sleep(0.01)
        proc.send_signal(sig)
    proc.out, proc.err = proc.communicate(timeout=120)
    lines = proc.err.strip().splitlines()
    case = f"{name} during train" + (" --checkpoint, then resume" if checkpoint else " (no checkpoint)")
    if "Traceback" in proc.err:
        record("signals", case, "traceback", lines[-1])
    elif proc.returncode != 130 or len(lines) != 1 or out.exists():
        record("signals", case, "unclear", f"rc {proc.returncode}: {proc.err}")
    elif checkpoint:
        resumed = ckpt.exists() and in_process(args)[0] == 0 and same_numbers(out, reference)
        record("signals", case, "ok" if resumed else "loss", proc.err)
    else:
        record("signals", case, "clear", proc.err)


def killed_train(tmp: Path, reference: Path, case: str, delay: float) -> None:
    out, ckpt = tmp / "killed.json", tmp / "killed.ckpt"
    out.unlink(missing_ok=True)
    ckpt.unlink(missing_ok=True)
    args = ["train", *TINY, "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "2"]
    proc = subprocess_cli(args, "slow-steps:0.05", wait=False)
    time.sleep(delay)
    proc.kill()
    proc.communicate()
    if out.exists():  # it finished first: the result must be whole and right
        record("signals", case, "ok" if same_numbers(out, reference) else "loss", "finished before the kill")
        return
    resumed = in_process(args)[0] == 0 and same_numbers(out, reference) and not ckpt.exists()
    record("signals", case, "ok" if resumed else "loss", f"killed after {delay:.1f} s, resumed")


def interrupted_sweep(tmp: Path) -> None:
    grid_file, out = tmp / "sweep.yaml", tmp / "sweep"
    grid_file.write_text(yaml.safe_dump({"name": "s", "base": TINY_CONFIG, "grid": {"rule": ["dfa", "lafs"]}}))
    args = ["sweep", grid_file, "--out", out, "--workers", "1", "--data-root", DATA, "--quiet"]
    proc = subprocess_cli(args, wait=False)
    deadline = time.monotonic() + 120
    while not list(out.glob("rule-*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.out, proc.err = proc.communicate(timeout=120)
    one = proc.returncode == 130 and len(proc.err.strip().splitlines()) == 1
    record("signals", "SIGINT during a sweep", "traceback" if "Traceback" in proc.err else
           "clear" if one else "unclear", proc.err)
    code, err, stdout = in_process(args)
    record("signals", "rerun of the interrupted sweep resumes", "ok" if code == 0 and "1 skipped" in stdout
           else "loss", stdout + err)


def two_writers(tmp: Path) -> None:
    out = tmp / "two.json"
    procs = [subprocess_cli(["train", *TINY, "--seed", str(seed), "--out", out], wait=False) for seed in (0, 1)]
    codes = [p.wait(timeout=300) for p in procs]
    try:
        whole = codes == [0, 0] and load_result(out).config.seed in (0, 1)
    except ResultError:
        whole = False
    record("writers", "two trains, one --out", "ok" if whole else "loss", str(codes))
    grid_file, folder = tmp / "w.yaml", tmp / "wsweep"
    grid_file.write_text(yaml.safe_dump({"name": "w", "base": TINY_CONFIG, "grid": {"seed": [0, 1]}}))
    args = ["sweep", grid_file, "--out", folder, "--workers", "1", "--data-root", DATA, "--quiet"]
    procs = [subprocess_cli(args, wait=False) for _ in range(2)]
    codes = [p.wait(timeout=600) for p in procs]
    try:
        whole = codes == [0, 0] and len(load_sweep(folder)) == 2
    except ResultError as err:
        whole = f"{err}"
    record("writers", "two sweeps, one folder", "ok" if whole is True else "loss", f"{codes} {whole}")


def main_battery() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows and the table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hostile_") as tmp:
        tmp = Path(tmp)
        os.environ["DFA_LAFS_CACHE"] = str(tmp / "cache")  # no decompressed file from an earlier run helps
        for part in (bad_flags, unwritable, corrupt_checkpoints, corrupt_results, corrupt_data, sweep_folders,
                     tampered, signals, two_writers):
            folder = tmp / part.__name__
            folder.mkdir()
            part(folder)
    counts = Counter(outcome for _, _, outcome, _ in ROWS)
    table = {"cases tried": len(ROWS), "clear one-line errors": counts["clear"], "correct outcomes": counts["ok"],
             "tracebacks": counts["traceback"], "silent wrong": counts["silent"], "losses": counts["loss"],
             "unclear (not one line)": counts["unclear"]}
    print("\n| " + " | ".join(table) + " |\n|" + "---|" * len(table) + "\n| "
          + " | ".join(str(v) for v in table.values()) + " |")
    print(f"by category: {dict(Counter(c for c, _, _, _ in ROWS))}; {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "rows": ROWS}, indent=1))
    return 0 if counts["traceback"] + counts["silent"] + counts["loss"] + counts["unclear"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main_battery())
