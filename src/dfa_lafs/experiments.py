"""Named experiments: the configs behind the book's stored results, and how to (re)make them.

Paper-scale runs are results, not per-build work: they are stored under `results/` and
the book loads them with `load_result(path, expect=config)`, which fails loudly when the
config or the training code has changed since. `python -m dfa_lafs regenerate` remakes them.
"""

from __future__ import annotations

from pathlib import Path

from .config import PLACE_FIELDS, RunConfig, field_names, paper_config
from .files import REPO_ROOT, check_result_path, check_writable, stored_results_root
from .plots import figure1, save_figure
from .results import Result, ResultError, load_result
from .train import run

RESULTS = stored_results_root()  # $DFA_LAFS_RESULTS (read at import), else the repository's results/
FIGURE1_DIR = RESULTS / "figure1"
FIGURE1_RULES = ("dfa", "lafs")
# What Figure 1's runs record beyond the paper's plot: the DFA-vs-LAFS noise study at 5 steps.
FIGURE1_RECORDING = {"noise_points": 5}


def figure1_configs(**changes) -> dict[str, RunConfig]:
    """DFA and LAFS at the paper's setting (same seed: same W init and same B^i).

    Seed 0 of the five-seed sweep `sweeps/figure1.yaml` has exactly these configs.
    """
    return {rule: paper_config(rule, **{**FIGURE1_RECORDING, **changes}) for rule in FIGURE1_RULES}


def run_or_load(config: RunConfig, path: Path, force: bool = False, progress: bool = True,
                replace_stored: bool = False) -> Result:
    """The stored result if it matches `config` and the current code, else a fresh run saved to `path`.

    A stale or unreadable result under results/ is replaced only with `replace_stored` (or
    `force`, which asks for a new run); otherwise the refusal says so before training.
    """
    if not force and _is_fresh(path, config):
        return load_result(path, expect=config)
    # run() saves the result to `path`, and only then removes the checkpoint.
    return run(config, progress=progress, checkpoint=path.with_suffix(".ckpt"), out=path,
               replace_stored=replace_stored or force)


def _is_fresh(path: Path, config: RunConfig) -> bool:
    try:
        load_result(path, expect=config)
    except ResultError:
        return False
    return True


def make_figure1(out_dir: Path = FIGURE1_DIR, force: bool = False, progress: bool = True,
                 replace_stored: bool = False, **changes) -> tuple[dict[str, Result], list[Path]]:
    """Run (or load) DFA and LAFS at the paper config, save both results and the figure.

    Only the paper config may be written to FIGURE1_DIR, the stored results the book reads:
    any other setting needs another `out_dir`. Every output is checked writable first; a
    stored result is replaced only with `force` (a new run asked for) or `replace_stored`.
    """
    out_dir = Path(out_dir)
    configs = figure1_configs(**changes)
    _protect_stored_figure1(out_dir, configs)
    for rule, cfg in configs.items():
        if force or not _is_fresh(out_dir / f"{rule}.json", cfg):
            check_result_path(out_dir / f"{rule}.json", "Figure 1 output", replace_stored or force)
    for name in ("figure1.png", "figure1.pdf"):
        check_writable(out_dir / name, "Figure 1 output")
    results = {rule: run_or_load(cfg, out_dir / f"{rule}.json", force, progress, replace_stored)
               for rule, cfg in configs.items()}
    paths = save_figure(figure1(list(results.values())), out_dir / "figure1")
    return results, paths


def _protect_stored_figure1(out_dir: Path, configs: dict[str, RunConfig]) -> None:
    if out_dir.resolve() != FIGURE1_DIR.resolve():
        return
    changed = sorted({name for rule, cfg in configs.items() for name in field_names()
                      if name not in PLACE_FIELDS and getattr(cfg, name) != getattr(figure1_configs()[rule], name)})
    if changed:
        raise ValueError(f"{', '.join(changed)} differ(s) from the paper config, and {out_dir} holds the stored "
                         f"paper-scale results the book reads: write elsewhere with --out-dir (out_dir=)")


