"""Results: freshness keyed on the code that computes (not its layout), and every tampered,
malformed or stale file refused with one line naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import dfa_lafs
from dfa_lafs import Result, RunConfig, load_result
from dfa_lafs.results import FORMAT_VERSION, HASHED_MODULES, ResultError, code_hash, content_digest

PACKAGE = Path(dfa_lafs.__file__).parent
CONFIG = RunConfig(rule="lafs", hidden=(8,), epochs=1, lr=0.1)


# --- the code hash ---------------------------------------------------------------------------------

@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of the package's sources, to edit."""
    copy = tmp_path / "dfa_lafs"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "notebooks"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}: update this test"
    path.write_text(text.replace(old, new, 1))


def test_the_copy_hashes_like_the_package(package):
    assert code_hash(package) == code_hash()


@pytest.mark.parametrize("module, old, new", [
    ("rules.py", '    """delta a^i for i = 1..k', '    # a new comment\n\n    """delta a^i, rewritten, for i = 1..k'),
    ("rules.py", "from .model import MLP\n", "from .model import MLP  # the network\n\n\n"),
    ("train.py", '"""`run(config)`: train one network', '"""`run(config)`: train a single network'),
    ("model.py", "\n\n", "\n\n\n"),
    ("config.py", "lr: float = 0.1", "lr: float = 0.1  # any comment"),
    ("config.py", "lr: float = 0.1", "lr: float = 0.5"),  # config.py is covered by the config key instead
    ("cli.py", "def main(", "def main_renamed("),  # nor is the CLI part of what computes a number
])
def test_layout_comments_and_docstrings_keep_results_fresh(package, module, old, new):
    before = code_hash(package)
    edit(package / module, old, new)
    assert code_hash(package) == before


@pytest.mark.parametrize("module, old, new", [
    ("rules.py", "return e / logits.shape[0]\n", "return e * logits.shape[0]\n"),
    ("rules.py", 'if rule == "dfa":\n        return [e_y] * len(net.B)', 'if rule == "dfa":\n        return [-e_y] * len(net.B)'),
    ("model.py", "import torch\n", "import torch\nSCALE = 2\n"),
    ("train.py", "FINITE_CHECK_EVERY = 50", "FINITE_CHECK_EVERY = 51"),
    ("metrics.py", "import torch\n", "import torch\nimport math as _m\n"),
])
def test_a_change_to_the_code_that_trains_stales_results(package, module, old, new):
    before = code_hash(package)
    edit(package / module, old, new)
    assert code_hash(package) != before


def test_hashed_modules_exist_and_exclude_config():
    assert "config.py" not in HASHED_MODULES
    assert all((PACKAGE / name).exists() for name in HASHED_MODULES)


# --- loading ---------------------------------------------------------------------------------------

def saved(tmp_path, config: RunConfig = CONFIG) -> Path:
    result = Result(config, {"step": [0, 1]}, {"wall_s": 1.0}, {"code_hash": code_hash()}, {"test/accuracy": 0.5})
    return result.save(tmp_path / "r.json")


def rewrite(path: Path, change, sign: bool = True) -> None:
    """Edit a result file; sign=True recomputes its sha256, as a careful forger would."""
    d = json.loads(path.read_text())
    change(d)
    d.pop("sha256", None)
    path.write_text(json.dumps(signed(d) if sign else d))


def signed(d: dict) -> dict:
    return {**d, "sha256": content_digest(d)}


@pytest.mark.parametrize("change", [
    lambda d: d["history"]["step"].__setitem__(1, 2),
    lambda d: d["final"].update({"test/accuracy": 0.99}),
    lambda d: d["config"].update(lr=0.5),
    lambda d: d.update(code_hash=code_hash()[::-1]),
])
def test_any_unsigned_edit_is_refused(tmp_path, change):
    path = saved(tmp_path)
    rewrite(path, change, sign=False)
    with pytest.raises(ResultError, match="has been edited: its sha256 does not match its content"):
        load_result(path)


def test_a_saved_result_loads_fresh(tmp_path):
    result = load_result(saved(tmp_path), expect=CONFIG)
    assert result.config == CONFIG and result.final == {"test/accuracy": 0.5}


def test_an_edited_config_is_refused_even_with_its_key_left_alone(tmp_path):
    path = saved(tmp_path)
    rewrite(path, lambda d: d["config"].update(lr=0.5, epochs=7))
    with pytest.raises(ResultError, match="has been edited or was written by another .* does not hash to its config_key"):
        load_result(path, expect=CONFIG)
    with pytest.raises(ResultError, match="has been edited"):
        load_result(path)  # with or without a config to compare with


def test_an_edited_config_with_a_forged_key_is_another_config(tmp_path):
    path = saved(tmp_path)
    forged = CONFIG.replace(lr=0.5, epochs=7)
    rewrite(path, lambda d: d.update(config=forged.to_dict(), config_key=forged.key()))
    with pytest.raises(ResultError, match=r"different config than the one asked for \(lr 0.5, asked 0.1; "
                                          r"epochs 7, asked 1\)"):
        load_result(path, expect=CONFIG)


def test_other_code_is_stale(tmp_path):
    path = saved(tmp_path)
    rewrite(path, lambda d: d.update(code_hash="0" * 16))
    with pytest.raises(ResultError, match="is stale: the training code changed"):
        load_result(path, expect=CONFIG)
    assert load_result(path, expect=CONFIG, check_code=False).config == CONFIG


@pytest.mark.parametrize("key", ["config", "config_key", "code_hash", "history", "timings", "provenance"])
def test_a_missing_key_is_one_line(tmp_path, key):
    path = saved(tmp_path)
    rewrite(path, lambda d: d.pop(key))
    with pytest.raises(ResultError) as err:
        load_result(path, expect=CONFIG)
    assert str(path) in str(err.value) and f"{key!r} is missing" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content, message", [
    ("{", "is not valid JSON"),
    ("", "is not valid JSON"),
    ("[1, 2]", "is not a result (a JSON object), got a JSON list"),
    (json.dumps(signed({"format_version": FORMAT_VERSION, "config": {"rule": "hebb"}, "config_key": "x",
                        "code_hash": "y", "history": {}, "timings": {}, "provenance": {}})),
     "holds an invalid result (rule must be one of"),
    (json.dumps(signed({"format_version": FORMAT_VERSION, "config": {"lr": 1}, "config_key": "x", "code_hash": "y",
                        "history": [], "timings": {}, "provenance": {}})), "'history' is a list, not a dict"),
    ('{"format_version": 7}', "has result format 7"),
    ('{"format_version": 1}', "has result format 1, this version of dfa_lafs reads format 2"),
    ("\udcff", "cannot be read"),
])
def test_malformed_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(ResultError) as err:
        load_result(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_folder_or_nothing_is_one_line(tmp_path):
    with pytest.raises(ResultError, match="no result file at"):
        load_result(tmp_path / "missing.json")
    with pytest.raises(ResultError, match="cannot be read"):
        load_result(tmp_path)


def test_save_refuses_unwritable_paths_in_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = Result(CONFIG, {"step": [0]}, {}, {"code_hash": code_hash()})
    with pytest.raises(ValueError, match="is a file, not a folder"):
        result.save(tmp_path / "file" / "r.json")
    with pytest.raises(ValueError, match="is a folder"):
        result.save(tmp_path)
