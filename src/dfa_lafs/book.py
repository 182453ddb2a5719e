"""What the book's chapters share: sentences with numbers that read the same in Colab, tables,
numerical checks, the Colab install step, and the install cell every chapter opens with.

Module-level imports are standard library only: in Colab this file runs as a script
(`python book.py install CLONE`) before its dependencies are known to be present.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BOOK = Path(__file__).resolve().parents[2] / "book"  # in a clone of the repository

# The first code cell of every chapter, tagged remove-cell. {url} is the repository in
# book/_config.yml; `python src/dfa_lafs/book.py sync` writes it into every chapter and
# tests/test_book_chapters.py fails when a chapter differs from it.
INSTALL_CELL = '''\
# In Colab: clone this book's repository (library + stored results) and install the library
# without changing any package Colab already has. Elsewhere: nothing. Safe to re-run.
import sys
if "google.colab" in sys.modules:
    import os, shutil, subprocess
    REPO_URL = "{url}"
    CLONE = os.environ.get("DFA_LAFS_CLONE") or "/content/dfa-lafs-companion"  # unset or empty: the default
    SRC = os.path.join(CLONE, "src")
    git = ["git", "-C", CLONE]
    intact = (subprocess.run(git + ["rev-parse", "-q", "--verify", "HEAD"], capture_output=True).returncode == 0
              and not subprocess.run(git + ["ls-files", "--deleted"], capture_output=True, text=True).stdout)
    if not intact:  # absent, or an interrupted clone: start again
        shutil.rmtree(CLONE, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, CLONE], check=True)
    where = [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('dfa_lafs').origin)"]
    if not intact or not subprocess.run(where, capture_output=True, text=True, cwd="/").stdout.startswith(SRC + os.sep):
        subprocess.run([sys.executable, os.path.join(SRC, "dfa_lafs", "book.py"), "install", CLONE], check=True)
    if SRC not in sys.path:
        sys.path.insert(0, SRC)
    import dfa_lafs
    assert dfa_lafs.__file__.startswith(SRC + os.sep), f"dfa_lafs imported from {{dfa_lafs.__file__}}, not {{SRC}}"
'''


# ---------------------------------------------------------------------------------------------
# In a chapter


def show(markdown: str) -> None:
    """Display a paragraph of Markdown written with the library's numbers.

    The book's sentences that quote a number are made this way (in a cell whose input the HTML
    hides), so that they read the same in the HTML book (myst-nb renders the Markdown output,
    math and links included) and in Colab, which shows a `{glue:text}` role verbatim.
    """
    from IPython.display import Markdown, display

    display(Markdown(markdown))


def table(frame, caption: str | None = None):
    """A DataFrame as the book shows tables: no index, text wrapped to the column."""
    styler = frame.style.hide(axis="index").set_table_attributes('class="book-table"')
    return styler.set_caption(caption) if caption else styler


class Checks:
    """A chapter's numerical checks against an independent computation (autograd, a loop).

    `check(name, got, want)` asserts that the two arrays agree to `tol` and prints one line
    that does not depend on round-off; `check.table()` lists every error measured.
    """

    def __init__(self, tol: float = 1e-12):
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol}")
        self.tol = tol
        self.errors: dict[str, float] = {}

    def __call__(self, name: str, got, want, tol: float | None = None) -> None:
        """Returns nothing, so that a cell ending in a check shows only its printed line."""
        import torch

        tol = self.tol if tol is None else tol
        got, want = torch.as_tensor(got), torch.as_tensor(want)
        if got.shape != want.shape:
            raise ValueError(f"{name}: shapes differ, {tuple(got.shape)} vs {tuple(want.shape)}")
        err = (got - want).abs().max().item() if got.numel() else 0.0
        self.errors[name] = err
        print(f"{name}: max |error| < {tol:.0e}: {err < tol}")
        assert err < tol, f"{name}: max |error| = {err:.2e}"  # NaN fails here too

    def table(self):
        """Every error measured so far, one row per check, in the order they ran."""
        import pandas as pd

        return pd.DataFrame({"max |error|": [f"{v:.1e}" for v in self.errors.values()]}, index=list(self.errors))


def show_plotly(fig) -> None:
    """Display a plotly figure so that the HTML book draws it from its own copy of plotly.js.

    The text/html part carries no plotly.js (the book serves plotly.min.js from `_static`, see
    book/_ext/offline_assets.py); Jupyter and VS Code draw the plotly JSON part themselves. Colab
    renders neither, so there the figure goes through plotly's own Colab renderer.
    """
    if "google.colab" in sys.modules:
        fig.show(renderer="colab")
        return
    from IPython.display import display

    bundle = {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
              "text/html": fig.to_html(include_plotlyjs=False, full_html=False)}
    display(bundle, raw=True)


# ---------------------------------------------------------------------------------------------
# Installing in Colab


def install(clone: str | Path) -> list[str]:
    """Install the clone (editable, no dependencies), then only the requirements that are missing.

    Every distribution already present is pinned through a constraints file, so pip can add
    packages but never upgrade or downgrade one that Colab ships (its torch, numpy, ipykernel,
    ipython). Returns the requirements that were installed.
    """
    from importlib.metadata import PackageNotFoundError, distributions, requires, version

    from packaging.requirements import Requirement

    clone = Path(clone)
    if not (clone / "pyproject.toml").is_file():
        raise SystemExit(f"install: {clone} is not a clone of the repository (no pyproject.toml)")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["--no-deps", "-e", str(clone)], check=True)
    missing = []
    for line in requires("dfa-lafs") or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an extra (sweeps, book, test): not needed to read a chapter
        try:
            have = version(req.name)
        except PackageNotFoundError:
            missing.append(str(req))
            continue
        if not req.specifier.contains(have, prereleases=True):
            print(f"install: keeping the runtime's {req.name} {have} although the library asks for {req}")
    if missing:
        pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]})
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
            constraints.write("\n".join(pins) + "\n")
            constraints.flush()
            subprocess.run(pip + ["-c", constraints.name] + missing, check=True)
    return missing


# ---------------------------------------------------------------------------------------------
# Keeping the chapters in step with book/_config.yml


def repository_url(book: Path = BOOK) -> str:
    """`repository.url` from book/_config.yml: the one place the repository's address is written."""
    import yaml

    config = yaml.safe_load((book / "_config.yml").read_text())
    url = (config.get("repository") or {}).get("url")
    if not url or not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"{book / '_config.yml'}: repository.url must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def install_cell(url: str) -> str:
    return INSTALL_CELL.format(url=url)


