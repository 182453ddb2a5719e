"""The sweep runner: grids checked before any training, papermill really executing the notebook
(serially, and on a Dask cluster), resumption, failed points reported, parameter types."""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from dfa_lafs import Result, RunConfig, load_result
from dfa_lafs import cli
from dfa_lafs.sweep import runner
from dfa_lafs.studies.runs import load_sweep, sweep_table
from dfa_lafs.config import field_names
from dfa_lafs.results import ResultError, code_hash
from dfa_lafs.sweep import (NOTEBOOK_ONLY, GridError, config_from_parameters, execute_point, kernel_manager_class,
                            load_grid, notebook_parameters, run_sweep)

SWEEPS = Path(__file__).parents[1] / "sweeps"
TINY = {"hidden": [32, 32], "epochs": 1, "train_size": 512, "eval_size": 256, "probe_size": 64, "record_points": 5}
# Two good points and one that passes validation but fails at run time (60000 MNIST examples).
GRID = {"name": "tiny", "base": TINY, "grid": {"rule": ["dfa", "lafs"]}, "points": [{"train_size": 100_000}]}
GOOD = {"name": "tiny", "base": TINY, "grid": {"rule": ["dfa", "lafs"]}}


@pytest.fixture(scope="session")
def data_root() -> str:
    """$DFA_LAFS_DATA, else ../shared/data beside the repository (CI's layout)."""
    root = Path(os.environ.get("DFA_LAFS_DATA") or Path(__file__).parents[1].parent / "shared" / "data")
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(f"no MNIST under {root}; set DFA_LAFS_DATA to a folder with MNIST/raw")
    return str(root)


@pytest.fixture(scope="module")
def serial(tmp_path_factory, data_root):
    """GRID run once in this process (workers=1), shared by the tests that inspect it."""
    out = tmp_path_factory.mktemp("serial")
    report = run_sweep(GRID, out, workers=1, data_root=data_root, threads=1, progress=False)
    return out, report, load_grid(GRID, data_root)


# --- parameters --------------------------------------------------------------------------------

def test_int_for_float_is_the_same_run():
    assert config_from_parameters({"lr": 1}).lr == 1.0
    assert config_from_parameters({"lr": 1}).key() == config_from_parameters({"lr": 1.0}).key()
    assert config_from_parameters({"hidden": [8, 8], "data_root": None}).hidden == (8, 8)


@pytest.mark.parametrize("params, message", [
    ({"lr": "fast"}, "lr must be a number, got str 'fast'"),
    ({"lr": "1e-2"}, "write 1.0e-2"),
    ({"lrr": 0.1}, "unknown parameter 'lrr' (did you mean 'lr'?)"),
    ({"epochs": 1.5}, "epochs must be an int, got float 1.5"),
    ({"epochs": True}, "epochs must be an int, got bool True"),
    ({"train_size": "all"}, "train_size must be an int or None"),
    ({"hidden": "[32, 32]"}, "use -y 'hidden: [32, 32]'"),
    ({"threads": "1"}, "threads must be an int"),
    ({"rule": "sgd"}, "rule must be one of bp, fa, dfa, lafs"),
])
def test_bad_parameters_are_one_line_errors(params, message):
    with pytest.raises(ValueError) as err:
        config_from_parameters(params)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_notebook_declares_every_parameter_with_the_library_defaults():
    """The parameters cell, run on its own, must give RunConfig() and name every field."""
    path = importlib.resources.files("dfa_lafs") / "notebooks" / "experiment.ipynb"
    cells = nbformat.reads(path.read_text(), as_version=4).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    namespace: dict = {}
    exec(code[0].source, namespace)
    params = notebook_parameters(namespace)
    assert set(params) == set(field_names()) | set(NOTEBOOK_ONLY)
    assert config_from_parameters(params) == RunConfig()


