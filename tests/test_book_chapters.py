"""The chapters as files: install cells, repository URL, reading order, what they import."""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from dfa_lafs.book import install_cell, repository_url

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
# What Colab does not have: a chapter that imports one of these stops there in Colab.
NOT_IN_COLAB = ("myst_nb", "papermill", "dask", "distributed", "sphinx", "jupyter_book", "nbval", "yaml_include")


def toc_order() -> list[str]:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_file_numbers_follow_the_navigation():
    order = toc_order()
    assert order == [p.stem for p in CHAPTERS], "every chapter file must be in _toc.yml, in file-number order"
    assert [int(name[:2]) for name in order] == list(range(1, len(order) + 1))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_install_cell_is_the_template_for_the_configured_url(path):
    first = code_cells(path)[0]
    assert first.source == install_cell(repository_url()).rstrip("\n"), (
        f"{path.name}: install cell differs from dfa_lafs.book.INSTALL_CELL; run `python src/dfa_lafs/book.py sync`")
    assert "remove-cell" in first.metadata.get("tags", [])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_needs_nothing_colab_lacks(path):
    for cell in code_cells(path):
        for module in NOT_IN_COLAB:
            assert not re.search(rf"^\s*(import|from)\s+{module}\b", cell.source, re.M), f"{path.name} imports {module}"


def test_every_repository_address_is_the_configured_one():
    url = repository_url()
    texts = {p.name: p.read_text() for p in CHAPTERS} | {"README.md": (REPO / "README.md").read_text()}
    for name, text in texts.items():
        for found in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", text):
            assert found == url, f"{name} names {found}; book/_config.yml says {url}"


def test_launch_buttons_can_find_the_chapters():
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    assert config["repository"]["path_to_book"] == "book"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    head = subprocess.run(["git", "-C", str(REPO), "branch", "--show-current"], capture_output=True, text=True).stdout
    assert config["repository"]["branch"] == "main" or head.strip() == config["repository"]["branch"]


def test_repository_url_rejects_a_placeholder(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/x\n")
    with pytest.raises(ValueError, match="repository.url must be"):
        repository_url(tmp_path)


def _notebook(path, stored_stdout, stored_stderr, code):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_stdout),
                    nbformat.v4.new_output("stream", name="stderr", text=stored_stderr)]
    nb.cells = [cell]
    nbformat.write(nb, path)


def test_nbval_ignores_stderr_but_not_stdout(tmp_path):
    """book/conftest.py: a changed warning passes, a changed printed number fails."""
    (tmp_path / "conftest.py").write_text((BOOK / "conftest.py").read_text())
    code = "import sys; print('x = 1'); print('SomeWarning: new wording', file=sys.stderr)"
    _notebook(tmp_path / "stderr_differs.ipynb", "x = 1\n", "OldWarning: old wording\n", code)
    _notebook(tmp_path / "stdout_differs.ipynb", "x = 2\n", "SomeWarning: new wording\n", code)
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
                          "-o", "addopts=", "-q", "--rootdir", str(tmp_path), str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed, 1 passed" in out.stdout, out.stdout[-2000:]
    assert "stdout_differs.ipynb::Cell 0 FAILED" in out.stdout or "FAILED stdout_differs.ipynb" in out.stdout


def test_lock_pins_every_requirement_within_its_bounds():
    """requirements.lock satisfies pyproject's lower bounds, extras included."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    project = __import__("tomllib").loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    for line in wanted:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is required but not in requirements.lock: regenerate it (see its header)"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock pins {name}=={pins[name]}, outside {req}"


@pytest.mark.parametrize("value, want", [(None, "/content/dfa-lafs-companion"), ("", "/content/dfa-lafs-companion"),
                                         ("/content/elsewhere", "/content/elsewhere")])
def test_install_cell_reads_an_empty_clone_variable_as_unset(value, want, monkeypatch):
    """DFA_LAFS_CLONE= (empty) must not make the cell clone into the working directory."""
    line = next(s for s in install_cell(repository_url()).splitlines() if s.strip().startswith("CLONE ="))
    if value is None:
        monkeypatch.delenv("DFA_LAFS_CLONE", raising=False)
    else:
        monkeypatch.setenv("DFA_LAFS_CLONE", value)
    scope = {}
    exec("import os\n" + line.strip(), scope)
    assert scope["CLONE"] == want