GITHUB_REPO = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")


def sync(book: Path = BOOK) -> list[Path]:
    """Bring every chapter and the README in line with book/_config.yml's repository URL.

    Writes the install cell into each chapter and replaces any other GitHub repository address
    in the chapters and README.md (the book names no other repository); returns the files changed.
    """
    import nbformat

    url = repository_url(book)
    cell = install_cell(url).rstrip("\n")
    changed = []
    for path in sorted(book.glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = [c.source for c in nb.cells]
        next(c for c in nb.cells if c.cell_type == "code").source = cell
        for c in nb.cells:
            c.source = GITHUB_REPO.sub(url, c.source)
        if [c.source for c in nb.cells] != before:
            nbformat.write(nb, path)
            changed.append(path)
    readme = book.parent / "README.md"
    if readme.is_file() and GITHUB_REPO.sub(url, readme.read_text()) != readme.read_text():
        readme.write_text(GITHUB_REPO.sub(url, readme.read_text()))
        changed.append(readme)
    return changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="book.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="install a clone in Colab, adding only missing packages").add_argument("clone")
    sub.add_parser("sync", help="write book/_config.yml's repository URL into every chapter and the README")
    args = parser.parse_args(argv)
    if args.command == "install":
        added = install(args.clone)
        print("dfa_lafs installed" + (f"; added {', '.join(added)}" if added else "; nothing else was needed"))
    else:
        for path in sync():
            print(f"updated {path.name}")


if __name__ == "__main__":
    main()
