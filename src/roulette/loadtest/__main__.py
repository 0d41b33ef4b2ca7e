"""``python -m roulette.loadtest``: the load generator without the ``roulette`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from roulette.errors import ConfigError
from roulette.loadtest.options import add_arguments, options_from_args
from roulette.loadtest.runner import run_loadtest

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and run one load test.

    Args:
        argv: the arguments (default: the process's).

    Returns:
        The exit code of :func:`~roulette.loadtest.runner.run_loadtest`, or 2 for bad options.
    """
    parser = argparse.ArgumentParser(
        prog="roulette loadtest", description="Simulate roulette users against a running service."
    )
    add_arguments(parser)
    try:
        options = options_from_args(parser.parse_args(argv))
    except ConfigError as exc:
        print(f"roulette loadtest: {exc.message}", file=sys.stderr)
        return 2
    return run_loadtest(options)


if __name__ == "__main__":
    sys.exit(main())
