"""The README states the book's verdicts: they must be the ones the scorecard chapter computed.

The scorecard (book/12_scorecard.ipynb) glues each verdict from the stored runs; nbval checks
that its stored outputs are what the code computes today. This test checks the README quotes
those stored outputs word for word, so the two cannot drift apart.
"""

import ast
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
VERDICTS = ("v_readouts", "v_alignment", "v_thesis", "v_condition", "v_open", "v_depth", "v_linear", "v_long",
            "v_robust", "v_width")


def glued(notebook: Path) -> dict[str, str]:
    """name -> value of every `glue(...)` output stored in an executed notebook."""
    out = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            text = output.get("data", {}).get("application/papermill.record/text/plain")
            if name and text is not None:
                out[name] = ast.literal_eval(text) if text[:1] in "'\"" else text
    return out


def test_readme_quotes_the_scorecards_verdicts():
    verdicts = glued(REPO / "book" / "12_scorecard.ipynb")
    readme = " ".join((REPO / "README.md").read_text().split())
    missing = [name for name in VERDICTS if name not in verdicts]
    assert not missing, f"the scorecard's stored outputs lack {missing}: execute book/12_scorecard.ipynb"
    for name in VERDICTS:
        assert verdicts[name] in readme, f"README does not state the scorecard's {name}: {verdicts[name]!r}"
