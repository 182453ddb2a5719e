"""Command line: `python -m dfa_lafs {train,figure1,sweep,regenerate} ...`.

Thin by design: it parses flags into a RunConfig and calls the library.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import RunConfig
from .experiments import FIGURE1_DIR, make_figure1
from .train import run

_CONFIG_FIELDS = [f for f in dataclasses.fields(RunConfig) if f.repr]


def _parse_hidden(text: str) -> tuple[int, ...]:
    """'800,800,800' -> (800, 800, 800); '' or 'none' -> () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes comma-separated widths such as 800,800,800; got {text!r}")


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def add_config_flags(parser: argparse.ArgumentParser, defaults: RunConfig, exclude: tuple[str, ...] = ()) -> None:
    """One flag per RunConfig field (--batch-size, --feedback-scale, ...), default from `defaults`."""
    for f in _CONFIG_FIELDS:
        if f.name in exclude:
            continue
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if f.name == "hidden":
            kind = _parse_hidden
        elif f.name == "train_size":
            kind = _optional_int
        elif f.name == "data_root":
            kind = str
        else:
            kind = type(default)
        parser.add_argument(flag, type=kind, default=default, help=f"(default: {default})")


def config_from_args(args: argparse.Namespace, **fixed) -> RunConfig:
    values = {f.name: getattr(args, f.name) for f in _CONFIG_FIELDS if f.name not in fixed}
    return RunConfig(**values, **fixed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dfa_lafs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one rule and save its result (JSON)")
    add_config_flags(train, RunConfig())
    train.add_argument("--out", type=Path, required=True, help="result file to write (JSON)")
    train.add_argument("--checkpoint", type=Path, help="checkpoint file: resume from it, save to it")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    fig = sub.add_parser("figure1", help="regenerate Figure 1: DFA and LAFS at the paper config")
    add_config_flags(fig, RunConfig(), exclude=("rule",))
    fig.add_argument("--out-dir", type=Path, default=FIGURE1_DIR, help=f"(default: {FIGURE1_DIR})")
    fig.add_argument("--force", action="store_true", help="re-run even if stored results are fresh")
    fig.add_argument("--quiet", action="store_true", help="no progress bar")

    regen = sub.add_parser("regenerate", help="remake every stored result the book uses (slow on CPU)")
    regen.add_argument("--data-root", default=None, help="dataset root (default: $DFA_LAFS_DATA or cache)")
    regen.add_argument("--workers", type=int, default=None, help="parallel sweep workers (default: one per core)")
    regen.add_argument("--quiet", action="store_true", help="no progress bars")

    from .sweep import add_sweep_parser

    add_sweep_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, RuntimeError) as err:  # config and data errors: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "train":
        cfg = config_from_args(args)
        result = run(cfg, checkpoint=args.checkpoint, progress=not args.quiet)
        path = result.save(args.out)
        print(f"{cfg.rule}: final test accuracy {result.final['test/accuracy']:.4f}; wrote {path}")
        return 0
    if args.command == "figure1":
        cfg = config_from_args(args, rule="dfa")
        changes = {f.name: getattr(cfg, f.name) for f in _CONFIG_FIELDS if f.name != "rule"}
        results, paths = make_figure1(args.out_dir, force=args.force, progress=not args.quiet, **changes)
        for rule, result in results.items():
            print(_summary(rule, result))
        print("wrote " + ", ".join(str(p) for p in paths))
        return 0
    if args.command == "regenerate":
        from .experiments import regenerate_all

        return regenerate_all(data_root=args.data_root, workers=args.workers, progress=not args.quiet)
    return args.handler(args)


def _summary(rule: str, result) -> str:
    layers = range(1, len(result.config.hidden) + 1)
    angles = ", ".join(f"{result.series('angle', i)[-1]:.1f}" for i in layers)
    readouts = ", ".join(f"{result.series('readout_accuracy', i)[-1]:.3f}" for i in layers)
    return (f"{rule.upper()}: test accuracy {result.final['test/accuracy']:.4f}; final angles e^y vs e^i "
            f"[{angles}] deg; readout accuracies [{readouts}]; wall {result.timings['wall_s']:.0f} s "
            f"({100 * result.timings['record_share']:.1f}% recording)")
