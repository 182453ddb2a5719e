"""Command line: `python -m dfa_lafs {train,figure1,sweep,search,regenerate,check} ...`.

Thin by design: it parses flags into a RunConfig and calls the library. Every error a user
can cause is one line on stderr (exit 2) that names the value, flag or path at fault; the
traceback is behind `--traceback` (or DFA_LAFS_TRACEBACK=1, true or yes). Ctrl-C or SIGTERM is
one line too (exit 130), saying what was kept and how to resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import types
import typing
import warnings
from pathlib import Path

from . import env, experiments
from .checks import ArgumentError
from .config import RunConfig, flag_name

_CONFIG_FIELDS = [f for f in dataclasses.fields(RunConfig) if f.repr]
TRACEBACK_ENV = env.TRACEBACK
REPLACE_HELP = "allow replacing a stored result under results/, which the book reads (refused without it)"


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like the library's."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


# --- flags ---------------------------------------------------------------------------------------

def _parse_hidden(text: str) -> tuple[int, ...]:
    """'800,800,800' -> (800, 800, 800); '' or 'none' -> () (no hidden layer: rule bp only)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes comma-separated widths such as 800,800,800; got {text!r}")


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = f"{kind.__name__} or none"  # argparse names the type in its error message
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}")
    return value


def _flag_type(name: str, hint):
    """The argparse type of a RunConfig field, from its type hint."""
    if name == "hidden":
        return _parse_hidden
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _optional(_flag_type(name, kinds[0]))
    return _parse_bool if hint is bool else hint


def add_config_flags(parser: argparse.ArgumentParser, defaults: RunConfig, exclude: tuple[str, ...] = ()) -> None:
    """One flag per RunConfig field (--batch-size, --feedback-scale, ...), default from `defaults`."""
    hints = typing.get_type_hints(RunConfig)
    for f in _CONFIG_FIELDS:
        if f.name not in exclude:
            default = getattr(defaults, f.name)
            parser.add_argument("--" + f.name.replace("_", "-"), type=_flag_type(f.name, hints[f.name]),
                                default=default, help=f"(default: {default})")


def config_from_args(args: argparse.Namespace, **fixed) -> RunConfig:
    """The RunConfig of the flags; a refused value's message ends with the flag(s) to change."""
    values = {f.name: getattr(args, f.name) for f in _CONFIG_FIELDS if f.name not in fixed}
    try:
        return RunConfig(**values, **fixed)
    except ArgumentError as err:
        flags = [flag_name(name) for name in err.fields if name not in fixed]
        raise ArgumentError(f"{err} ({', '.join(flags)})" if flags else str(err), err.fields) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dfa_lafs", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_argument("--traceback", action="store_true",
                        help=f"show the Python traceback of an error (or set {TRACEBACK_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", parents=[common], help="train one rule and save its result (JSON)")
    add_config_flags(train, RunConfig())
    train.add_argument("--out", required=True, help="result file to write (JSON); - writes it to standard output")
    train.add_argument("--checkpoint", type=Path, help="checkpoint file: resume from it, save to it")
    train.add_argument("--replace-stored", action="store_true", help=REPLACE_HELP)
    train.add_argument("--checkpoint-every", type=_positive_int, default=2000,
                       help="steps between checkpoints (default: 2000)")
    train.set_defaults(handler=_train)

    fig = sub.add_parser("figure1", parents=[common], help="regenerate Figure 1: DFA and LAFS at the paper config")
    add_config_flags(fig, experiments.figure1_configs()["dfa"], exclude=("rule",))
    fig.add_argument("--out-dir", type=Path, default=None,
                     help=f"(default: {experiments.FIGURE1_DIR}, which takes only the paper config)")
    fig.add_argument("--force", action="store_true", help="re-run even if stored results are fresh (and replace them)")
    fig.add_argument("--replace-stored", action="store_true", help=REPLACE_HELP)
    fig.set_defaults(handler=_figure1)

    regen = sub.add_parser("regenerate", parents=[common],
                           help="remake every stored result the book uses (slow on CPU)")
    regen.add_argument("--data-root", default=None, help="dataset root (default: $DFA_LAFS_DATA or cache)")
    regen.add_argument("--workers", type=_positive_int, default=None,
                       help="parallel sweep workers (default: one per core)")
    regen.set_defaults(handler=_regenerate)

    sweep = sub.add_parser("sweep", parents=[common],
                           help="run a grid of configs through the experiment notebook (papermill), resumably",
                           description="Run a YAML grid of runs, one experiment notebook per point; resumable.")
    add_sweep_arguments(sweep)

    search = sub.add_parser("search", parents=[common],
                            help="run a registered search (preregistration.yaml) with Optuna on Dask, resumably",
                            description="Run the search a study registered in preregistration.yaml (learning rate "
                                        "x scale of B^i per cell, on the validation split); resumable.")
    search.add_argument("--plan", type=Path, default=None, help="registration file (default: preregistration.yaml)")
    search.add_argument("--study", default="open_question", help="the registered study (default: open_question)")
    search.add_argument("--out", type=Path, default=None, help="folder for the journal, trials.json and results "
                                                                 "(default: the folder the registration names)")
    search.add_argument("--workers", type=_positive_int, default=2, help="local worker processes (default: 2)")
    search.add_argument("--data-root", help="dataset folder (default: $DFA_LAFS_DATA, else ~/.cache/dfa_lafs)")
    search.set_defaults(handler=_search)

    check = sub.add_parser("check", parents=[common],
                           help="the training-code hash, its lineage, and stored results that differ from git HEAD")
    check.add_argument("--results", default=None, help="stored results folder (default: $DFA_LAFS_RESULTS, else "
                                                         "the repository's results/)")
    check.set_defaults(handler=_check)
    return parser


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", help="grid file (YAML): name, base, grid, points")
    parser.add_argument("--out", help="folder for this sweep's notebooks and results "
                                      "(default: $DFA_LAFS_RESULTS/sweeps/<name>, else the repository's "
                                      "results/sweeps/<name>)")
    parser.add_argument("--workers", type=_positive_int, default=None,
                        help="local worker processes (default: one per core; 1 runs serially, without Dask)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786, "
                                            "to run the points on that cluster instead")
    parser.add_argument("--data-root", help="dataset folder (default: $DFA_LAFS_DATA, else ~/.cache/dfa_lafs)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per point (default: 1 when points run in parallel)")
    parser.add_argument("--allow-large", action="store_true",
                        help="run a grid of more than 1,000 points (refused without it)")
    parser.add_argument("--replace-stored", action="store_true", help=REPLACE_HELP)
    parser.set_defaults(handler=_sweep)


