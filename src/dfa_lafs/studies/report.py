"""What the book says about each claim, in sentences built from the studies' numbers.

`findings()` is the first page's list (one sentence per claim, its key number with a 95%
interval and a unit, a link to the chapter); `verdict_markdown(claim)` is the block a chapter
shows under its evidence: the verdict under the current rule, the rule, and the verdict under
the rule as first written when it differs. Both are Markdown for `book.show`, so they read the
same in the HTML book and in Colab.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import headline, registration, rules, verdict
from .scorecard import rows


README = Path(__file__).resolve().parents[3] / "README.md"
MARKS = ("<!-- findings: written by `python -m dfa_lafs.studies.report` -->", "<!-- end of findings -->")


def _link(chapter: str, text: str, prefix: str = "") -> str:
    return f"[{text}]({prefix}{chapter}.ipynb)"


def findings(prefix: str = "") -> str:
    """The book's findings, one line per scorecard row, in row order (links to chapters under `prefix`)."""
    lines = []
    for r in rows():
        v = verdict(r["claim"])
        if r["claim"] == "open_question_width100":
            study = verdict("open_question")
            lines.append(f"- Can DFA or LAFS beat one hidden layer (the paper's open question)? **{study.words}** "
                         f"({_link('08_open_question', 'study', prefix)}; {study.evidence.number}).")
            continue
        lead = v.words.split(":")[0]
        rest = headline(v) or v.words[len(lead) + 1:].strip()
        lines.append(f"- {r['title']}: **{lead}**. {rest} ({_link(r['chapter'], 'evidence', prefix)})")
    return "\n".join(lines)


def in_short(*claims: str) -> str:
    """A chapter's opening list: per claim its title, the lead of its verdict and its headline."""
    return "\n".join(f"- {registration()['claims'][c]['title']}: **{verdict(c).words.split(':')[0]}**. "
                     f"{headline(verdict(c))}" for c in claims)


def verdict_markdown(claim: str) -> str:
    """The verdict block of a claim: current verdict and rule, first rule's verdict if different."""
    history = rules(claim)
    current, first = verdict(claim), verdict(claim, history[0].version)
    spec = current.rule.spec
    family = spec.get("family")
    corrected = (f", Holm-corrected over the {family} family" if family else "")
    test = " ".join(str(spec.get("test", "")).split())
    if len(test.split()) < 3:  # a one-word test name: say the whole rule
        test = " ".join(str(spec.get("sentence", test)).split())
    out = [f"**Verdict** (rule {current.rule.version} of {len(history)}, registered {spec['registered']}): "
           f"**{current.words}**.",
           f"*The rule:* {test.rstrip('.')}. Significance level "
           f"{spec.get('alpha', 'none')}{corrected}."]
    if len(history) > 1:
        when = history[0].spec.get("commit", "")
        out.append(f"*Under the rule as first written* ({history[0].spec['registered']}, commit {when}): "
                   f"{first.words}. {' '.join(str(spec.get('reason', '')).split())}")
    return "\n\n".join(out)


def readme_section() -> str:
    return f"{MARKS[0]}\n{findings(prefix='book/')}\n{MARKS[1]}"


def write_readme(path: Path = README) -> bool:
    """Replace the README's findings section with the library's; True if it changed."""
    text = path.read_text()
    start, end = text.index(MARKS[0]), text.index(MARKS[1]) + len(MARKS[1])
    new = text[:start] + readme_section() + text[end:]
    path.write_text(new)
    return new != text


if __name__ == "__main__":  # python -m dfa_lafs.studies.report: rewrite the README's findings
    print("README findings " + ("updated" if write_readme() else "already current"), file=sys.stderr)