def test_kernel_runs_this_interpreter():
    """Whatever kernelspec `python3` resolves to elsewhere, points run in the runner's Python."""
    spec = kernel_manager_class()(kernel_name="python3").kernel_spec
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_notebook_rejects_bad_parameters_papermill_lets_through(data_root):
    config = RunConfig(data_root=data_root, **{**TINY, "hidden": (32, 32)}).to_dict()
    outcome = execute_point("bad", {**config, "lr": "fast", "lrr": 0.1}, threads=1)
    assert outcome.error.startswith("ValueError: bad parameters:")
    assert "lr must be a number, got str 'fast'" in outcome.error and "unknown parameter 'lrr'" in outcome.error
    assert outcome.result_json is None and "bad parameters" in outcome.notebook


# --- grids -------------------------------------------------------------------------------------

@pytest.mark.parametrize("grid, message", [
    ({"base": {"lrr": 0.1}, "grid": {"rule": ["dfa"]}},
     "point 1 of 1 (rule='dfa'): bad parameters: unknown parameter 'lrr'"),
    ({"grid": {"rule": ["dfa", "sgd"]}}, "point 2 of 2 (rule='sgd'): rule must be one of"),
    ({"grid": {"lr": [0.1, "fast"]}}, "point 2 of 2 (lr='fast'): bad parameters: lr must be a number, got str 'fast'"),
    ({"grid": {"hidden": [32, 32]}}, "hidden must be a list of ints, got int 32"),
    ({"name": "empty", "grid": {}}, "the grid has no points"),
    ({"grid": {"lr": []}}, "grid.lr must be a non-empty list"),
    ({"grid": {"lr": 0.1}}, "put a single value under `base:`"),
    ({"grids": {"lr": [0.1]}}, "unknown top-level key(s) ['grids']"),
    ({"grid": {"lr": [1, 1.0]}}, "points 1 and 2 (lr=1.0) are the same run"),
    ({"base": {"threads": 2}, "grid": {"lr": [0.1]}}, "sets ['threads'], which the runner chooses"),
    ({"name": "a/b", "grid": {"lr": [0.1]}}, "name 'a/b' must be letters"),
])
def test_bad_grids_fail_before_any_training(tmp_path, grid, message):
    with pytest.raises(GridError) as err:
        run_sweep(grid, tmp_path / "out", workers=1, progress=False)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_grid_file_errors_name_the_file_and_yaml_pitfalls(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("grid: {rule: [dfa], lr: [1e-2]}\n")  # YAML 1.1 reads 1e-2 as a string
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "lr must be a number, got str '1e-2'" in err and "write 1.0e-2" in err


def test_grid_list_and_points_expand_with_stable_ids():
    grid = load_grid({"base": TINY, "grid": [{"rule": ["dfa", "lafs"], "lr": [0.1, 1]}, {"rule": ["bp"]}],
                      "points": [{"rule": "fa", "seed": 3}]})
    ids = [p.id for p in grid.points]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert ids[1].startswith("rule-dfa__lr-1__") and ids[-1].startswith("rule-fa__seed-3__")
    assert grid.points[1].config.lr == 1.0 and grid.points[1].config.hidden == (32, 32)
    # a point's id does not depend on the other points, so growing a grid keeps finished files
    assert load_grid({"base": TINY, "grid": {"rule": ["dfa"], "lr": [1.0]}}).points[0].id == ids[1]


@pytest.mark.parametrize("path", sorted(SWEEPS.glob("*.yaml")) + sorted(SWEEPS.glob("ci/*.yaml")),
                         ids=lambda p: str(p.relative_to(SWEEPS)))
def test_shipped_grids_are_valid(path):
    grid = load_grid(path)
    if path.parent.name == "ci":  # CI grids stay tiny: a handful of 1-epoch points on <= 1000 examples
        assert grid.name.startswith("ci-") and len(grid.points) <= 8
        assert all(p.config.epochs == 1 and p.config.train_size <= 1000 for p in grid.points)


# --- running -----------------------------------------------------------------------------------

def test_serial_sweep_runs_points_and_reports_the_failure(serial):
    out, report, grid = serial
    good, bad = [p for p in grid.points if p.config.train_size == 512], grid.points[2]
    assert sorted(report.ran) == sorted(p.id for p in good) and not report.skipped
    assert not report.ok and list(report.failed) == [bad.id]
    assert "ValueError: train_size 100000 exceeds the 60000 training examples" in report.failed[bad.id]
    assert f"FAILED {bad.id}" in report.text()
    for point in good:
        result = load_result(out / f"{point.id}.json", expect=point.config)
        assert 0 <= result.final["test/accuracy"] <= 1 and result.provenance["threads"] == 1
        notebook = json.loads((out / f"{point.id}.ipynb").read_text())
        assert "test accuracy" in json.dumps(notebook["cells"][-1]["outputs"])
    assert (out / f"{bad.id}.ipynb").exists() and not (out / f"{bad.id}.json").exists()
    with pytest.raises(ResultError, match=rf"1 of 3 points of grid 'tiny' have no fresh result .*{bad.id}"):
        sweep_table(out)  # the folder records its grid, which has a point without a result
    table = sweep_table(out, grid=GOOD)
    assert list(table["rule"]) == ["dfa", "lafs"] and table["final/test/accuracy"].between(0, 1).all()


def test_finished_points_are_skipped(serial, data_root):
    out, _, _ = serial
    report = run_sweep(GOOD, out, workers=1, data_root=data_root, progress=False)
    assert report.ran == [] and len(report.skipped) == 2 and report.ok


def test_missing_stale_and_corrupt_results_are_redone(tmp_path, monkeypatch):
    """Resumption decides by loading each result for its config (with a stand-in for papermill)."""
    fake_runner(monkeypatch)
    grid = {"base": TINY, "grid": {"seed": [0, 1, 2]}}
    ids = [p.id for p in load_grid(grid).points]
    assert sorted(run_sweep(grid, tmp_path, workers=1, progress=False).ran) == sorted(ids)
    (tmp_path / f"{ids[0]}.json").write_text("{")  # corrupt
    stale = json.loads((tmp_path / f"{ids[1]}.json").read_text())
    (tmp_path / f"{ids[1]}.json").write_text(json.dumps({**stale, "code_hash": "0" * 16}))
    report = run_sweep(grid, tmp_path, workers=1, progress=False)
    assert report.ran == ids[:2] and report.skipped == ids[2:] and report.ok


def test_cli_reruns_only_the_failed_point_on_a_local_cluster_and_exits_1(serial, data_root, tmp_path, capsys):
    """--workers 2 takes the LocalCluster path; the failed point runs again and fails again."""
    out, first, _ = serial
    grid_file = tmp_path / "tiny.yaml"
    grid_file.write_text(yaml.safe_dump(GRID))
    code = cli.main(["sweep", str(grid_file), "--out", str(out), "--workers", "2", "--data-root", data_root, "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "2 skipped" in err and "1 failed" in err and f"FAILED {list(first.failed)[0]}" in err


def test_dask_cluster_gives_the_serial_results(serial, data_root, tmp_path):
    """Points run on a cluster the caller started, with the same numbers as in this process."""
    from distributed import LocalCluster

    serial_out = serial[0]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        report = run_sweep(GOOD, tmp_path, scheduler=cluster.scheduler_address, data_root=data_root,
                           progress=False)
    assert report.ok and len(report.ran) == 2
    for point in load_grid(GOOD, data_root).points:
        here = load_result(tmp_path / f"{point.id}.json", expect=point.config)
        there = load_result(serial_out / f"{point.id}.json", expect=point.config)
        assert here.history == there.history and here.final == there.final


# --- which grid a folder holds ------------------------------------------------------------------

def fake_runner(monkeypatch):
    """execute_point without papermill: a result as the notebook would write it."""
    def fake_execute(pid, config, threads=0):
        result = Result(RunConfig.from_dict(config), {"step": [0]}, {}, {"code_hash": code_hash()})
        return runner.PointOutcome(pid, "{}", json.dumps(result.to_dict()), None, 0.0)

    monkeypatch.setattr(runner, "execute_point", fake_execute)


def test_the_folder_records_its_grid_file_and_refuses_another(tmp_path, monkeypatch):
    fake_runner(monkeypatch)
    first, second, out = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "out"
    first.write_text(yaml.safe_dump({"name": "x", "base": TINY, "grid": {"seed": [0, 1]}}))
    second.write_text(yaml.safe_dump({"name": "x", "base": TINY, "grid": {"seed": [2]}}))
    assert len(run_sweep(first, out, workers=1, progress=False).ran) == 2
    record = json.loads((out / "_grid.json").read_text())
    assert record["grid_file"] == "../a.yaml" and record["name"] == "x"
    assert sorted(load_sweep(out)) == sorted(p.id for p in load_grid(first).points)
    with pytest.raises(GridError, match=rf"{out} holds the results of {first}; running {second} there would mix"):
        run_sweep(second, out, workers=1, progress=False)
    # an edited grid file is the same sweep: the new point runs, the dropped one is reported
    first.write_text(yaml.safe_dump({"name": "x", "base": TINY, "grid": {"seed": [1, 3]}}))
    report = run_sweep(first, out, workers=1, progress=False)
    assert len(report.ran) == 1 and len(report.skipped) == 1 and len(report.others) == 1
    assert "1 other result(s)" in report.text() and "load_sweep leaves them out" in report.text()
    # even with nothing to run, the record is rewritten (a regenerate over fresh results records the grid)
    (out / "_grid.json").unlink()
    assert run_sweep(first, out, workers=1, progress=False).ran == [] and (out / "_grid.json").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, "workers must be an int >= 1, got 0"),
    ({"workers": True}, "workers must be an int >= 1, got True"),
    ({"workers": 1, "threads": -1}, "threads must be an int >= 0"),
])
def test_runner_arguments_are_checked_before_anything(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_sweep(GOOD, tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_sweep_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="sweep folder .* cannot be written: .* is a file, not a folder"):
        run_sweep(GOOD, tmp_path / "file" / "out", workers=1, progress=False)


# --- strict grid files, their size, and where a sweep writes (issue 18) -----------------------------

@pytest.mark.parametrize("text, line, key", [
    ("name: d\nbase: {epochs: 1}\ngrid: {lr: [0.1]}\nbase: {epochs: 20}\n", 4, "base"),
    ("name: d\ngrid:\n  lr: [0.1, 0.3]\n  lr: [1.0]\n", 4, "lr"),
    ("name: d\nbase:\n  epochs: 1\n  epochs: 5\ngrid: {lr: [0.1]}\n", 4, "epochs"),
    ("name: d\npoints:\n  - {lr: 0.1, lr: 0.3}\n", 3, "lr"),
])
def test_a_key_given_twice_is_refused_with_its_line(tmp_path, text, line, key):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(GridError, match=rf"^{path}, line {line}: key '{key}' appears twice in one mapping \(first "
                                        rf"on line \d\); YAML would keep only the last: remove one$"):
        load_grid(path)


def test_a_merge_key_may_be_overridden_and_other_yaml_errors_stay_one_line(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("name: m\nbase: &b {epochs: 1, hidden: [8]}\npoints:\n  - {<<: *b, epochs: 2}\n")
    assert load_grid(path).points[0].config.epochs == 2
    path.write_text("name: n\nbase: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(GridError, match=f"^{path} is nested too deeply to be a grid file$"):
        load_grid(path)


def test_a_large_grid_is_counted_before_any_point_is_checked_and_refused_unless_confirmed(tmp_path, monkeypatch):
    from dfa_lafs.sweep import MAX_POINTS, count_points, grid as grid_module

    huge = {"grid": {name: list(range(1, 11)) for name in ("seed", "epochs", "batch_size", "eval_size",
                                                            "probe_size", "record_points", "noise_points")}}
    monkeypatch.setattr(grid_module, "_build_points", lambda *a: pytest.fail("points were checked"))
    assert count_points(huge) == 10_000_000
    with pytest.raises(GridError, match=r"the grid has 10,000,000 points, more than 1,000 .* --allow-large"):
        load_grid(huge)
    union = {"grid": [{"seed": list(range(600))}, {"seed": list(range(600, 1200))}], "points": [{"seed": 5000}]}
    assert count_points(union) == 1201
    monkeypatch.undo()
    assert MAX_POINTS == 1000 and len(load_grid({"grid": {"seed": list(range(1000))}}).points) == 1000
    assert len(load_grid({"grid": {"seed": list(range(1001))}}, allow_large=True).points) == 1001


def test_the_sweep_command_prints_the_count_and_refuses_a_large_grid(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump({"name": "big", "grid": {"seed": list(range(1001))}}))
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"{path}: 1,001 points\n"
    assert captured.err.startswith(f"error: {path}: the grid has 1,001 points, more than 1,000")
    assert "\n" not in captured.err.strip()
    assert not (tmp_path / "out").exists()


def test_a_sweep_without_out_writes_under_dfa_lafs_results(tmp_path, monkeypatch):
    fake_runner(monkeypatch)
    monkeypatch.setenv("DFA_LAFS_RESULTS", str(tmp_path / "stored"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # the default used to be results/sweeps/<name> under the current folder
    report = run_sweep({"name": "env", "base": TINY, "grid": {"seed": [0]}}, workers=1, progress=False)
    assert report.out_dir == tmp_path / "stored" / "sweeps" / "env" and len(report.ran) == 1
    assert (tmp_path / "stored" / "sweeps" / "env" / f"{report.ran[0]}.json").exists()
    assert list((tmp_path / "cwd").iterdir()) == []


def test_a_stale_stored_point_is_replaced_only_when_asked(tmp_path, monkeypatch):
    fake_runner(monkeypatch)
    monkeypatch.setenv("DFA_LAFS_RESULTS", str(tmp_path / "results"))
    grid = {"name": "s", "base": TINY, "grid": {"seed": [0, 1]}}
    out = tmp_path / "results" / "sweeps" / "s"
    run_sweep(grid, out, workers=1, progress=False)
    point = out / f"{load_grid(grid).points[0].id}.json"
    stale = json.loads(point.read_text())
    point.write_text(json.dumps({**stale, "code_hash": "0" * 16}))
    before = point.read_bytes()
    with pytest.raises(ValueError, match=rf"point .*'s result {point} is a stored result under"):
        run_sweep(grid, out, workers=1, progress=False)
    assert point.read_bytes() == before
    report = run_sweep(grid, out, workers=1, progress=False, replace_stored=True)
    assert report.ran == [point.stem] and point.read_bytes() != before


def test_a_point_result_nested_too_deeply_is_redone_not_fatal(tmp_path, monkeypatch):
    fake_runner(monkeypatch)
    grid = {"base": TINY, "grid": {"seed": [0]}}
    point = load_grid(grid).points[0]
    tmp_path.joinpath(f"{point.id}.json").write_text("[" * 100_000 + "]" * 100_000)
    assert run_sweep(grid, tmp_path, workers=1, progress=False).ran == [point.id]
    (tmp_path / "_grid.json").write_text("[" * 100_000)
    with pytest.raises(ResultError, match=f"{tmp_path / '_grid.json'} is nested too deeply to be a sweep record"):
        load_sweep(tmp_path)
