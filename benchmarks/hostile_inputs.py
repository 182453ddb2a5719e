"""A hostile-but-honest user against the CLI and the API: bad flags and values, unwritable
paths, corrupt files, signals, two writers, tampered results. Prints one row per case and the
table of issues 8 and 18 (cases tried, clear one-line errors, correct outcomes, tracebacks, silent
wrong answers, losses, hangs, unclear errors). Not a test (it takes several minutes);
tests/test_faults.py and the tests of each module are the CI subset.

    DFA_LAFS_DATA=/path/to/data python benchmarks/hostile_inputs.py [--json OUT.json]

Outcomes: `clear` an expected error, on one line, naming what is wrong, nothing written;
`ok` the right result (a resume identical to an uninterrupted run, a valid file kept);
`traceback` a Python traceback; `silent` exit 0 or a value returned where an error was due, or
code run from a file; `loss` a result, checkpoint or file destroyed (a device or link replaced), a
half-written file, or finished training thrown away; `hang` no answer within a minute; `unclear`
an error that is not one line, names the wrong thing or gives harmful advice, or a valid input
refused. Round 2 (issue 18) adds output paths, stored results, the environment, the library's
own arguments, grid files, file-system limits and stored results against git; run as root (it
makes a device node), it never touches the repository's results/ (DFA_LAFS_RESULTS points to a
temporary folder).
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
import stat
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

# The battery's stand-in for results/ (the stored results the book reads): set before dfa_lafs is
# imported, so that no case can reach the repository's own results.
# (Dask workers re-import this module as __mp_main__: they inherit the variable instead.)
if __name__ == "__main__":
    os.environ["DFA_LAFS_RESULTS"] = tempfile.mkdtemp(prefix="hostile_stored_")
STORED = Path(os.environ["DFA_LAFS_RESULTS"])

from dfa_lafs import RunConfig, experiments, load_result  # noqa: E402
from dfa_lafs.studies.runs import LeftoverResultsWarning, load_sweep  # noqa: E402
from dfa_lafs.cli import main  # noqa: E402
from dfa_lafs.results import ResultError, code_hash, content_digest  # noqa: E402
from dfa_lafs.sweep.grid import load_grid, record_grid  # noqa: E402

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
    started = tmp / f"{stem}.started"
    proc = subprocess_cli(args, f"slow-steps:0.05:{started}", wait=False)
    # training has started (past imports and data; a Ctrl-C at start-up is a case of its own), and
    # with --checkpoint, one is written: waiting on files, not a guessed delay, on a loaded machine
    while not started.exists() and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.2)  # a few slowed steps in
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


# --- G-L. second round (issue 18): where outputs go, stored results, the environment, the
# library's own arguments, grid files, file-system limits, stored results against the repository ---

def file_type(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "absent"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "fifo" if stat.S_ISFIFO(mode) else "other"


@contextlib.contextmanager
def working_directory(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def environment(**values):
    """Set (None: unset) environment variables for the duration."""
    old = {name: os.environ.get(name) for name in values}
    _set_environment(values)
    try:
        yield
    finally:
        _set_environment(old)


def _set_environment(values: dict) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def counting_training():
    """Counts the training loops started meanwhile: tells a refusal before training from a failure after."""
    from dfa_lafs import train

    real, started = train._Loop.train, []

    def counted(loop, *args, **kwargs):
        started.append(1)
        return real(loop, *args, **kwargs)

    train._Loop.train = counted
    try:
        yield started
    finally:
        train._Loop.train = real


def judge_refusal(code, err: str, trained: list, must: str = "") -> tuple[str, str]:
    """An output that must be refused before any training: a failure after training threw work away."""
    outcome, detail = judge_error(code, err)
    if outcome == "clear" and trained:
        return "loss", f"trained, then failed: {err}"
    if outcome == "clear" and must and must.lower() not in err.lower():
        return "unclear", f"message lacks {must!r}: {err}"
    return outcome, detail


def cli_refusal(category: str, case: str, args: list, must: str = "", keep: dict | None = None) -> None:
    """The CLI must refuse `args` before training; `keep`: path -> (file type, bytes or None) that must survive."""
    with counting_training() as trained:
        code, err, _ = in_process(args)
    outcome, detail = judge_refusal(code, err, trained, must)
    for path, (kind, content) in (keep or {}).items():
        if file_type(path) != kind or (content is not None and path.read_bytes() != content):
            outcome, detail = "loss", f"{path.name} is now a {file_type(path)} (rc {code})"
    record(category, case, outcome, detail)


def api_case(category: str, case: str, call, must: str = "", check=None) -> None:
    """A library call. With `check`, it must succeed and check(value) hold; else it must raise a one-line
    ValueError or TypeError whose message contains `must`. A torch error from deep inside is unclear."""
    try:
        value = call()
    except (ValueError, TypeError) as err:
        message = f"{type(err).__name__}: {err}"
        if check is not None:
            record(category, case, "unclear", f"refused a valid input: {message}")
        else:
            good = "\n" not in str(err) and must.lower() in str(err).lower()
            record(category, case, "clear" if good else "unclear", message)
        return
    except RuntimeError as err:
        record(category, case, "unclear", f"{type(err).__name__}: {err}")
        return
    except Exception as err:  # noqa: BLE001
        record(category, case, "traceback", f"{type(err).__name__}: {err}")
        return
    if check is None:
        record(category, case, "silent", f"accepted, returned {type(value).__name__}")
    else:
        record(category, case, "ok" if check(value) else "silent", "")


def output_paths(tmp: Path) -> None:
    out = tmp / "r.json"
    target = tmp / "target.txt"
    target.write_text("the user's file")
    node = tmp / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a node like /dev/null, made here (as root)
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    links = {"a symbolic link to a file": (tmp / "link.json", target),
             "a symbolic link to a device (like /dev/stdout)": (tmp / "stdout", node),
             "a dangling symbolic link": (tmp / "dangling.json", tmp / "nowhere.json")}
    for link, points_to in links.values():
        link.symlink_to(points_to)
    cases = {"a character device (like /dev/null, as root)": node, "a named pipe": fifo,
             **{case: link for case, (link, _) in links.items()}}
    for case, path in cases.items():
        cli_refusal("outputs", f"train --out {case}", ["train", *TINY, "--out", path],
                    keep={path: (file_type(path), None), target: ("file", b"the user's file")})
    with working_directory(tmp):
        code, err, stdout = in_process(["train", *TINY, "--out", "-"])
    try:
        streamed = code == 0 and json.loads(stdout)["config"]["rule"] == "dfa"
    except (ValueError, KeyError, TypeError):
        streamed = False
    outcome = "ok" if streamed and not (tmp / "-").exists() else "silent" if (tmp / "-").exists() else "unclear"
    record("outputs", "train --out - writes the result to standard output", outcome, err)
    folder = str(tmp / "newdir") + os.sep
    cli_refusal("outputs", "train --out newdir/ (trailing slash, folder absent)", ["train", *TINY, "--out", folder],
                must="folder")
    if (tmp / "newdir").is_file():
        ROWS[-1] = ("outputs", ROWS[-1][1], "silent", "wrote a file named newdir")
    from dfa_lafs import Result

    tiny = RunConfig(rule="dfa", **TINY_CONFIG)
    api_case("outputs", "Result.save('newdir2/') (trailing slash)",
             lambda: Result(tiny, {"step": [0]}, {}, {"code_hash": code_hash()}).save(str(tmp / "newdir2") + os.sep),
             must="folder")
    if (tmp / "newdir2").is_file():
        ROWS[-1] = ("outputs", ROWS[-1][1], "silent", "wrote a file named newdir2")
    long_name = tmp / ("n" * 246 + ".json")  # a valid name (251 bytes), but its temporary file's is 264
    cli_refusal("outputs", "train --out a 251-byte name (its temporary file's name is too long)",
                ["train", *TINY, "--out", long_name], must="name")
    fits = tmp / ("m" * 236 + ".json")  # 241 bytes: the temporary file's name is 255 bytes, the limit
    code, err, _ = in_process(["train", *TINY, "--out", fits])
    record("outputs", "train --out a 241-byte name (the longest that fits)", "ok" if code == 0 and fits.exists()
           else "unclear", err)
    cli_refusal("outputs", "train --checkpoint a 251-byte name", ["train", *TINY, "--out", out, "--checkpoint",
                tmp / ("c" * 246 + ".ckpt"), "--checkpoint-every", "2"], must="name")
    deep = tmp.joinpath(*["d" * 200] * 21) / "r.json"  # over PATH_MAX (4096 bytes)
    cli_refusal("outputs", "train --out a path longer than PATH_MAX", ["train", *TINY, "--out", deep], must="long")


def stored_results(tmp: Path) -> None:
    """STORED stands in for results/ (DFA_LAFS_RESULTS): what the book reads must not be replaced silently."""
    from dfa_lafs import Result
    from dfa_lafs.train import run

    tiny = RunConfig(rule="dfa", data_root=DATA, **TINY_CONFIG)
    figure, sweep = STORED / "figure1", STORED / "sweeps" / "s"

    def stored(path: Path) -> tuple:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        Result(tiny, {"step": [0]}, {}, {"code_hash": code_hash()}).save(path)
        return path, ("file", path.read_bytes())

    path, kept = stored(figure / "dfa.json")
    cli_refusal("stored", "train --out results/figure1/dfa.json", ["train", *TINY, "--out", path], must="stored",
                keep={path: kept})
    path, kept = stored(sweep / "rule-dfa__0123456789.json")
    cli_refusal("stored", "train --out a stored sweep point", ["train", *TINY, "--out", path], must="stored",
                keep={path: kept})
    path, kept = stored(figure / "lafs.json")
    api_case("stored", "Result.save over a stored result",
             lambda: Result(tiny, {"step": [0, 1]}, {}, {"code_hash": code_hash()}).save(path), must="stored")
    if path.read_bytes() != kept[1]:
        ROWS[-1] = ("stored", ROWS[-1][1], "loss", "replaced")
    with counting_training() as trained:
        api_case("stored", "run(config, out=a stored result)", lambda: run(tiny, out=path, progress=False),
                 must="stored")
    if path.read_bytes() != kept[1] or (trained and ROWS[-1][2] == "clear"):
        ROWS[-1] = ("stored", ROWS[-1][1], "loss", "replaced" if path.read_bytes() != kept[1] else "trained first")
    new = STORED / "new" / "r.json"
    code, err, _ = in_process(["train", *TINY, "--out", new])
    record("stored", "train --out a new file under results/ (nothing replaced)", "ok" if code == 0 and new.exists()
           else "unclear", err)
    path, kept = stored(figure / "dfa.json")
    code, err, _ = in_process(["train", *TINY, "--out", path, "--replace-stored"])
    record("stored", "train --out results/figure1/dfa.json --replace-stored", "ok" if code == 0 and
           path.read_bytes() != kept[1] and load_result(path) else "unclear", err)
    grid_file = tmp / "s.yaml"
    grid_file.write_text(yaml.safe_dump({"name": "s", "base": TINY_CONFIG, "grid": {"rule": ["dfa"]}}))
    grid = load_grid(grid_file)
    point = sweep / f"{grid.points[0].id}.json"
    point.unlink(missing_ok=True)
    Result(grid.points[0].config, {"step": [0]}, {}, {"code_hash": "0" * 16}).save(point)  # stale
    record_grid(sweep, grid)
    kept = point.read_bytes()
    code, err, _ = in_process(["sweep", grid_file, "--out", sweep, "--workers", "1", "--data-root", DATA, "--quiet"])
    outcome, detail = judge_error(code, err)
    if point.read_bytes() != kept:
        outcome, detail = "loss", "the stored (stale) point was replaced without being asked"
    elif outcome == "clear" and "stored" not in err:
        outcome = "unclear"
    record("stored", "sweep into results/sweeps/<name> over a stale stored point", outcome, detail)
    res, cwd = tmp / "env_results", tmp / "cwd"
    cwd.mkdir()
    env_grid = tmp / "envsweep.yaml"
    env_grid.write_text(yaml.safe_dump({"name": "envsweep", "base": TINY_CONFIG, "grid": {"rule": ["dfa"]}}))
    with environment(DFA_LAFS_RESULTS=str(res)), working_directory(cwd):
        code, err, _ = in_process(["sweep", env_grid, "--workers", "1", "--data-root", DATA, "--quiet"])
    right, wrong = res / "sweeps" / "envsweep", cwd / "results" / "sweeps" / "envsweep"
    outcome = ("ok" if code == 0 and len(list(right.glob("rule-*.json"))) == 1 else
               "silent" if wrong.exists() else "unclear")
    record("stored", "sweep without --out honours DFA_LAFS_RESULTS", outcome, err)


STARTUP = r"""
import os, signal, sys
class CtrlC:  # Ctrl-C while torch is imported (start-up takes seconds)
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["dfa_lafs", *sys.argv[1:]]
import runpy
runpy.run_module("dfa_lafs", run_name="__main__", alter_sys=True)
"""
PROBE_ENV = ("from dfa_lafs import data, experiments; print(experiments.RESULTS); print(data.resolve_root()); "
             "print(data.cache_folder('mnist'))")


def environment_variables(tmp: Path) -> None:
    bad = ["train", *TINY, "--lr", "-1", "--out", tmp / "r.json"]
    for value in ("false", "no", "0", "off", ""):
        with environment(DFA_LAFS_TRACEBACK=value):
            code, err, _ = in_process(bad)
        record("environment", f"DFA_LAFS_TRACEBACK={value!r}: no traceback", *judge_error(code, err))
    for value in ("1", "true", "yes"):
        with environment(DFA_LAFS_TRACEBACK=value):
            code, err, _ = in_process(bad)
        record("environment", f"DFA_LAFS_TRACEBACK={value!r}: a traceback",
               "ok" if code is None and "Traceback" in err else "silent", err[-200:])
    with environment(DFA_LAFS_TRACEBACK="maybe"):
        code, err, _ = in_process(bad)
    outcome, detail = judge_error(code, err)
    record("environment", "DFA_LAFS_TRACEBACK='maybe' (neither)",
           "unclear" if outcome == "clear" and "DFA_LAFS_TRACEBACK" not in err else outcome, detail)
    env = {**os.environ, "DFA_LAFS_RESULTS": "", "DFA_LAFS_DATA": "", "DFA_LAFS_CACHE": ""}
    proc = subprocess.run([sys.executable, "-c", PROBE_ENV], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=300)
    lines = proc.stdout.splitlines() + ["", "", ""]
    from dfa_lafs import data

    expected = {"DFA_LAFS_RESULTS": (lines[0], str(REPO / "results")),
                "DFA_LAFS_DATA": (lines[1], str(data.DEFAULT_ROOT)),
                "DFA_LAFS_CACHE": (lines[2], str(data.DEFAULT_ROOT / "extracted" / "MNIST"))}
    for name, (got, want) in expected.items():
        record("environment", f"{name}='' means unset", "ok" if got == want else "silent",
               f"{got!r}, expected {want!r} {proc.stderr[-200:]}")
    for args, case in ((["train", "--help"], "train --help"), (["--help"], "--help")):
        proc = subprocess.run([sys.executable, "-c", STARTUP, *args], cwd=tmp, capture_output=True, text=True,
                              timeout=300)
        lines = proc.stderr.strip().splitlines()
        outcome = ("traceback" if "Traceback" in proc.stderr else "clear" if proc.returncode == 130 and len(lines) == 1
                   else "unclear")
        record("environment", f"Ctrl-C during start-up ({case})", outcome, f"rc {proc.returncode}: {proc.stderr}")


def library_arguments(tmp: Path) -> None:
    import numpy as np

    from dfa_lafs.model import MLP
    from dfa_lafs.probes import LinearBaseline
    from dfa_lafs.rules import SGD, deltas, gradients, softmax_error, train_step

    config = RunConfig(rule="dfa", hidden=(8,), device="cpu")

    def batch(n: int = 16):
        net = MLP.from_config(config)
        g = torch.Generator().manual_seed(0)
        x = torch.rand(n, 784, generator=g)
        labels = torch.randint(0, 10, (n,), generator=g)
        return net, x, torch.nn.functional.one_hot(labels, 10).float(), labels

    def step(rule="dfa", reduction="mean", x=None, y=None, n=16, lr=0.1):
        net, x0, y0, _ = batch(n)
        train_step(rule, net, SGD(net, lr), x0 if x is None else x, y0 if y is None else y, reduction)
        return net

    net, x, y, labels = batch()
    nan_x, inf_x = x.clone(), x.clone()
    nan_x[3, 100], inf_x[0, 0] = float("nan"), float("inf")
    for case, call, must in [
        ("train_step('dfaa')", lambda: step("dfaa"), "rule"),
        ("train_step('DFA')", lambda: step("DFA"), "rule"),
        ("deltas('hebb')", lambda: deltas("hebb", net, net.forward(x), y, "mean"), "rule"),
        ("gradients('dfaa')", lambda: gradients("dfaa", net, x, y), "rule"),
        ("train_step(reduction='avg')", lambda: step(reduction="avg"), "reduction"),
        ("softmax_error(reduction='avg')", lambda: softmax_error(torch.zeros(4, 10), y[:4], "avg"), "reduction"),
        ("gradients(reduction='MEAN')", lambda: gradients("dfa", net, x, y, "MEAN"), "reduction"),
        ("SGD(lr=nan)", lambda: SGD(net, float("nan")), "lr"),
        ("SGD(lr=inf)", lambda: SGD(net, float("inf")), "lr"),
        ("SGD(lr=0)", lambda: SGD(net, 0.0), "lr"),
        ("SGD(lr=-0.1)", lambda: SGD(net, -0.1), "lr"),
        ("SGD(lr='0.1')", lambda: SGD(net, "0.1"), "lr"),
        ("SGD(momentum=2.0)", lambda: SGD(net, 0.1, 2.0), "momentum"),
        ("SGD(momentum=-0.5)", lambda: SGD(net, 0.1, -0.5), "momentum"),
        ("SGD(momentum=1.0)", lambda: SGD(net, 0.1, 1.0), "momentum"),
        ("SGD(momentum=nan)", lambda: SGD(net, 0.1, float("nan")), "momentum"),
        ("train_step with a NaN pixel", lambda: step(x=nan_x), "nan"),
        ("train_step with an infinite pixel", lambda: step(x=inf_x), "infinite"),
        ("gradients with a NaN pixel", lambda: gradients("dfa", net, nan_x, y), "nan"),
        ("train_step with integer labels (16,)", lambda: step(y=labels), "one-hot"),
        ("train_step with integer labels (10,), n = 10", lambda: step(n=10, x=x[:10], y=labels[:10]), "one-hot"),
        ("gradients with integer labels", lambda: gradients("dfa", net, x, labels), "one-hot"),
        ("train_step with x of width 100", lambda: step(x=torch.rand(16, 100)), "784"),
        ("train_step with 15 targets for 16 inputs", lambda: step(y=y[:15]), "15"),
        ("train_step with float64 x, float32 net", lambda: step(x=x.double()), "float64"),
        ("train_step with a 1-D x", lambda: step(x=x[0], y=y[0]), "x"),
        ("LinearBaseline.fit(epochs=-3)", lambda: LinearBaseline.fit(x, y, -3, 8, 0), "epochs"),
        ("LinearBaseline.fit(epochs=0)", lambda: LinearBaseline.fit(x, y, 0, 8, 0), "epochs"),
        ("LinearBaseline.fit(epochs=2.5)", lambda: LinearBaseline.fit(x, y, 2.5, 8, 0), "epochs"),
        ("LinearBaseline.fit(batch_size=0)", lambda: LinearBaseline.fit(x, y, 1, 0, 0), "batch_size"),
        ("LinearBaseline.fit with integer labels", lambda: LinearBaseline.fit(x, labels, 1, 8, 0), "one-hot"),
        ("LinearBaseline.fit with a NaN pixel", lambda: LinearBaseline.fit(nan_x, y, 1, 8, 0), "nan"),
        ("RunConfig(lr=1e308) in float32", lambda: RunConfig(lr=1e308), "float32"),
        ("RunConfig(lr=1e-50) in float32 (rounds to 0)", lambda: RunConfig(lr=1e-50), "float32"),
    ]:
        api_case("library", case, call, must)

    def detached(x_grad):
        net = step(x=x_grad)
        return all(W.grad_fn is None and not W.requires_grad for W in net.W + net.b)

    api_case("library", "train_step with x.requires_grad: weights stay out of any graph",
             lambda: detached(x.clone().requires_grad_()), check=bool)
    api_case("library", "gradients with x.requires_grad: no graph kept",
             lambda: gradients("dfa", net, x.clone().requires_grad_(), y)[0][0].grad_fn is None, check=bool)

    def optimizer_step_with_graph():
        net, x0, y0, _ = batch()
        hs = net.forward(x0.clone().requires_grad_())
        SGD(net, 0.1).step(deltas("dfa", net, hs, y0, "mean"), hs)
        return all(W.grad_fn is None for W in net.W)

    api_case("library", "SGD.step with updates that carry a graph", optimizer_step_with_graph, check=bool)
    key = RunConfig(lr=0.1, epochs=3, hidden=(8,), seed=1).key()
    for case, call in [
        ("SGD(lr=np.float64(0.1))", lambda: SGD(net, np.float64(0.1)).lr == 0.1),
        ("SGD(lr=np.float32(0.5), momentum=np.float32(0.5))", lambda: SGD(net, np.float32(0.5), np.float32(0.5))),
        ("LinearBaseline.fit(epochs=np.int64(1), batch_size=np.int64(8))",
         lambda: LinearBaseline.fit(x, y, np.int64(1), np.int64(8), np.int64(0))),
        ("RunConfig(lr=np.float32(0.5))", lambda: RunConfig(lr=np.float32(0.5)).lr == 0.5),
        ("RunConfig(epochs=np.int64(3))", lambda: RunConfig(epochs=np.int64(3)).epochs == 3),
        ("RunConfig(hidden=(np.int64(8),))", lambda: RunConfig(hidden=(np.int64(8),)).hidden == (8,)),
        ("RunConfig(seed=np.int32(1), momentum=np.float32(0.5))",
         lambda: RunConfig(seed=np.int32(1), momentum=np.float32(0.5)).momentum == 0.5),
        ("numpy scalars give the same config key", lambda: RunConfig(
            lr=np.float64(0.1), epochs=np.int64(3), hidden=(np.int64(8),), seed=np.int64(1)).key() == key),
        ("RunConfig(lr=1e308, dtype='float64')", lambda: RunConfig(lr=1e308, dtype="float64").lr == 1e308),
    ]:
        api_case("library", case, call, check=bool)


def flag_values(tmp: Path) -> None:
    for i, (flags, must) in enumerate( [(["--lr", "1e308"], "--lr"), (["--lr", "1e-50"], "--lr"), (["--init-scale", "1e300"],
                        "--init-scale"), (["--feedback-scale", "1e39"], "--feedback-scale"),
                        (["--feedback-scale", "1e30", "--activation", "relu"], "feedback-scale")]):
        out = tmp / f"r{i}.json"
        case = f"train {' '.join(flags)}" + (" (diverges)" if "relu" in flags else "")
        expect_error("flags", case, ["train", *TINY, *flags, "--out", out], [out], must=must)


NESTED = "[" * 100_000 + "]" * 100_000


GRID_API = r"""
import sys
from dfa_lafs.sweep import load_grid
try:
    print(len(load_grid(sys.argv[1]).points))