# --- commands ------------------------------------------------------------------------------------

def _train(args: argparse.Namespace) -> int:
    from .train import run

    cfg = config_from_args(args)
    to_stdout = args.out == "-"
    if args.checkpoint is not None and str(args.checkpoint) == "-":
        raise ValueError("--checkpoint - : a checkpoint must be a file (only --out can be -, standard output)")
    if not to_stdout and args.checkpoint is not None and args.checkpoint.resolve() == Path(args.out).resolve():
        raise ValueError(f"--checkpoint and --out are the same file ({args.out}); give two paths")
    args.on_interrupt = lambda: (f"progress saved in {args.checkpoint}; rerun the same command to resume"
                                 if args.checkpoint is not None and args.checkpoint.exists()
                                 else "nothing was saved (--checkpoint FILE makes a run resumable)")
    result = run(cfg, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every, progress=not args.quiet,
                 out=None if to_stdout else args.out, replace_stored=args.replace_stored)
    summary = f"{cfg.rule}: final test accuracy {result.final['test/accuracy']:.4f}"
    if to_stdout:  # the result is the output; the summary goes with the progress bar, to stderr
        sys.stdout.write(result.to_json())
        sys.stdout.flush()
        print(f"{summary}; wrote the result to standard output", file=sys.stderr)
        if args.checkpoint is not None:
            from .checkpoint import remove

            remove(args.checkpoint)
    else:
        print(f"{summary}; wrote {args.out}")
    return 0


def _figure1(args: argparse.Namespace) -> int:
    cfg = config_from_args(args, rule="dfa")
    changes = {f.name: getattr(cfg, f.name) for f in _CONFIG_FIELDS if f.name != "rule"}
    out_dir = args.out_dir or experiments.FIGURE1_DIR
    args.on_interrupt = f"progress saved in {out_dir}/*.ckpt; rerun the same command to resume"
    results, paths = experiments.make_figure1(out_dir, force=args.force, progress=not args.quiet,
                                              replace_stored=args.replace_stored, **changes)
    for rule, result in results.items():
        print(_summary(rule, result))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _regenerate(args: argparse.Namespace) -> int:
    args.on_interrupt = "finished results are kept; rerun the same command to continue"
    return experiments.regenerate_all(data_root=args.data_root, workers=args.workers, progress=not args.quiet)


def _sweep(args: argparse.Namespace) -> int:
    """Run the sweep; 0 if every point has a result, 1 otherwise."""
    from .sweep import count_points, run_sweep

    count = count_points(args.grid)  # before the points are checked, which takes a while for a large grid
    if not args.quiet:  # on stdout, so that an error stays the one line on stderr
        print(f"{args.grid}: {count:,} point{'s' if count != 1 else ''}", flush=True)
    args.on_interrupt = "finished points are kept; rerun the same command to resume"
    report = run_sweep(args.grid, args.out, workers=args.workers, scheduler=args.scheduler,
                       data_root=args.data_root, threads=args.threads, progress=not args.quiet,
                       replace_stored=args.replace_stored, allow_large=args.allow_large)
    print(report.text(), file=sys.stderr if report.failed else sys.stdout)
    return 0 if report.ok else 1


