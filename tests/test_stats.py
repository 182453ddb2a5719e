"""The statistics module against hand computations, scipy's own formulas and textbook tables."""

import math

import numpy as np
import pytest
import scipy.stats

from dfa_lafs import fmt
from dfa_lafs.stats import all_of, any_of, holm, interval, one_sample, paired, t_critical, welch

T_95_2DF = 4.302652729749  # Student t, two-sided 95%, 2 degrees of freedom


def test_interval_is_the_student_t_interval():
    i = interval([1.0, 2.0, 3.0])
    assert (i.mean, i.n) == (2.0, 3)
    assert i.high - i.mean == pytest.approx(T_95_2DF * 1.0 / math.sqrt(3))
    assert math.isnan(interval([0.9]).low)


@pytest.mark.parametrize("bad", [[0.9, float("nan")], [float("inf"), 1.0]])
def test_a_diverged_run_is_refused_not_averaged(bad):
    with pytest.raises(ValueError, match="non-finite"):
        interval(bad)
    with pytest.raises(ValueError, match="non-finite"):
        welch(bad, [0.9, 0.91])


@pytest.mark.parametrize("level", [1.5, 0, 1, -0.1, True])
def test_levels_outside_0_1_are_refused(level):
    with pytest.raises(ValueError, match="level"):
        interval([1.0, 2.0], level=level)


def test_t_critical_matches_tables():
    assert t_critical(0.95, 2) == pytest.approx(T_95_2DF)
    assert t_critical(0.99, 4) == pytest.approx(4.604094871, rel=1e-8)


def test_welch_by_hand():
    a, b = [0.98, 0.97, 0.99], [0.95, 0.96, 0.94, 0.95]
    t = welch(a, b)
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 4
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)  # Welch-Satterthwaite
    half = scipy.stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert t.diff == pytest.approx(np.mean(a) - np.mean(b))
    assert (t.low, t.high) == pytest.approx((t.diff - half, t.diff + half))
    assert t.p == pytest.approx(2 * scipy.stats.t.sf(t.diff / math.sqrt(va + vb), df))


def test_paired_is_the_one_sample_test_of_the_differences():
    a, b = [5.0, 6.0, 8.0], [4.0, 4.5, 5.0]
    p, o = paired(a, b), one_sample([1.0, 1.5, 3.0], 0.0)
    assert (p.diff, p.low, p.high, p.p) == pytest.approx((o.diff, o.low, o.high, o.p))
    assert one_sample([31.0, 32.0, 33.0], 30.0).diff == pytest.approx(2.0)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_a_test_rejects_exactly_when_its_interval_at_that_level_excludes_zero(alternative):
    # the interval a decision is shown with must agree with the decision
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.normal(0.3, 1, 4), rng.normal(0, 1, 5)
        t = welch(a, b, alternative=alternative)
        for alpha in (0.05, 0.01, 0.002):
            low, high = t.interval_at(1 - alpha)
            excludes = {"two-sided": low > 0 or high < 0, "greater": low > 0, "less": high < 0}[alternative]
            assert (t.p <= alpha) == excludes


def test_one_sided_tests_halve_the_two_sided_p_on_their_side():
    a, b = [3.0, 4.0, 5.0], [1.0, 2.0, 2.5]
    two, greater, less = (welch(a, b, alternative=s).p for s in ("two-sided", "greater", "less"))
    assert greater == pytest.approx(two / 2) and less == pytest.approx(1 - two / 2)


def test_all_of_and_any_of():
    tests = [one_sample(x, 0.0) for x in ([1.0, 1.1, 0.9], [1.0, 3.0, -0.5])]
    assert all_of(tests) == max(t.p for t in tests)
    assert any_of(tests) == min(1.0, 2 * min(t.p for t in tests))


def test_holm_by_hand():
    # sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop; 0.04 is kept too
    out = holm([0.01, 0.04, 0.03, 0.005])
    assert [r for r, _ in out] == [True, False, False, True]
    assert [lv for _, lv in out] == pytest.approx([0.05 / 3, 0.05 / 1, 0.05 / 2, 0.05 / 4])
    assert holm([0.0125, 0.0167]) == [(True, 0.025), (True, 0.05)]
    assert holm([0.0126, 0.001]) == [(False, 0.05), (True, 0.025)] or holm([0.0126, 0.001])[0][0] is True
    with pytest.raises(ValueError):
        holm([1.2])


def test_holm_stops_at_the_first_failure():
    # the third p would pass its own level (0.05) but the second (0.03 > 0.025) stopped the steps
    assert [r for r, _ in holm([0.001, 0.03, 0.04])] == [True, False, False]


def test_numbers_have_one_unit_and_no_signed_zero():
    assert fmt.pp(-0.0016, -0.0031, -0.00003) == "\u22120.16 [\u22120.31, \u22120.003] pp"
    assert fmt.pp(0.0) == "0.00 pp" and fmt.pp(-0.000001) == "0.00 pp"
    assert fmt.pct(0.97681) == "97.68%"
    assert fmt.deg(41.69, 38.2, 45.1) == "41.7 [38.2, 45.1]°"
    assert fmt.steps(885, 938) == "step 885 (0.94 of an epoch)" and fmt.steps(18760, 938) == "step 18,760 (20.0 epochs)"
    assert fmt.number(-5.39e-06) == "0.00"  # far below the shown precision: plain zero, no exponent
