"""Named experiments: the configs behind the book's stored results, and how to (re)make them.

Paper-scale runs are results, not per-build work: they are stored under `results/` and
the book loads them with `load_result(path, expect=config)`, which fails loudly when the
config or the training code has changed since. `python -m dfa_lafs regenerate` remakes them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import RunConfig, paper_config
from .plots import figure1, save_figure
from .results import Result, ResultError, load_result
from .train import run

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("DFA_LAFS_RESULTS", REPO_ROOT / "results"))  # stored results
FIGURE1_DIR = RESULTS / "figure1"
FIGURE1_RULES = ("dfa", "lafs")


def figure1_configs(**changes) -> dict[str, RunConfig]:
    """DFA and LAFS at the paper's setting (same seed: same W init and same B^i)."""
    return {rule: paper_config(rule, **changes) for rule in FIGURE1_RULES}


def run_or_load(config: RunConfig, path: Path, force: bool = False, progress: bool = True) -> Result:
    """The stored result if it matches `config` and the current code, else a fresh run saved to `path`."""
    if not force:
        try:
            return load_result(path, expect=config)
        except ResultError:
            pass
    result = run(config, progress=progress, checkpoint=path.with_suffix(".ckpt"))
    result.save(path)
    return result


def make_figure1(out_dir: Path = FIGURE1_DIR, force: bool = False, progress: bool = True,
                 **changes) -> tuple[dict[str, Result], list[Path]]:
    """Run (or load) DFA and LAFS at the paper config, save both results and the figure."""
    out_dir = Path(out_dir)
    results = {rule: run_or_load(cfg, out_dir / f"{rule}.json", force, progress)
               for rule, cfg in figure1_configs(**changes).items()}
    paths = save_figure(figure1(list(results.values())), out_dir / "figure1")
    return results, paths


def load_figure1(out_dir: Path = FIGURE1_DIR, **changes) -> dict[str, Result]:
    """The stored Figure 1 results, refused if stale (see `load_result`)."""
    return {rule: load_result(Path(out_dir) / f"{rule}.json", expect=cfg)
            for rule, cfg in figure1_configs(**changes).items()}


SWEEPS_DIR = REPO_ROOT / "sweeps"  # full grid files; sweeps/ci/ holds the CPU-sized ones


def regenerate_all(data_root: str | None = None, workers: int | None = None, progress: bool = True) -> int:
    """Remake Figure 1 and every full sweep whose stored results are missing or stale."""
    from .sweep import load_grid, run_sweep

    changes = {"data_root": data_root} if data_root else {}
    make_figure1(progress=progress, **changes)
    failed = 0
    for grid_file in sorted(SWEEPS_DIR.glob("*.yaml")):
        grid = load_grid(grid_file)
        report = run_sweep(grid, RESULTS / "sweeps" / grid.name, workers=workers, data_root=data_root,
                           progress=progress)
        print(report.text())
        failed += len(report.failed)
    return 1 if failed else 0
