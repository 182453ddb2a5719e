"""`python -m dfa_lafs` and the `dfa-lafs` script: the CLI, with Ctrl-C during start-up on one line."""

import sys


def start() -> int:
    try:
        from .cli import main  # imports torch: seconds, during which a Ctrl-C is likely
    except KeyboardInterrupt:
        print("interrupted while starting: nothing was run", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(start())
