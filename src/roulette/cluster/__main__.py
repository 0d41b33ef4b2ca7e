"""``python -m roulette.cluster``: run the cluster until ``roulette cluster`` exists in the CLI.

Its only options tune liveness deadlines and the crash-loop limit (tests use small ones);
everything else comes from the environment through :meth:`Config.from_env` (read once, here:
workers receive this object, see :mod:`roulette.config_handoff`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from roulette.cluster.node import BOOT_TIMEOUT, EXIT_CONFIG, HEARTBEAT_TIMEOUT, run_cluster
from roulette.cluster.policy import CRASH_LOOP_LIMIT
from roulette.config import Config
from roulette.errors import ConfigError
from roulette.observability.logs import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, read the settings, run the cluster; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m roulette.cluster", description=__doc__)
    parser.add_argument("--heartbeat-timeout", type=float, default=HEARTBEAT_TIMEOUT)
    parser.add_argument("--boot-timeout", type=float, default=BOOT_TIMEOUT)
    parser.add_argument("--crash-limit", type=int, default=CRASH_LOOP_LIMIT)
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"roulette cluster: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        configure_logging(config.log_level, dict(config.environment))
    except ConfigError as exc:
        print(f"roulette cluster: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    return run_cluster(
        config,
        heartbeat_timeout=args.heartbeat_timeout,
        boot_timeout=args.boot_timeout,
        crash_limit=args.crash_limit,
    )


if __name__ == "__main__":
    sys.exit(main())
