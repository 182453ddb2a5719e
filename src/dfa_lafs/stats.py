"""The statistics behind every verdict: intervals, t-tests, and the Holm correction.

Everything is a thin, validated layer over scipy.stats. A `Test` keeps its samples, so its
confidence interval can be re-read at the level a multiple-comparison step asks for
(`Test.interval_at`). Samples with a NaN or an infinity (a diverged run) are refused: a test
on them would silently drop or propagate the bad value and still return words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

LEVEL = 0.95
ALTERNATIVES = ("two-sided", "greater", "less")


def _sample(values: Iterable[float], name: str) -> np.ndarray:
    x = np.asarray(list(values), dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a flat list of numbers, got shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"{name} holds {int(bad.sum())} non-finite value(s) (a diverged run?): {x.tolist()}; "
                         f"drop or rerun those runs before testing")
    return x


def _level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ValueError(f"level must be a confidence level in (0, 1) such as 0.95, got {level!r}")
    return float(level)


def t_critical(level: float, df: int) -> float:
    """t such that P(|T| <= t) = level for Student's t with df degrees of freedom."""
    level = _level(level)
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df must be a positive int, got {df!r}")
    return float(scipy.stats.t.ppf((1 + level) / 2, df))


@dataclass(frozen=True)
class Interval:
    """The mean of n values with its two-sided Student-t confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int


def interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """Student-t interval of the mean; the bounds are NaN with fewer than 2 values (no spread)."""
    x, level = _sample(values, "values"), _level(level)
    if len(x) == 0:
        raise ValueError("interval of no values")
    if len(x) < 2:
        return Interval(float(x[0]), math.nan, math.nan, 1)
    half = t_critical(level, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), len(x))


@dataclass(frozen=True)
class Test:
    """A t-test of a difference `diff` (a - b, or x - value): its p-value and interval at `level`.

    kind: "welch" (two independent samples), "paired" or "one-sample". For a one-sided test
    (alternative "greater" or "less") the interval shown is the two-sided one at level
    1 - 2 (1 - level), which excludes 0 on the tested side exactly when the test rejects.
    """

    kind: str
    diff: float
    low: float
    high: float
    p: float
    n: tuple[int, ...]
    alternative: str
    level: float
    samples: tuple[tuple[float, ...], ...]
    value: float = 0.0

    def interval_at(self, level: float) -> tuple[float, float]:
        """The interval of `diff` at another confidence level (e.g. a Holm step's)."""
        return _run(self.kind, *self.samples, value=self.value, level=level, alternative=self.alternative)[2:4]


def _run(kind, a, b=None, *, value=0.0, level=LEVEL, alternative="two-sided"):
    shown = _level(1 - 2 * (1 - level)) if alternative != "two-sided" else level
    if kind == "welch":
        test = scipy.stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
        ci = scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(shown)
        diff = float(np.mean(a) - np.mean(b))
    else:
        x = np.asarray(a) - np.asarray(b) if kind == "paired" else np.asarray(a)
        test = scipy.stats.ttest_1samp(x, value, alternative=alternative)
        ci = scipy.stats.ttest_1samp(x, value).confidence_interval(shown)
        diff = float(np.mean(x) - value)
        ci = type(ci)(ci.low - value, ci.high - value)
    return diff, float(test.pvalue), float(ci.low), float(ci.high)


def _test(kind, a, b=None, value=0.0, level=LEVEL, alternative="two-sided") -> Test:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
    level = _level(level)
    samples = (a,) if b is None else (a, b)
    diff, p, low, high = _run(kind, *samples, value=value, level=level, alternative=alternative)
    return Test(kind, diff, low, high, p, tuple(len(s) for s in samples), alternative, level,
                tuple(tuple(map(float, s)) for s in samples), float(value))


def welch(a: Iterable[float], b: Iterable[float], level: float = LEVEL, alternative: str = "two-sided") -> Test:
    """Welch's t-test of mean(a) - mean(b) (unequal variances), with its confidence interval."""
    a, b = _sample(a, "a"), _sample(b, "b")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's test needs at least 2 runs on each side, got {len(a)} and {len(b)}")
    return _test("welch", a, b, level=level, alternative=alternative)


def paired(a: Iterable[float], b: Iterable[float], level: float = LEVEL, alternative: str = "two-sided") -> Test:
    """t-test of the mean of a_k - b_k (the same run or seed measured twice)."""
    a, b = _sample(a, "a"), _sample(b, "b")
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"a paired test needs two samples of the same length >= 2, got {len(a)} and {len(b)}")
    return _test("paired", a, b, level=level, alternative=alternative)


def one_sample(x: Iterable[float], value: float, level: float = LEVEL, alternative: str = "two-sided") -> Test:
    """t-test of mean(x) - value."""
    x = _sample(x, "x")
    if len(x) < 2:
        raise ValueError(f"a one-sample test needs at least 2 values, got {len(x)}")
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    return _test("one-sample", x, value=value, level=level, alternative=alternative)


def all_of(tests: Sequence[Test]) -> float:
    """p-value of "every one of these holds" (intersection-union test): the largest p."""
    if not tests:
        raise ValueError("all_of needs at least one test")
    return max(t.p for t in tests)


def any_of(tests: Sequence[Test]) -> float:
    """p-value of "at least one of these holds" (Bonferroni over the k tests): min(1, k min p)."""
    if not tests:
        raise ValueError("any_of needs at least one test")
    return min(1.0, len(tests) * min(t.p for t in tests))


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[tuple[bool, float]]:
    """Holm's step-down correction: for each p-value (in the given order), whether it is
    rejected and the significance level of its step, alpha / (m - j + 1) for the j-th smallest.

    The steps stop at the first p-value above its level: every larger one is kept too.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    p = [float(x) for x in pvalues]
    if any(not 0 <= x <= 1 for x in p):
        raise ValueError(f"p-values must be in [0, 1], got {p}")
    m, out, going = len(p), [None] * len(p), True
    for j, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        level = alpha / (m - j)
        going = going and p[i] <= level
        out[i] = (going, level)
    return out
