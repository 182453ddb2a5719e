"""How the book writes a number: one unit per quantity, the same decimals everywhere.

Accuracies in percent (97.68%), differences of accuracy in percentage points (+0.16 pp),
angles in degrees (41.7°), training time in steps with its share of an epoch. A value that
rounds to zero is written without a sign ("0.00", never "-0.00"); a bound that rounds to zero
but is not zero gets one more decimal, so its side of zero stays visible ("-0.003").
"""

from __future__ import annotations

import math

MINUS = "\N{MINUS SIGN}"


def number(x: float, digits: int = 2, sign: bool = False, _extra: bool = True) -> str:
    """`x` with `digits` decimals, a real minus sign, and no signed zero; a value that rounds to
    zero gets one more decimal if that shows it ("-0.003"), else it is a plain "0.00"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"
    if float(text) == 0:
        return number(x, digits + 1, sign, _extra=False) if _extra and x != 0 and round(x, digits + 1) != 0 \
            else f"{0:.{digits}f}"
    return text.replace("-", MINUS)


def with_interval(mean: float, low: float, high: float, digits: int = 2, sign: bool = False, unit: str = "") -> str:
    """'mean [low, high] unit'."""
    body = f"{number(mean, digits, sign)} [{number(low, digits, sign)}, {number(high, digits, sign)}]"
    return f"{body}{unit}"


def pct(accuracy: float, low: float | None = None, high: float | None = None) -> str:
    """An accuracy (a fraction) in percent: '97.68%' or '97.68 [97.50, 97.86]%'."""
    if low is None:
        return f"{number(100 * accuracy)}%"
    return with_interval(100 * accuracy, 100 * low, 100 * high, unit="%")


def pp(diff: float, low: float | None = None, high: float | None = None) -> str:
    """A difference of accuracies (fractions) in percentage points: '+0.16 [-0.02, +0.34] pp'."""
    if low is None:
        return f"{number(100 * diff, sign=True)} pp"
    return with_interval(100 * diff, 100 * low, 100 * high, sign=True, unit=" pp")


def deg(angle: float, low: float | None = None, high: float | None = None, sign: bool = False) -> str:
    """An angle in degrees, one decimal: '41.7°' or '41.7 [38.2, 45.1]°'."""
    if low is None:
        return f"{number(angle, 1, sign)}°"
    return with_interval(angle, low, high, 1, sign, unit="°")


def steps(step: int, steps_per_epoch: int) -> str:
    """'step 782 (1.0 epochs)'; below one epoch, the share of it: 'step 196 (a quarter epoch)'."""
    epochs = step / steps_per_epoch
    if step == 0:
        return "step 0 (initialization)"
    if epochs < 1:
        return f"step {step:,} ({number(epochs, 2)} of an epoch)"
    return f"step {step:,} ({number(epochs, 1)} epochs)"


def listing(items: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]
