"""Executable companion to Gilmer et al. (2017), "Explaining the Learning Dynamics of
Direct Feedback Alignment": BP, FA, DFA and LAFS on MLPs, with the measurements of Figure 1.
"""

__version__ = "0.1.0"

from .config import RunConfig, paper_config  # noqa: E402
from .results import Result, ResultError, load_result  # noqa: E402
from .train import run  # noqa: E402

__all__ = ["RunConfig", "Result", "ResultError", "load_result", "paper_config", "run", "__version__"]
