"""The options of ``roulette loadtest``: a frozen dataclass, its arguments and their checks."""

from __future__ import annotations

import argparse
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from roulette.errors import ConfigError

__all__ = [
    "MAX_SOCKETS_PER_PROCESS",
    "MAX_USERS_PER_SOURCE",
    "LoadtestOptions",
    "add_arguments",
    "options_from_args",
]

MAX_SOCKETS_PER_PROCESS: Final = 15_000
"""Users per client process: each holds a socket (an open file) under the 20,000-file cap."""
MAX_USERS_PER_SOURCE: Final = 25_000
"""Users per loopback source address: ~28k ephemeral ports toward one server port."""
_LOOPBACK_SOURCES: Final = 253
"""127.0.0.2 … 127.0.0.254."""


@dataclass(frozen=True, slots=True)
class LoadtestOptions:
    """One load-test run. Build it with :func:`options_from_args` or directly (tests).

    Attributes:
        url: the service's HTTP base URL (the WebSocket URL comes from ``GET /config``).
        users: virtual users, each with its own wallet.
        ramp: seconds over which users start, evenly spread.
        duration: seconds from the first user's start to the end of the run.
        think_min: shortest think time, seconds.
        think_max: longest think time, seconds.
        processes: client processes; 0 picks one per 12,000 users.
        source_addresses: loopback source addresses (127.0.0.2, …); 0 picks one per 20,000.
        idle_fraction: share of users that only connect, heartbeat and idle.
        heartbeat_interval: seconds between an idle user's heartbeats.
        seed: seeds the wallets and the behaviour (reproducible runs).
        output: where to write the JSON report, if anywhere.
        plot: where to write the PNG plot, if anywhere.
        live: show the live view on stderr.
    """

    url: str = "http://127.0.0.1:3001"
    users: int = 100
    ramp: float = 10.0
    duration: float = 60.0
    think_min: float = 2.0
    think_max: float = 8.0
    processes: int = 0
    source_addresses: int = 0
    idle_fraction: float = 0.0
    heartbeat_interval: float = 30.0
    seed: int = 0
    output: Path | None = None
    plot: Path | None = None
    live: bool = True

    @property
    def process_count(self) -> int:
        """Client processes to start (``processes``, or enough for the socket cap)."""
        return self.processes or max(1, math.ceil(self.users / 12_000))

    @property
    def source_count(self) -> int:
        """Source addresses to spread users over (``source_addresses``, or enough ports)."""
        return self.source_addresses or max(1, math.ceil(self.users / 20_000))

    def validate(self) -> LoadtestOptions:
        """Check the options against each other and this machine's limits.

        Returns:
            ``self``, unchanged.

        Raises:
            ConfigError: an option is out of range; the message names it.
        """
        parts = urlsplit(self.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"--url {self.url!r} is not an http(s) URL")
        if not parts.hostname.startswith("127.") and parts.hostname != "localhost":
            raise ConfigError(f"--url {self.url!r}: load is only sent to loopback (127.0.0.0/8)")
        _check(self.users >= 1, "--users must be at least 1")
        _check(self.duration > 0, "--duration must be > 0")
        _check(0 <= self.ramp <= self.duration, "--ramp must be within [0, --duration]")
        _check(0 <= self.think_min <= self.think_max, "need 0 <= --think-min <= --think-max")
        _check(0.0 <= self.idle_fraction <= 1.0, "--idle-fraction must be within [0, 1]")
        _check(self.heartbeat_interval > 0, "--heartbeat-interval must be > 0")
        _check(1 <= self.source_count <= _LOOPBACK_SOURCES, "--source-addresses: 1 to 253")
        per_process = math.ceil(self.users / self.process_count)
        _check(
            per_process <= MAX_SOCKETS_PER_PROCESS,
            f"{per_process} users per process is over {MAX_SOCKETS_PER_PROCESS}: raise --processes",
        )
        per_source = math.ceil(self.users / self.source_count)
        _check(
            per_source <= MAX_USERS_PER_SOURCE,
            f"{per_source} users per source address is over {MAX_USERS_PER_SOURCE}: "
            "raise --source-addresses",
        )
        return self


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``roulette loadtest`` options on ``parser``.

    Args:
        parser: the (sub)command's parser.
    """
    d = LoadtestOptions()
    add = parser.add_argument
    add("--url", default=d.url, help="HTTP base URL of the service (default %(default)s)")
    add("--users", type=int, default=d.users, help="virtual users (default %(default)s)")
    add(
        "--ramp",
        type=float,
        default=d.ramp,
        help="seconds over which users start (default %(default)s)",
    )
    add(
        "--duration",
        type=float,
        default=d.duration,
        help="seconds the run lasts, ramp included (default %(default)s)",
    )
    add(
        "--think-min",
        type=float,
        default=d.think_min,
        help="shortest think time, s (default %(default)s)",
    )
    add(
        "--think-max",
        type=float,
        default=d.think_max,
        help="longest think time, s (default %(default)s)",
    )
    add(
        "--processes",
        type=int,
        default=d.processes,
        help="client processes, ≤ 15,000 users each (0: one per 12,000)",
    )
    add(
        "--source-addresses",
        type=int,
        default=d.source_addresses,
        help="source addresses 127.0.0.2… to spread sockets over (0: one per 20,000)",
    )
    add(
        "--idle-fraction",
        type=float,
        default=d.idle_fraction,
        help="share of users that only connect and heartbeat (default %(default)s)",
    )
    add(
        "--heartbeat-interval",
        type=float,
        default=d.heartbeat_interval,
        help="seconds between idle users' heartbeats (default %(default)s)",
    )
    add("--seed", type=int, default=None, help="seed wallets and behaviour (default: random)")
    add("--output", type=Path, default=None, help="write the JSON report here")
    add("--plot", type=Path, default=None, help="write a PNG of the run here (matplotlib)")
    add("--no-live", action="store_true", help="no live view (only the final report)")


def options_from_args(args: argparse.Namespace) -> LoadtestOptions:
    """Turn parsed arguments into checked options.

    Args:
        args: what :func:`add_arguments`'s options parsed to.

    Returns:
        The options.

    Raises:
        ConfigError: an option is out of range.
    """
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    return LoadtestOptions(
        url=args.url.rstrip("/"),
        users=args.users,
        ramp=args.ramp,
        duration=args.duration,
        think_min=args.think_min,
        think_max=args.think_max,
        processes=args.processes,
        source_addresses=args.source_addresses,
        idle_fraction=args.idle_fraction,
        heartbeat_interval=args.heartbeat_interval,
        seed=seed,
        output=args.output,
        plot=args.plot,
        live=not args.no_live,
    ).validate()