def _search(args: argparse.Namespace) -> int:
    """Run the registered search to its end; 0 when no trial failed with an error."""
    import dataclasses as dc

    from . import search

    plan = search.load_plan(args.plan or search.PREREGISTRATION, args.study)
    if args.out is not None:
        plan = dc.replace(plan, folder=args.out.resolve())
    args.on_interrupt = f"finished trials are kept in {plan.folder}; rerun the same command to resume"
    counts = search.run_search(plan, workers=args.workers, data_root=args.data_root, progress=not args.quiet)
    print(f"search {args.study}: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
          + f"; trials in {plan.folder / 'trials.json'}")
    return 1 if counts.get("failed") else 0


def _check(args: argparse.Namespace) -> int:
    """Print the code hash and its lineage, stale stored results, and stored results that differ from git
    HEAD; exit 1 if the lineage is malformed or any result is stale or differs."""
    from .files import stored_results_root
    from .lineage import describe, problems, unaccepted_results
    from .repository import stored_differences

    for line in describe():
        print(line)
    root = Path(args.results) if args.results else stored_results_root()
    stale = unaccepted_results(root)
    if stale:
        print(f"stored results in {root}: {len(stale)} made by code this code does not accept (stale), e.g. "
              f"{stale[0][0]} (code hash {stale[0][1]}): add a lineage entry if tests/test_reference_runs.py "
              f"passes, else remake them (python -m dfa_lafs regenerate)")
    differences = stored_differences(root)
    if differences is None:
        print(f"stored results in {root}: cannot compare with the repository (no git, or not a git repository)")
    elif not differences:
        print(f"stored results in {root}: every file is as committed in git HEAD")
    else:
        print(f"stored results in {root}: {len(differences)} file(s) differ from git HEAD:")
        for path, how in differences:
            print(f"  {how}: {path}")
    return 1 if problems() or stale or differences else 0


def _summary(rule: str, result) -> str:
    layers = range(1, len(result.config.hidden) + 1)
    angles = ", ".join(f"{result.series('angle', i)[-1]:.1f}" for i in layers)
    readouts = ", ".join(f"{result.series('readout_accuracy', i)[-1]:.3f}" for i in layers)
    return (f"{rule.upper()}: test accuracy {result.final['test/accuracy']:.4f}; final angles e^y vs e^i "
            f"[{angles}] deg; readout accuracies [{readouts}]; wall {result.timings['wall_s']:.0f} s "
            f"({100 * result.timings['record_share']:.1f}% recording)")


# --- errors --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        show_traceback = args.traceback or env.flag(TRACEBACK_ENV)
    except SystemExit as done:  # --help, or a flag argparse refused (already printed on one line)
        return done.code or 0
    except KeyboardInterrupt:  # Ctrl-C before any command started
        print("interrupted: nothing was run", file=sys.stderr)
        return 130
    except ValueError as err:  # DFA_LAFS_TRACEBACK is neither yes nor no
        print(f"error: {err}", file=sys.stderr)
        return 2
    previous = _terminate_as_interrupt()
    try:
        with warnings.catch_warnings():
            # torch warns about the pickle protocol of a file it then refuses anyway (a crafted
            # checkpoint): the refusal is the message, on its own line.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return args.handler(args)
    except KeyboardInterrupt as err:
        if show_traceback:
            raise
        line = str(err).strip() or "interrupted"  # train's says at which step, and whether it checkpointed
        hint = getattr(args, "on_interrupt", "nothing was saved")
        print(line if "resume" in line else f"{line}: {hint() if callable(hint) else hint}", file=sys.stderr)
        return 130
    except Exception as err:
        if show_traceback:
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def one_line(err: BaseException) -> str:
    """The message of an error on one line; for errors no user causes, their type and a pointer."""
    if isinstance(err, OSError) and err.filename is not None:
        message = f"{err.strerror or err}: {err.filename}"
    else:
        message = " ".join(str(err).split()) or type(err).__name__
    if not isinstance(err, (ValueError, RuntimeError, OSError)):  # a bug, not a user's mistake
        message = f"{type(err).__name__}: {message} (rerun with --traceback for details)"
    return message


def _terminate_as_interrupt():
    """Make SIGTERM (kill, a batch system's time limit) stop a run like Ctrl-C: checkpointed."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. called from a worker): leave signals alone
        return None
