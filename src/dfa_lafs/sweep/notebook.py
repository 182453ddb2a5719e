"""What the experiment notebook (`dfa_lafs/notebooks/experiment.ipynb`) calls: read its
parameters, train and save, summarize. The notebook itself holds no library code.
"""

from __future__ import annotations

import types

import torch

from ..config import RunConfig
from ..results import Result
from ..train import run


def notebook_parameters(namespace: dict) -> dict:
    """The parameters a notebook received: the plain values its parameters cells defined.

    Called with `globals()` right after papermill's injected cell, so it sees unknown names
    that papermill only warned about. Skips IPython's own names, private names, modules and
    callables (the imports of the cell that calls this).
    """
    from IPython import get_ipython  # ipykernel's dependency, so present wherever a kernel runs

    shell = get_ipython()
    hidden = set(shell.user_ns_hidden) if shell is not None else set()
    return {name: value for name, value in namespace.items()
            if not name.startswith("_") and name not in hidden
            and not isinstance(value, (types.ModuleType, type)) and not callable(value)}


def run_and_save(config: RunConfig, result_path: str, threads: int = 0) -> Result:
    """Train `config` and save the Result to `result_path` (checked writable before training).

    threads > 0 caps torch's CPU threads: several workers on one CPU, one thread each.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an int >= 0 (0 keeps torch's default), got {threads!r}")
    if threads:
        torch.set_num_threads(threads)
    return run(config, progress=False, out=result_path)


def summary(result: Result) -> str:
    """A few lines: what ran, the final test accuracy, and the last recorded per-layer angles."""
    c, h = result.config, result.history
    lines = [f"{c.rule} on {c.dataset}, hidden {list(c.hidden)}, {c.activation}, lr {c.lr}, seed {c.seed}: "
             f"test accuracy {result.final.get('test/accuracy', float('nan')):.4f} after "
             f"{int(h['step'][-1])} steps in {result.timings['wall_s']:.1f} s"]
    for metric in ("angle", "angle_centered", "angle_control", "readout_accuracy"):
        values = [f"{h[f'train/{metric}/{i}'][-1]:.3g}" for i in range(1, c.depth) if f"train/{metric}/{i}" in h]
        if values:
            lines.append(f"  {metric} by hidden layer: {', '.join(values)}")
    updates = [f"{h[f'probe/update_angle/{i}'][-1]:.3g}" for i in range(1, c.depth + 1)
               if f"probe/update_angle/{i}" in h]
    if updates:
        lines.append(f"  update angle to backprop by layer: {', '.join(updates)}")
    return "\n".join(lines)
