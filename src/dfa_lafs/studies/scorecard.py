"""The scorecard: every registered claim with its verdict under the current rule, its number,
and the verdict its first rule gave, so that a reader sees every amendment and what it changed.
"""

from __future__ import annotations

import pandas as pd

from . import claims, registration, rules, verdict


def _short(words: str) -> str:
    """The verdict's lead: the words before the first colon ("holds early only", "undecided")."""
    return words.split(":")[0].strip()


def rows() -> list[dict]:
    """One dict per scorecard row, in row order: the claim, its chapter, the current and the
    first rule's verdicts, the number, and the rule history."""
    out = []
    for claim in claims():
        spec = registration()["claims"][claim]
        if "row" not in spec:
            continue
        history = rules(claim)
        current, first = verdict(claim), verdict(claim, history[0].version)
        chapter, lead = spec["chapter"], _short(current.words)
        if current.key == "superseded":  # the answer is the registered study's, in its own chapter
            study = verdict("open_question")
            chapter, lead = "08_open_question", _short(study.words) if ":" in study.words[:40] else study.words
        out.append({"row": spec["row"], "claim": claim, "title": spec["title"], "chapter": chapter,
                    "verdict": current.words, "lead": lead, "number": current.evidence.number
                    or first.evidence.number, "first_verdict": first.words, "changed": _short(first.words) !=
                    _short(current.words), "rules": [(r.version, str(r.spec["registered"]), r.spec.get("commit"),
                                                      r.spec.get("reason", "").strip()) for r in history],
                    "family": current.rule.family})
    return sorted(out, key=lambda r: r["row"])


def table_markdown() -> str:
    """The scorecard as a Markdown table that fits a text column: per row the claim, the lead of
    its verdict under the current and under the first rule, and a link to the evidence."""
    lines = ["| # | claim | verdict | under the first rule | evidence |", "|---|---|---|---|---|"]
    for r in rows():
        first = _short(r["first_verdict"])
        lines.append(f"| {r['row']} | {r['title']} | **{r['lead']}** | {first if r['changed'] else 'the same'} | "
                     f"[{r['chapter'][3:].replace('_', ' ')}]({r['chapter']}.ipynb) |")
    return "\n".join(lines)


def history_markdown() -> str:
    """Every claim's rules in the order they were written, with the verdict each gives today."""
    from . import verdict

    out = []
    for r in rows():
        out.append(f"**{r['row']}. {r['title']}**")
        for version, date, commit, reason in r["rules"]:
            v = verdict(r["claim"], version)
            where = f", commit {commit}" if commit else ""
            why = f" *Why amended:* {reason}" if reason else ""
            out.append(f"- Rule {version} ({date}{where}): {v.words}.{why}")
        out.append("")
    return "\n".join(out)


def tests_table(claim: str) -> pd.DataFrame:
    """The tests of a claim's current rule after its family's correction: p, the Holm level of
    its step, and whether it was rejected."""
    v = verdict(claim)
    return pd.DataFrame([{"test": name, "p": d.p, "Holm level": d.level, "rejected": d.reject}
                         for name, d in v.decisions.items()])


def registration_table() -> pd.DataFrame:
    """Every claim of preregistration.yaml: how many rules, when the first was written (its commit),
    when it was last amended, and the family its current rule is corrected in."""
    out = []
    for claim in claims():
        h = rules(claim)
        first = h[0].spec
        out.append({"claim": registration()["claims"][claim].get("title") or "The open question (the registered study)",
                    "rules": len(h), "first written": f"{first['registered']}" + (f" ({first['commit']})"
                                                                                 if first.get("commit") else ""),
                    "last amended": str(h[-1].spec["registered"]) if len(h) > 1 else "never",
                    "family": h[-1].family or "none"})
    return pd.DataFrame(out)
