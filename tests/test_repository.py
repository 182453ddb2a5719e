"""Stored results against the repository's committed version: what a recomputed sha256 cannot catch."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from dfa_lafs import Result, RunConfig, load_result
from dfa_lafs.repository import DELETED, MODIFIED, NOT_COMMITTED, stored_differences
from dfa_lafs.results import code_hash, content_digest

CONFIG = RunConfig(rule="lafs", hidden=(8,), epochs=1)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.org", *args],
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A repository with three committed results under results/."""
    stored = tmp_path / "repo" / "results"
    (stored / "sub").mkdir(parents=True)
    for name in ("a", "b", "sub/c"):
        Result(CONFIG.replace(seed=len(name)), {"step": [0, 1]}, {}, {"code_hash": code_hash()},
               {"test/accuracy": 0.5}).save(stored / f"{name}.json")
    git(stored.parent, "init", "-q")
    git(stored.parent, "add", "results")
    git(stored.parent, "commit", "-q", "-m", "stored")
    return stored


@needs_git
def test_an_edit_with_a_recomputed_sha256_is_caught_by_the_repository(repo):
    path = repo / "a.json"
    body = json.loads(path.read_text())
    body.pop("sha256")
    body["final"]["test/accuracy"] = 0.99
    path.write_text(json.dumps({**body, "sha256": content_digest(body)}))
    assert load_result(path).final["test/accuracy"] == 0.99  # the sha256 cannot tell: it was recomputed
    (repo / "sub" / "c.json").unlink()
    Result(CONFIG.replace(seed=9), {"step": [0]}, {}, {"code_hash": code_hash()}).save(repo / "new.json")
    (repo.parent / ".gitignore").write_text("*.ipynb\n")
    (repo / "ignored.ipynb").write_text("{}")
    assert stored_differences(repo) == [(repo / "a.json", MODIFIED), (repo / "new.json", NOT_COMMITTED),
                                        (repo / "sub" / "c.json", DELETED)]


@needs_git
def test_an_untouched_folder_has_no_differences_and_timestamps_do_not_count(repo):
    assert stored_differences(repo) == []
    path = repo / "b.json"
    path.write_bytes(path.read_bytes())  # rewritten with the same content: a new mtime only
    assert stored_differences(repo) == []


def test_without_git_or_a_repository_it_says_it_cannot_tell(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    assert stored_differences(tmp_path / "results") is None  # not inside a repository
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert stored_differences(tmp_path / "results") is None
    assert stored_differences(tmp_path / "missing") is None
