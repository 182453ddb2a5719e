"""Sweep and notebook parameters, checked against RunConfig's field types.

Papermill passes values through untyped (`-p lr 1` arrives as int, `-p lr fast` as str) and
only warns about unknown names; YAML 1.1 reads `1e-2` as a string. Both reach RunConfig
through `config_from_parameters`, which turns each such slip into one readable line.
"""

from __future__ import annotations

import difflib
import types
import typing

from ..config import RunConfig, field_names

# Notebook parameters that are not RunConfig fields: where to save, and how many CPU threads.
NOTEBOOK_ONLY = {"result_path": str, "threads": int}


def parameter_types() -> dict[str, object]:
    """Each accepted parameter name -> its type hint (RunConfig's fields plus NOTEBOOK_ONLY)."""
    hints = typing.get_type_hints(RunConfig)
    return {**{name: hints[name] for name in field_names()}, **NOTEBOOK_ONLY}


def check_parameters(params: dict) -> list[str]:
    """One message per unknown name or mistyped value in `params` (empty: all fine)."""
    types_ = parameter_types()
    problems = []
    for name, value in params.items():
        if name not in types_:
            close = difflib.get_close_matches(name, types_, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(types_)}"
            problems.append(f"unknown parameter {name!r} ({hint})")
        elif not _has_type(value, types_[name]):
            problems.append(_type_message(name, value, types_[name]))
    return problems


def config_from_parameters(params: dict) -> RunConfig:
    """A RunConfig from notebook or grid parameters, with one-line errors papermill would not give.

    Ints for float fields are converted, so `lr: 1` and `lr: 1.0` are the same run with the
    same key. NOTEBOOK_ONLY names are checked and left out of the config.
    """
    problems = check_parameters(params)
    if problems:
        raise ValueError("bad parameters: " + "; ".join(problems))
    hints = parameter_types()
    fields = {name: float(value) if hints[name] is float else value
              for name, value in params.items() if name not in NOTEBOOK_ONLY}
    return RunConfig.from_dict(fields)


def _has_type(value, hint) -> bool:
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:  # tuple[int, ...]: a list of ints from YAML or papermill
        item = typing.get_args(hint)[0]
        return isinstance(value, (list, tuple)) and all(_has_type(v, item) for v in value)
    raise TypeError(f"no type check for {hint!r}")  # a new RunConfig field type: teach _has_type


def _describe(hint) -> str:
    names = {float: "a number", bool: "true or false", int: "an int", str: "a string", type(None): "None"}
    if hint in names:
        return names[hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    return f"a list of {getattr(typing.get_args(hint)[0], '__name__', 'value')}s"  # tuple[int, ...]: ints


def _type_message(name: str, value, hint) -> str:
    message = f"{name} must be {_describe(hint)}, got {type(value).__name__} {value!r}"
    if isinstance(value, str) and _looks_numeric(value):
        message += " (YAML reads 1e-2 as a string: write 1.0e-2 or 0.01)"
    elif isinstance(value, str) and typing.get_origin(hint) is tuple:
        message += f" (papermill -p passes strings: use -y '{name}: [32, 32]')"
    return message


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
