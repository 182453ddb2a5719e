"""Claims as code: every verdict of the book, computed from stored runs by its registered rule.

`preregistration.yaml` holds, for each claim, its rules in the order they were written (the
first as first committed, then the amendments). Each rule names the function of a study module
that implements it (`figure1.readouts`, `depth.linear_v1`, ...). A rule function turns stored
runs into `Evidence`: the named tests the rule decides with, and a `decide` function that maps
their outcome to one of the rule's registered verdict keys. The words come from the YAML.

Rules under a correction put their tests in a family; `verdicts()` corrects each family with
Holm's method (`stats.holm`) before any rule decides. So a verdict is: tests -> family
correction -> decision -> registered words, and nothing in a chapter can change it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..stats import Test, holm

REGISTRATION = Path(__file__).resolve().parents[3] / "preregistration.yaml"


@dataclass(frozen=True)
class Combined:
    """A test made of several (`stats.all_of` or `stats.any_of`): its p-value and its parts."""

    p: float
    parts: tuple[Test, ...]
    how: str  # "all" or "any"


@dataclass(frozen=True)
class Decision:
    """A test after its family's correction: rejected or not, at the level of its Holm step."""

    test: Test | Combined
    reject: bool
    level: float  # alpha_j of the test's Holm step (alpha itself without a correction)

    @property
    def p(self) -> float:
        return self.test.p


@dataclass
class Evidence:
    """What a rule computed: its tests (by name), how it decides, and what the book shows."""

    decide: Callable[[dict[str, Decision]], tuple[str, dict]]
    tests: dict[str, Test | Combined] = field(default_factory=dict)
    number: str = ""  # the numbers behind the verdict, with units and intervals
    table: object = None  # a pandas DataFrame for the chapter, or None
    # One short sentence with the key number for the book's first page; a function of the
    # decisions when its interval must be the one the corrected decision was made at.
    headline: str | Callable[[dict[str, Decision]], str] = ""


@dataclass(frozen=True)
class Rule:
    """One registered rule of a claim (a version): its fields in the registration."""

    claim: str
    version: int
    spec: dict

    @property
    def family(self) -> str | None:
        return self.spec.get("family")

    def words(self, key: str, details: dict) -> str:
        """The registered words for `key`, filled with `details`. "composed" is a sentence the rule
        function built from registered phrases (a verdict per rule and width, for example)."""
        if key == "composed":
            return details["text"]
        verdicts = self.spec["verdicts"]
        if key not in verdicts:
            raise KeyError(f"rule {self.version} of claim {self.claim!r} has no verdict {key!r}; registered: "
                           f"{sorted(verdicts)}")
        return verdicts[key].format(**details)

    def evidence(self) -> Evidence:
        # a claim registered without `function` is computed by the module and function of its name
        module, name = self.spec.get("function", f"{self.claim}.{self.claim}").rsplit(".", 1)
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)(self)


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict under one of its rules."""

    rule: Rule
    key: str
    words: str
    evidence: Evidence
    decisions: dict[str, Decision]

    @property
    def claim(self) -> str:
        return self.rule.claim


@functools.lru_cache(maxsize=4)
def registration(path: str | None = None) -> dict:
    """The registration file as read (claims and families)."""
    return yaml.safe_load(Path(path or REGISTRATION).read_text())


def rules(claim: str, path: str | None = None) -> list[Rule]:
    """A claim's rules, first written first. A claim registered once (no `rules:` list) has one."""
    spec = registration(path)["claims"][claim]
    versions = spec.get("rules") or [{**spec, "version": 1}]
    return [Rule(claim, v["version"], v) for v in versions]


def claims(path: str | None = None) -> list[str]:
    return list(registration(path)["claims"])


def _decide(rule: Rule, evidence: Evidence, decisions: dict[str, Decision]) -> Verdict:
    key, details = evidence.decide(decisions)
    return Verdict(rule, key, rule.words(key, details), evidence, decisions)


@functools.lru_cache(maxsize=4)
def verdicts(path: str | None = None) -> dict[tuple[str, int], Verdict]:
    """Every rule of every claim, decided: {(claim, version): Verdict}.

    Each family's tests (of every rule that names the family) are corrected together by Holm's
    method at the family's alpha; a rule without a family decides on its own tests at its own
    alpha (or, for the uncorrected first rules, on its own intervals).
    """
    families = registration(path)["families"]
    everything = [(rule, rule.evidence()) for claim in claims(path) for rule in rules(claim, path)]
    decisions: dict[tuple[str, int], dict[str, Decision]] = {}
    for name, family in families.items():
        members = [(rule, ev) for rule, ev in everything if rule.family == name]
        tests = [((rule.claim, rule.version), test_name, test) for rule, ev in members
                 for test_name, test in ev.tests.items()]
        for (owner, test_name, test), (reject, level) in zip(
                tests, holm([t.p for _, _, t in tests], family["alpha"]) if tests else []):
            decisions.setdefault(owner, {})[test_name] = Decision(test, reject, level)
    out = {}
    for rule, ev in everything:
        own = decisions.get((rule.claim, rule.version), {})
        if rule.family is None and ev.tests:
            alpha = float(rule.spec.get("alpha", 0.05))
            own = {n: Decision(t, t.p <= alpha, alpha) for n, t in ev.tests.items()}
        out[rule.claim, rule.version] = _decide(rule, ev, own)
    for (claim, version), v in list(out.items()):  # a rule that quotes another claim's answer
        source = getattr(v.evidence, "answer_from", None)
        if source:
            answer = out[source, rules(source, path)[-1].version].words
            out[claim, version] = Verdict(v.rule, v.key, v.words.replace("{answer}", answer), v.evidence, v.decisions)
    return out


def verdict(claim: str, version: int | None = None, path: str | None = None) -> Verdict:
    """A claim's verdict under its current rule (the last registered), or under `version`."""
    versions = rules(claim, path)
    return verdicts(path)[claim, version if version is not None else versions[-1].version]


def corrected(decision: Decision, part: int | None = None) -> tuple[float, float, float]:
    """(difference, low, high) of a test, or of one part of a combined test, with the interval at
    the level its decision was made at: 1 - alpha_j for a test at Holm step j (a one-sided test
    shows the two-sided interval at 1 - 2 alpha_j); a part of an "all" test at alpha_j too, a
    part of an "any" test of k parts at alpha_j / k (Bonferroni). Such an interval excludes 0
    exactly when the corrected test rejects."""
    test, level = decision.test, decision.level
    if isinstance(test, Combined):
        if part is None:
            raise ValueError("a combined test has no single interval: name one of its parts")
        test, level = test.parts[part], level / (len(test.parts) if test.how == "any" else 1)
    return (test.diff, *test.interval_at(1 - level))


def headline(v: Verdict) -> str:
    """The verdict's headline sentence (see `Evidence.headline`)."""
    h = v.evidence.headline
    return h(v.decisions) if callable(h) else h
