"""``roulette lb render`` and ``roulette lb run``: their arguments (``cli.py`` registers them)."""

from __future__ import annotations

import argparse
import asyncio
import time

from roulette.balancing.haproxy_config import render
from roulette.balancing.nodes import NodeRecord
from roulette.config import Config
from roulette.errors import Unavailable

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lb`` and its subcommands to the ``roulette`` parser."""
    lb = sub.add_parser("lb", help="the HAProxy load balancer in front of the nodes")
    lb_sub = lb.add_subparsers(dest="lb_command", required=True)
    render_cmd = lb_sub.add_parser("render", help="print the HAProxy configuration (LB_*)")
    render_cmd.add_argument(
        "--no-nodes", action="store_true", help="leave the registered nodes out"
    )
    lb_sub.add_parser("run", help="run HAProxy, keeping its servers equal to the live nodes")


def run(args: argparse.Namespace, config: Config) -> int:
    """Run ``roulette lb <command>``; returns the exit code."""
    if args.lb_command == "render":
        nodes = [] if args.no_nodes else asyncio.run(_registered(config))
        print(render(config.lb, nodes), end="")
        return 0
    from roulette.balancing.runner import run_lb  # noqa: PLC0415

    return asyncio.run(run_lb(config))


async def _registered(config: Config) -> list[NodeRecord]:
    """The live nodes when shared state is configured (none otherwise)."""
    if not config.redis.enabled:
        return []
    from roulette.balancing.registry import NodeRegistry  # noqa: PLC0415
    from roulette.storage.redis import close, connect  # noqa: PLC0415

    client = connect(config.redis)
    try:
        return await NodeRegistry(client).live(now=time.time())
    except Unavailable:
        return []
    finally:
        await close(client)
