"""Executable companion to Gilmer et al. (2017), "Explaining the Learning Dynamics of
Direct Feedback Alignment": BP, FA, DFA and LAFS on MLPs, with the measurements of Figure 1.

The names below are imported on first use, not with the package: `python -m dfa_lafs` then
starts in its own code, where Ctrl-C during the seconds that importing torch takes is one line,
not an import traceback.
"""

__version__ = "0.1.0"

_EXPORTS = {"RunConfig": "config", "paper_config": "config", "Result": "results", "ResultError": "results",
            "load_result": "results", "run": "train"}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
