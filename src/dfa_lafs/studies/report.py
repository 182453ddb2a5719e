"""What the book says about each claim, in sentences built from the studies' numbers.

`findings()` is the first page's list (one sentence per claim, its key number with a 95%
interval and a unit, a link to the chapter); `verdict_markdown(claim)` is the block a chapter
shows under its evidence: the verdict under the current rule, the rule, and the verdict under
the rule as first written when it differs. Both are Markdown for `book.show`, so they read the
same in the HTML book and in Colab.
"""

from __future__ import annotations

from . import headline, rules, verdict
from .scorecard import rows


def _link(chapter: str, text: str) -> str:
    return f"[{text}]({chapter}.ipynb)"


def findings() -> str:
    """The book's findings, one line per scorecard row, in row order."""
    lines = []
    for r in rows():
        v = verdict(r["claim"])
        if r["claim"] == "open_question_width100":
            study = verdict("open_question")
            lines.append(f"- **Can DFA or LAFS beat one hidden layer?** (the paper's open question) "
                         f"{study.words} ({_link('08_open_question', 'study')}; {study.evidence.number}).")
            continue
        lead = v.words.split(":")[0]
        rest = headline(v) or v.words[len(lead) + 1:].strip()
        lines.append(f"- **{r['title']}**: {lead}. {rest} ({_link(r['chapter'], 'evidence')})")
    return "\n".join(lines)


def verdict_markdown(claim: str) -> str:
    """The verdict block of a claim: current verdict and rule, first rule's verdict if different."""
    history = rules(claim)
    current, first = verdict(claim), verdict(claim, history[0].version)
    spec = current.rule.spec
    family = spec.get("family")
    corrected = (f", Holm-corrected over the {family} family" if family else "")
    out = [f"**Verdict** (rule {current.rule.version} of {len(history)}, registered {spec['registered']}): "
           f"**{current.words}**.",
           f"*The rule:* {' '.join(str(spec.get('test', '')).split())} Significance level "
           f"{spec.get('alpha', 'none')}{corrected}."]
    if len(history) > 1:
        when = history[0].spec.get("commit", "")
        out.append(f"*Under the rule as first written* ({history[0].spec['registered']}, commit {when}): "
                   f"{first.words}. {' '.join(str(spec.get('reason', '')).split())}")
    return "\n\n".join(out)