def load_figure1(out_dir: Path = FIGURE1_DIR, **changes) -> dict[str, Result]:
    """The stored Figure 1 results, refused if stale (see `load_result`)."""
    return {rule: load_result(Path(out_dir) / f"{rule}.json", expect=cfg)
            for rule, cfg in figure1_configs(**changes).items()}


ERRATA_DIR = RESULTS / "errata"


def errata_configs() -> dict[str, RunConfig]:
    """The errata chapter's two one-epoch LAFS runs: the default scale of B^i and one 15 times larger."""
    return {name: RunConfig(rule="lafs", epochs=1, feedback_scale=scale, record_points=5)
            for name, scale in (("default_b", 1.0), ("large_b", 15.0))}


def errata_runs(rerun: bool = False, progress: bool = True, replace_stored: bool = False,
                **changes) -> dict[str, Result]:
    """The stored errata runs; rerun=True trains them again (minutes on a CPU) and replaces them.

    A stale stored run is refused unless rerun or replace_stored (which remakes only those).
    """
    return {name: run_or_load(cfg.replace(**changes), ERRATA_DIR / f"{name}.json", force=rerun, progress=progress,
                              replace_stored=replace_stored)
            for name, cfg in errata_configs().items()}


SWEEPS_DIR = REPO_ROOT / "sweeps"  # full grid files; sweeps/ci/ holds the CPU-sized ones


def load_stored_sweep(name: str) -> dict[str, Result]:
    """The stored results of `sweeps/NAME.yaml`, checked against that grid file and the code."""
    from .studies.runs import load_sweep

    return load_sweep(RESULTS / "sweeps" / name, grid=SWEEPS_DIR / f"{name}.yaml")


def regenerate_all(data_root: str | None = None, workers: int | None = None, progress: bool = True) -> int:
    """Remake Figure 1 and every full sweep whose stored results are missing or stale.

    The arguments and every grid file are checked before anything runs.
    """
    from .sweep import load_grid, run_sweep
    from .sweep.runner import check_workers

    workers = check_workers(workers)
    grids = [load_grid(grid_file) for grid_file in sorted(SWEEPS_DIR.glob("*.yaml"))]
    changes = {"data_root": data_root} if data_root else {}
    # Remaking stored results is this command's job: stale ones are replaced (fresh ones are kept).
    make_figure1(progress=progress, replace_stored=True, **changes)
    errata_runs(progress=progress, replace_stored=True, **changes)
    failed = 0
    for grid in grids:
        report = run_sweep(grid, RESULTS / "sweeps" / grid.name, workers=workers, data_root=data_root,
                           progress=progress, replace_stored=True)
        print(report.text())
        failed += len(report.failed)
    return 1 if failed else 0


NOT_RESULTS = {"benchmark.json", "_grid.json", "trials.json"}  # JSON files under results/ that hold no run


def stored_results_table():
    """One row per stored result under results/: its sweep folder (two levels), where it ran, its
    wall time, epochs and share of time spent recording, and whether the current code made it (or an
    earlier one that the code lineage records as giving the same numbers)."""
    import pandas as pd

    from .results import accepted_hashes

    accepted = accepted_hashes()  # this code's hash and those the code lineage links to it
    rows = []
    for path in sorted(RESULTS.rglob("*.json")):
        if path.name in NOT_RESULTS:
            continue
        r = load_result(path)
        rows.append({"folder": "/".join(path.parent.relative_to(RESULTS).parts[:2]),
                     "device": r.provenance["device_name"][:24], "torch": r.provenance["torch_version"],
                     "wall_s": r.timings["wall_s"], "recording": r.timings["record_share"],
                     "epochs": r.timings["steps"] * r.config.batch_size / max(1, 60_000 - r.config.val_size),
                     "fresh": r.provenance["code_hash"] in accepted})
    return pd.DataFrame(rows)