except ValueError as err:
    sys.exit(f"error: {err}")
"""


def grid_files(tmp: Path) -> None:
    """Through load_grid, not `sweep`: a grid that the code before issue 18 accepted would start training."""
    duplicates = {
        "base: twice": "name: d\nbase: {epochs: 1}\ngrid: {lr: [0.1]}\nbase: {epochs: 20}\n",
        "lr: twice in grid": "name: d\ngrid:\n  lr: [0.1, 0.3]\n  lr: [1.0]\n",
        "a key twice inside base": "name: d\nbase:\n  epochs: 1\n  epochs: 5\ngrid: {lr: [0.1]}\n",
        "a key twice in a point": "name: d\npoints:\n  - {lr: 0.1, lr: 0.3}\n",
        "grid: twice": "name: d\ngrid: {lr: [0.1]}\ngrid: {seed: [0, 1]}\n",
    }
    for case, text in duplicates.items():
        path = tmp / "dup.yaml"
        path.write_text(text)
        api_case("grids", f"grid file with {case}", lambda: load_grid(path), must="line")
    merged = tmp / "merge.yaml"
    merged.write_text("name: m\nbase: &b {epochs: 1, hidden: [8]}\npoints:\n  - {<<: *b, epochs: 2}\n")
    api_case("grids", "YAML merge key overridden in a point (not a duplicate)",
             lambda: load_grid(merged).points[0].config.epochs == 2, check=bool)
    huge = tmp / "huge.yaml"
    huge.write_text(yaml.safe_dump({"name": "huge", "grid": {k: [0.1, 0.2, 0.3, 0.4, 0.5] for k in (
        "lr", "init_scale", "feedback_scale")} | {"seed": [0, 1, 2, 3, 4], "batch_size": [16, 32, 64, 128, 256],
        "epochs": [1, 2, 3, 4, 5], "eval_size": [100, 200, 300, 400, 500], "probe_size": [8, 16, 32, 64, 128],
        "record_points": [2, 3, 4, 5, 6]}}))
    proc = subprocess.Popen([sys.executable, "-c", GRID_API, str(huge)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.out, proc.err = proc.communicate(timeout=60)
        outcome, detail = judge_error(proc.returncode, proc.err)
        if outcome == "clear" and "1,953,125" not in proc.err:
            outcome = "unclear"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        outcome, detail = "hang", "no answer within 60 s"
    record("grids", "a grid of 1,953,125 points", outcome, detail)
    for case, spec, count in [
        ("a grid of 1,001 points", {"grid": {"seed": list(range(1001))}}, "1,001"),
        ("a union of two grids of 600 points", {"grid": [{"seed": list(range(600))},
                                                         {"seed": list(range(600, 1200))}]}, "1,200"),
        ("1,001 explicit points", {"points": [{"seed": s} for s in range(1001)]}, "1,001"),
    ]:
        path = tmp / "big.yaml"
        path.write_text(yaml.safe_dump({"name": "big", **spec}))
        api_case("grids", case, lambda: load_grid(path), must=count)
    api_case("grids", "a grid of 1,000 points loads (the limit)",
             lambda: len(load_grid({"grid": {"seed": list(range(1000))}}).points) == 1000, check=bool)
    api_case("grids", "load_grid(1,001 points, allow_large=True)",
             lambda: len(load_grid({"grid": {"seed": list(range(1001))}}, allow_large=True).points) == 1001,
             check=bool)
    nested, out = tmp / "nested.yaml", tmp / "out"
    nested.write_text("name: n\nbase: " + "[" * 5000 + "]" * 5000 + "\n")
    expect_error("grids", "sweep a grid file nested 5,000 deep", ["sweep", nested, "--out", out, "--quiet"], [out],
                 must=str(nested))


FSIZE = r"""
import resource, sys
limit, driver = int(sys.argv[1]), sys.argv[2]
del sys.argv[1:3]
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
exec(compile(open(driver).read(), driver, "exec"))
"""


def file_system_limits(tmp: Path) -> None:
    import errno

    driver = tmp / "driver.py"
    source = Path(DRIVER).read_text()
    driver.write_text(source.split('DRIVER = r"""', 1)[1].split('"""', 1)[0])
    out, ckpt = tmp / "r.json", tmp / "run.ckpt"
    outs = iter(tmp / f"r{i}.json" for i in range(100))

    def limited(limit: int, args: list, env: dict | None = None):
        return subprocess.run([sys.executable, "-c", FSIZE, str(limit), str(driver), json.dumps(args, default=str),
                               ""], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})

    out = next(outs)
    proc = limited(4096, ["train", *TINY, "--out", out])
    expect_text("filesystem", "train --out under a 4 KiB file-size limit (ulimit -f)", proc, [str(out), "limit"],
                written=[out])
    out = next(outs)
    proc = limited(4096, ["train", *TINY, "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "2"])
    expect_text("filesystem", "train --checkpoint under a 4 KiB file-size limit", proc, [str(ckpt), "limit"],
                written=[out])
    gz_root = tmp / "gz"
    raw = gz_root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in os.listdir(Path(DATA) / "MNIST" / "raw"):
        if not name.endswith(".gz"):
            with open(Path(DATA) / "MNIST" / "raw" / name, "rb") as src, gzip.open(raw / f"{name}.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
    out = next(outs)
    proc = limited(1 << 20, ["train", *TINY, "--data-root", gz_root, "--out", out],
                   {"DFA_LAFS_CACHE": str(tmp / "cache1")})
    expect_text("filesystem", "decompressing MNIST under a 1 MiB file-size limit", proc, ["limit"], never="delete it",
                written=[out])

    def injected(case: str, where, number: int, args: list, must: list[str], never: str = "") -> None:
        out = Path(args[args.index("--out") + 1])
        module, name = where
        real = getattr(module, name)

        def fail(*a, **k):
            raise OSError(number, os.strerror(number))

        setattr(module, name, fail)
        try:
            code, err, _ = in_process(args)
        finally:
            setattr(module, name, real)
        outcome, detail = judge_error(code, err, [out])
        missing = [m for m in must if m.lower() not in err.lower()] + ([never] if never and never in err else [])
        record("filesystem", case, "unclear" if outcome == "clear" and missing else outcome,
               f"lacks/has {missing}: {err}" if missing else detail)

    with environment(DFA_LAFS_CACHE=str(tmp / "cache2")):
        out = next(outs)
        injected("disk full while decompressing MNIST", (shutil, "copyfileobj"), errno.ENOSPC,
                 ["train", *TINY, "--data-root", gz_root, "--out", out], ["no space", str(tmp / "cache2")],
                 never="delete it")
    out = next(outs)
    injected("disk full while saving the result", (os, "fsync"), errno.ENOSPC, ["train", *TINY, "--out", out],
             ["no space", str(out)])
    out = next(outs)
    injected("disk quota exceeded while saving the result", (os, "fsync"), errno.EDQUOT,
             ["train", *TINY, "--out", out], ["quota", str(out)])
    nested = tmp / "nested.json"
    nested.write_text(NESTED)
    api_error("filesystem", "result file nested 100,000 deep", lambda: load_result(nested), nested)
    folder = tmp / "nested_record"
    folder.mkdir()
    (folder / "_grid.json").write_text(NESTED)
    api_error("filesystem", "sweep record nested 100,000 deep", lambda: load_sweep(folder), folder / "_grid.json")
    grid_file, sweep = tmp / "n.yaml", tmp / "nested_sweep"
    grid_file.write_text(yaml.safe_dump({"name": "n", "base": TINY_CONFIG, "grid": {"rule": ["dfa"]}}))
    sweep.mkdir()
    (sweep / f"{load_grid(grid_file).points[0].id}.json").write_text(NESTED)
    code, err, stdout = in_process(["sweep", grid_file, "--out", sweep, "--workers", "1", "--data-root", DATA,
                                    "--quiet"])
    outcome = "ok" if code == 0 and "1 ran" in stdout else "traceback" if "Traceback" in err else "unclear"
    record("filesystem", "sweep over a point whose result is nested 100,000 deep (re-run)", outcome, err + stdout)


def expect_text(category: str, case: str, proc, must: list[str], never: str = "", written=()) -> None:
    outcome, detail = judge_error(proc.returncode, proc.stderr, written)
    missing = [m for m in must if m.lower() not in proc.stderr.lower()]
    if outcome == "clear" and (missing or (never and never in proc.stderr)):
        outcome, detail = "unclear", f"lacks {missing} or says {never!r}: {proc.stderr}"
    record(category, case, outcome, detail)


def stored_against_repository(tmp: Path) -> None:
    """Stored results compared with the repository's committed version (git HEAD)."""
    from dfa_lafs import Result

    repo = tmp / "repo"
    stored = repo / "results"
    stored.mkdir(parents=True)
    config = RunConfig(rule="lafs", hidden=(8,), epochs=1)
    for name in ("a", "b", "c"):
        Result(config.replace(seed=ord(name)), {"step": [0, 1]}, {}, {"code_hash": code_hash()},
               {"test/accuracy": 0.5}).save(stored / f"{name}.json")
    git = ["git", "-C", str(repo), "-c", "user.name=battery", "-c", "user.email=battery@example.org"]
    for args in (["init", "-q"], ["add", "results"], ["commit", "-q", "-m", "stored"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    edited = stored / "a.json"
    d = json.loads(edited.read_text())
    d.pop("sha256")
    d["final"]["test/accuracy"] = 0.99
    edited.write_text(json.dumps({**d, "sha256": content_digest(d)}))
    (stored / "b.json").unlink()
    Result(config.replace(seed=7), {"step": [0]}, {}, {"code_hash": code_hash()}).save(stored / "new.json")

    def differences():
        from dfa_lafs.repository import stored_differences

        return {Path(p).name: how for p, how in stored_differences(stored)}

    try:
        found = differences()
    except Exception as err:  # noqa: BLE001 - before issue 18 nothing could tell
        found = f"{type(err).__name__}: {err}"
    accepted = load_result(edited).final["test/accuracy"] == 0.99
    for case, name in (("edited and re-signed", "a.json"), ("deleted", "b.json"), ("not committed", "new.json")):
        good = isinstance(found, dict) and name in found
        record("tampered", f"stored result {case}: reported as differing from git HEAD", "ok" if good else "silent",
               f"{found} (load_result accepts the edit: {accepted})")
    from_path = {**os.environ, "PATH": str(tmp / "no-git-here")}
    proc = subprocess.run([sys.executable, "-c", "from dfa_lafs.repository import stored_differences; import sys; "
                           f"print(stored_differences({str(stored)!r}))"], env=from_path, capture_output=True,
                          text=True, timeout=300)
    record("tampered", "comparison with the repository without git: says so", "ok" if proc.returncode == 0 and
           proc.stdout.strip() == "None" else "traceback" if "Traceback" in proc.stderr else "unclear",
           proc.stdout + proc.stderr[-200:])


def code_lineage(tmp: Path) -> None:
    """A stored result made by an earlier code hash that the lineage records as same-numbers loads fresh."""
    reference = REPO / "tests" / "reference_runs" / "bp_no_hidden_sum.json"
    stored = load_result(reference)
    api_case("lineage", "a result of the code this code's lineage says gives the same numbers loads",
             lambda: load_result(reference, expect=stored.config) is not None, check=bool)
    path = tmp / "other.json"
    d = json.loads(reference.read_text())
    d.pop("sha256")
    d["code_hash"] = "0" * 16
    path.write_text(json.dumps({**d, "sha256": content_digest(d)}))
    try:
        load_result(path, expect=stored.config)
        record("lineage", "a result of unrelated code is stale", "silent", "loaded")
    except ResultError as err:
        record("lineage", "a result of unrelated code is stale", "clear" if "is stale" in str(err) else "unclear",
               str(err))


PARTS = (bad_flags, unwritable, corrupt_checkpoints, corrupt_results, corrupt_data, sweep_folders, tampered, signals,
         two_writers,  # round 1 (issue 8)
         output_paths, stored_results, environment_variables, library_arguments, flag_values, grid_files,
         file_system_limits, stored_against_repository, code_lineage)  # round 2 (issue 18)


def main_battery() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows and the table here")
    parser.add_argument("--only", nargs="+", choices=[p.__name__ for p in PARTS], help="run only these parts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="hostile_") as tmp:
            tmp = Path(tmp)
            os.environ["DFA_LAFS_CACHE"] = str(tmp / "cache")  # no decompressed file from an earlier run helps
            for part in PARTS:
                if args.only is None or part.__name__ in args.only:
                    folder = tmp / part.__name__
                    folder.mkdir()
                    part(folder)
    finally:
        shutil.rmtree(STORED, ignore_errors=True)
    counts = Counter(outcome for _, _, outcome, _ in ROWS)
    table = {"cases tried": len(ROWS), "clear one-line errors": counts["clear"], "correct outcomes": counts["ok"],
             "tracebacks": counts["traceback"], "silent wrong": counts["silent"], "losses": counts["loss"],
             "hangs": counts["hang"], "unclear": counts["unclear"]}
    seconds = time.perf_counter() - start
    print("\n| " + " | ".join(table) + " |\n|" + "---|" * len(table) + "\n| "
          + " | ".join(str(v) for v in table.values()) + " |")
    print(f"by category: {dict(Counter(c for c, _, _, _ in ROWS))}; {seconds:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "seconds": round(seconds), "rows": ROWS}, indent=1))
    return 0 if sum(counts[k] for k in ("traceback", "silent", "loss", "hang", "unclear")) == 0 else 1


if __name__ == "__main__":
    sys.exit(main_battery())
