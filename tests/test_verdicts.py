"""No verdict is typed anywhere: the README, the chapters and the scorecard state exactly what the
library computes from preregistration.yaml, and no prose states a registered verdict by hand.

nbval checks that each chapter's stored outputs are what its code computes today; these tests
check that the stored outputs and the README carry the library's verdicts, so they cannot drift.
"""

from pathlib import Path

import nbformat
import pytest

from dfa_lafs.studies import claims, registration, report, rules, verdict, verdicts

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"


def stored_markdown(notebook: Path) -> str:
    """Every text/markdown output stored in an executed chapter, joined."""
    out = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            out.append(output.get("data", {}).get("text/markdown", ""))
    return "\n".join(out)


def prose(notebook: Path) -> str:
    return "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown")


def test_the_readme_states_the_librarys_findings():
    readme = (REPO / "README.md").read_text()
    assert report.readme_section() in readme, (
        "README's findings differ from the library's: run `python -m dfa_lafs.studies.report` and commit")


def test_each_chapter_shows_the_current_verdict_of_its_claims():
    for claim in claims():
        spec = registration()["claims"][claim]
        if "chapter" not in spec:
            continue
        shown = stored_markdown(BOOK / f"{spec['chapter']}.ipynb")
        assert verdict(claim).words in shown, f"{spec['chapter']} does not show the verdict of {claim!r}: re-execute it"


def test_the_scorecard_and_the_first_page_show_every_verdict():
    card, first = stored_markdown(BOOK / "12_scorecard.ipynb"), stored_markdown(BOOK / "01_introduction.ipynb")
    assert report.findings() in first
    for claim in claims():
        for rule in rules(claim):  # every rule's verdict, first and amended, is on the scorecard
            if "row" in registration()["claims"][claim]:
                assert verdicts()[claim, rule.version].words in card, (claim, rule.version)


@pytest.mark.parametrize("notebook", sorted(BOOK.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_no_prose_types_a_verdict(notebook):
    text = " ".join(prose(notebook).split())
    for v in verdicts().values():
        words = v.words.split(":")[0]
        if len(words.split()) >= 4:  # long enough to be a verdict rather than a common phrase
            assert words not in text, f"{notebook.name} types the verdict {words!r} in its prose"
