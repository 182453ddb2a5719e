"""dfa_lafs.book: show, Checks, the plotly bundle, the install step's input."""

import sys
import types

import pytest
import torch

from dfa_lafs import book


def test_show_displays_markdown_that_colab_and_the_book_both_render(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    book.show("DFA reaches **97.5%**")
    assert shown[0]._repr_markdown_() == "DFA reaches **97.5%**"


def test_checks_pass_record_and_print_a_round_off_free_line(capsys):
    check = book.Checks(tol=1e-9)
    a = torch.rand(3, 4, dtype=torch.float64)
    assert check("same", a, a + 1e-12) is None  # nothing for Jupyter to display after the line
    assert capsys.readouterr().out == "same: max |error| < 1e-09: True\n"
    assert list(check.table().index) == ["same"] and check.table()["max |error|"].iloc[0] == "1.0e-12"


@pytest.mark.parametrize("want, error", [(torch.ones(3) * 2, AssertionError),
                                         (torch.full((3,), float("nan")), AssertionError),
                                         (torch.ones(4), ValueError)])
def test_checks_fail_on_disagreement_nan_and_shape(want, error):
    with pytest.raises(error):
        book.Checks()("x", torch.ones(3), want)


def test_checks_reject_a_nonpositive_tolerance():
    with pytest.raises(ValueError, match="tol must be > 0"):
        book.Checks(tol=0)


def test_show_plotly_carries_no_plotly_js_outside_colab(monkeypatch):
    go = pytest.importorskip("plotly.graph_objects")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    book.show_plotly(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    (bundle,) = shown
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/html"}
    assert "Plotly.newPlot" in bundle["text/html"] and "cdn.plot.ly" not in bundle["text/html"]
    assert len(bundle["text/html"]) < 100_000  # the figure, not a 4 MB copy of plotly.js


def test_install_refuses_a_folder_that_is_not_a_clone(tmp_path):
    with pytest.raises(SystemExit, match="not a clone of the repository"):
        book.install(tmp_path)


def test_sync_changes_nothing_in_a_consistent_book():
    assert book.sync() == []


def test_sync_moves_every_chapter_and_the_readme_to_a_new_url(tmp_path):
    import shutil

    shutil.copytree(book.BOOK, tmp_path / "book", ignore=shutil.ignore_patterns("_build"))
    shutil.copy(book.BOOK.parent / "README.md", tmp_path / "README.md")
    config = tmp_path / "book" / "_config.yml"
    config.write_text(config.read_text().replace(book.repository_url(), "https://github.com/someone/fork"))
    changed = book.sync(tmp_path / "book")
    assert len(changed) == len(list(book.BOOK.glob("[0-9]*.ipynb"))) + 1
    for path in changed:
        text = path.read_text()
        assert "someone/fork" in text and book.repository_url() not in text, path.name
