"""The explorer: what it writes into the built site for the HTML page, and the sweeps it finds."""

import json

import pytest

from dfa_lafs import explorer
from dfa_lafs.config import RunConfig
from dfa_lafs.results import Result


def _run(rule, seed, hidden=(4, 4), **config):
    h = {"step": [0, 10, 100], "test/accuracy": [0.1, 0.5, 0.9 + seed / 1000]}
    for i in range(1, len(hidden) + 1):
        for name in ("angle", "angle_centered", "readout_accuracy"):
            h[f"train/{name}/{i}"] = [seed + k + i / 10 + 1e-7 for k in range(3)]
    h["train/angle/1"][1] = float("nan")
    return Result(RunConfig(rule=rule, hidden=hidden, seed=seed, **config), h, {}, {})


def _sweeps():
    depth = {f"d{d}s{s}lr{lr}": _run("dfa", s, hidden=(4,) * d, lr=lr) for d in (1, 2) for s in (0, 1) for lr in (0.1, 0.3)}
    seeds = {f"p{k}": _run(rule, seed) for k, (rule, seed) in enumerate((r, s) for r in ("dfa", "lafs") for s in (0, 1))}
    return {"depth": depth, "figure1": seeds}


def _read(path):
    """A data file is `dfaExplorer.receive(name, data);`: the name and the data."""
    text = path.read_text()
    assert text.startswith(explorer.JS_CALLBACK + "(") and text.endswith(");\n")
    name, _, data = text[len(explorer.JS_CALLBACK) + 1:-3].partition(", ")
    return json.loads(name), json.loads(data)


def test_sweep_data_has_each_run_its_rule_settings_and_every_measure_per_layer():
    data = explorer.sweep_data(_sweeps()["depth"])
    assert data["fields"] == ["hidden", "lr", "seed"]
    first, deep = data["runs"][0], data["runs"][-1]
    assert first["settings"] == {"hidden": "1x4", "lr": "0.1", "seed": "0"} and first["rule"] == "dfa"
    assert set(first["series"]) == {"angle/1", "angle_centered/1", "readout_accuracy/1", "accuracy"}
    assert set(deep["series"]) >= {"angle/2", "readout_accuracy/2"} and deep["step"] == [0, 10, 100]
    assert first["series"]["angle/1"] == [0.1, None, 2.1]  # rounded to 4 digits; NaN (diverged) -> null


def test_write_site_data_writes_an_index_and_one_script_per_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(explorer, "_description", lambda name: f"About {name}.")
    paths = explorer.write_site_data(tmp_path, _sweeps(), {"long": "not yet run"})
    assert sorted(p.name for p in paths) == ["depth.js", "figure1.js", "index.js"]
    name, index = _read(tmp_path / "index.js")
    assert name == "index" and [s["name"] for s in index["sweeps"]] == ["figure1", "depth"]  # Figure 1's first
    depth = index["sweeps"][1]
    assert depth == {"name": "depth", "file": "depth.js", "runs": 8, "rules": ["dfa"], "depth": 2,
                     "fields": ["hidden", "lr", "seed"], "description": "About depth."}
    assert [(m["key"], m["per_layer"]) for m in index["measures"]] == [
        ("angle", True), ("angle_centered", True), ("readout_accuracy", True), ("accuracy", False)]
    assert index["colors"]["lafs"] == "#0072B2" and index["missing"] == {"long": "not yet run"}
    name, data = _read(tmp_path / "figure1.js")
    assert name == "figure1" and [r["rule"] for r in data["runs"]] == ["dfa", "dfa", "lafs", "lafs"]


def test_the_page_holds_only_a_placeholder_that_says_where_the_explorer_is():
    html = explorer.explorer_html()
    assert 'class="dfa-explorer"' in html and f'data-src="{explorer.SITE_DATA}/"' in html
    assert "Jupyter or Colab" in html and len(html) < 500  # no data in the page


def test_description_is_the_first_sentence_of_the_grid_files_comment():
    assert explorer._description("figure1").startswith("Figure 1 at the paper's setting")
    assert explorer._description("figure1").endswith(".") and "\n" not in explorer._description("figure1")


def test_curves_give_each_run_of_a_measure_with_its_rule_and_settings():
    curves = explorer.curves(_sweeps()["depth"], "readout_accuracy", 2)
    assert [label for _, label, _, _ in curves] == ["hidden=2x4, lr=0.1, seed=0", "hidden=2x4, lr=0.1, seed=1",
                                                    "hidden=2x4, lr=0.3, seed=0", "hidden=2x4, lr=0.3, seed=1"]
    assert all(rule == "dfa" for rule, *_ in curves)
    assert len(explorer.curves(_sweeps()["depth"], "accuracy")) == 8


def test_stored_sweeps_loads_what_is_complete_and_says_why_not_for_the_rest(tmp_path, monkeypatch):
    from dfa_lafs import experiments
    from dfa_lafs.results import ResultError
    from dfa_lafs.sweep.grid import load_grid

    grids, results = tmp_path / "sweeps", tmp_path / "results"
    grids.mkdir()
    for name in ("done", "never", "empty", "half", "old"):
        (grids / f"{name}.yaml").write_text(f"name: {name}\ngrid: {{seed: [0, 1]}}\n")
    for name, stored in (("empty", 0), ("half", 1), ("old", 2)):
        (results / "sweeps" / name).mkdir(parents=True)
        for point in load_grid(grids / f"{name}.yaml").points[:stored]:
            (results / "sweeps" / name / f"{point.id}.json").write_text("{}")

    def load(name):
        if name != "done":
            raise ResultError(f"2 of 2 points of {name} have no fresh result")
        return {"p": _run("dfa", 0)}

    monkeypatch.setattr(experiments, "SWEEPS_DIR", grids)
    monkeypatch.setattr(experiments, "RESULTS", results)
    monkeypatch.setattr(experiments, "load_stored_sweep", load)
    loaded, missing = explorer.stored_sweeps()
    assert list(loaded) == ["done"]
    assert missing == {"empty": "not yet run", "half": "incomplete (1 of 2 points)", "never": "not yet run",
                       "old": "stale or invalid: 2 of 2 points of old have no fresh result"}


def test_widget_explorer_builds_its_menus_and_draws():
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    box = explorer.widget_explorer(_sweeps())
    sweep, measure, layer = box.children[0].children
    assert list(sweep.options) == ["depth", "figure1"] and list(layer.options) == [1, 2]
    measure.value = "accuracy"
    assert layer.disabled and list(layer.options) == [None]
