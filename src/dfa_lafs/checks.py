"""Argument checks shared by the public functions: one-line ValueErrors that name the argument.

Numbers may be Python's or numpy's (`np.float64(0.1)`, `np.int64(3)`); a bool is not a number
here. Each check returns the value as a plain Python int or float, which equals what was given
(float(np.float32(0.1)) is 0.10000000149011612, the value the float32 holds). These checks only
refuse or convert exactly, so they cannot change a number that the training code computes; that
is why this module is not among the hashed modules of `results.HASHED_MODULES`.
"""

from __future__ import annotations

import math
import numbers

import torch


class ArgumentError(ValueError):
    """A value that a function or RunConfig refuses; `fields` names the arguments at fault."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()):
        super().__init__(message)
        self.fields = fields


def integer(name: str, value, minimum: int = 1) -> int:
    """`value` as an int >= `minimum` (Python or numpy integers; not bools, not floats)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "a positive int" if minimum == 1 else "a non-negative int" if minimum == 0 else f"an int >= {minimum}"
        raise ArgumentError(f"{name} must be {kind}, got {value!r}", (name.split("[")[0],))
    if value < minimum:
        kind = "a positive int" if minimum == 1 else "a non-negative int" if minimum == 0 else f"an int >= {minimum}"
        raise ArgumentError(f"{name} must be {kind}, got {value!r}", (name.split("[")[0],))
    return int(value)


def real(name: str, value) -> float:
    """`value` as a float (Python or numpy reals; not bools, not strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number, got {type(value).__name__} {value!r}", (name,))
    return float(value)


def positive(name: str, value) -> float:
    """A finite number > 0."""
    value = real(name, value)
    if not value > 0:
        raise ArgumentError(f"{name} must be > 0, got {value!r}", (name,))
    if not math.isfinite(value):
        raise ArgumentError(f"{name} must be finite, got {value!r}", (name,))
    return value


def fraction(name: str, value) -> float:
    """A number in [0, 1) (a momentum)."""
    value = real(name, value)
    if not 0 <= value < 1:
        raise ArgumentError(f"{name} must be a number in [0, 1), got {value!r}", (name,))
    return value


def fits(name: str, value: float, dtype: str) -> None:
    """`value` (> 0) must neither overflow nor round to 0 in `dtype`, in which the run computes with it."""
    info = torch.finfo(getattr(torch, dtype))
    if value > info.max:
        raise ArgumentError(f"{name} {value:g} does not fit in {dtype} (largest {info.max:.3g}); use a smaller "
                            f"{name}" + (" or dtype float64" if dtype != "float64" else ""), (name,))
    if float(torch.tensor(value, dtype=getattr(torch, dtype))) == 0:
        raise ArgumentError(f"{name} {value:g} rounds to 0 in {dtype} (smallest {info.smallest_normal:.3g}); use a "
                            f"larger {name}" + (" or dtype float64" if dtype != "float64" else ""), (name,))


def choice(name: str, value, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ArgumentError(f"{name} must be one of {', '.join(options)}; got {value!r}", (name,))
    return value
