"""The DFA_LAFS_* environment variables, all read one way.

An empty (or blank) variable means the same as an unset one: its default. Flags accept
1/true/yes/on and 0/false/no/off (any case), empty meaning off; anything else is an error that
names the variable, never a guess. Every variable is read when it is used, not at import.

| variable | what | default |
| --- | --- | --- |
| DFA_LAFS_DATA | dataset root (torchvision's layout) | ~/.cache/dfa_lafs |
| DFA_LAFS_CACHE | where .gz files are decompressed | ~/.cache/dfa_lafs/extracted |
| DFA_LAFS_RESULTS | the stored results the book reads | the repository's results/ |
| DFA_LAFS_TRACEBACK | show Python tracebacks of CLI errors | off |
"""

from __future__ import annotations

import os
from pathlib import Path

DATA = "DFA_LAFS_DATA"
CACHE = "DFA_LAFS_CACHE"
RESULTS = "DFA_LAFS_RESULTS"
TRACEBACK = "DFA_LAFS_TRACEBACK"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def text(name: str) -> str | None:
    """The variable's value, or None when it is unset, empty or blank."""
    value = os.environ.get(name, "")
    return value if value.strip() else None


def path(name: str) -> Path | None:
    """The variable as a path (with ~ expanded), or None when it is unset or empty."""
    value = text(name)
    return Path(value).expanduser() if value is not None else None


def flag(name: str) -> bool:
    """True for 1/true/yes/on, False for 0/false/no/off or unset/empty; else a ValueError naming it."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is not a yes/no value: use 1, true, yes, on or 0, false, no, "
                     f"off (empty means off)")
