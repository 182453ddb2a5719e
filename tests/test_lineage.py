"""The code lineage: which earlier code hashes give the same numbers, and what the stored results need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfa_lafs import Result, RunConfig, load_result
from dfa_lafs import lineage
from dfa_lafs.results import ResultError, code_hash

REPO = Path(__file__).resolve().parents[1]
A, B, C, D = "a" * 16, "b" * 16, "c" * 16, "d" * 16


def entry(new: str, old: str, date: str = "2027-01-01", **changes) -> dict:
    return {"hash": new, "same_numbers_as": old, "date": date, "reason": "checks added", "evidence": "tests", **changes}


def write(path: Path, *entries: dict) -> Path:
    path.write_text(json.dumps({"about": "test", "entries": list(entries)}))
    return path


def test_accepted_hashes_follow_the_links_transitively_and_only_backwards(tmp_path):
    path = write(tmp_path / "lineage.json", entry(B, A), entry(C, B, "2027-02-01"), entry(D, "e" * 16, "2027-03-01"))
    assert lineage.accepted_hashes(C, path) == {A, B, C}
    assert lineage.accepted_hashes(B, path) == {A, B}  # an older code does not accept a newer one's results
    assert lineage.accepted_hashes(A, path) == {A}
    assert lineage.accepted_hashes("f" * 16, path) == {"f" * 16}
    assert lineage.accepted_hashes(A, tmp_path / "missing.json") == {A}
    assert lineage.problems(path) == []


def test_a_cycle_ends(tmp_path):
    path = write(tmp_path / "lineage.json", entry(B, A), entry(A, B, "2027-02-01"))
    assert lineage.accepted_hashes(A, path) == {A, B}


@pytest.mark.parametrize("bad, message", [
    (entry(A, "xyz"), "same_numbers_as must be a code hash"),
    (entry(A, A), "links a hash to itself"),
    (entry(A, B, date="yesterday"), "date must be YYYY-MM-DD"),
    (entry(A, B, reason=" "), "reason and evidence must say something"),
    ({"hash": A, "same_numbers_as": B}, "needs exactly the fields"),
])
def test_a_malformed_entry_is_an_error_naming_it(tmp_path, bad, message):
    path = write(tmp_path / "lineage.json", entry(C, D), bad)
    with pytest.raises(lineage.LineageError, match=f"entry 2: {message}"):
        lineage.accepted_hashes(A, path)
    assert message in lineage.problems(path)[0]


def test_entries_are_appended_in_date_order(tmp_path):
    path = write(tmp_path / "lineage.json", entry(B, A, "2027-03-01"), entry(C, B, "2027-01-01"))
    assert "not in date order" in lineage.problems(path)[0]
    (tmp_path / "bad.json").write_text("[" * 100_000)
    assert "cannot be read" in lineage.problems(tmp_path / "bad.json")[0]


def test_load_result_accepts_a_result_of_an_ancestor_and_refuses_others(tmp_path, monkeypatch):
    config = RunConfig(rule="lafs", hidden=(8,), epochs=1)
    older = tmp_path / "older.json"
    Result(config, {"step": [0]}, {}, {"code_hash": A}).save(older)
    monkeypatch.setattr(lineage, "LINEAGE_FILE", write(tmp_path / "lineage.json", entry(code_hash(), A)))
    assert load_result(older, expect=config).provenance["code_hash"] == A
    monkeypatch.setattr(lineage, "LINEAGE_FILE", write(tmp_path / "other.json", entry(code_hash(), B)))
    with pytest.raises(ResultError, match=rf"is stale: the training code changed since it was written \(code hash "
                                          rf"{A}, now {code_hash()}\)"):
        load_result(older, expect=config)


def test_the_committed_lineage_is_well_formed_and_accepts_every_stored_result():
    """Fails after a change to a hashed module with no lineage entry: then either the reference runs
    (tests/test_reference_runs.py) pass and an entry says so, or the stored results must be remade."""
    assert lineage.problems() == []
    accepted = lineage.accepted_hashes()
    stored = {}
    for path in sorted((REPO / "results").rglob("*.json")):
        body = json.loads(path.read_text())
        if isinstance(body, dict) and "code_hash" in body:
            stored.setdefault(body["code_hash"], path)
    references = {json.loads(p.read_text())["code_hash"] for p in (REPO / "tests" / "reference_runs").glob("*.json")}
    assert stored, "no stored results found"
    assert not set(stored) - accepted, f"stored results of code this code does not accept: {stored}"
    assert references <= accepted


def test_each_entry_names_the_reference_runs_as_evidence():
    for found in lineage.entries():
        assert "tests/test_reference_runs.py" in found["evidence"], found
