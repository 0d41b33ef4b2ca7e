"""``roulette lab up|status|down|chaos|reliability``: arguments and output (``cli.py`` registers
them)."""

from __future__ import annotations

import argparse
import sys

from roulette.config import Config

__all__ = ["add_parser", "run"]

FAULTS = (
    "kill-node",
    "kill-worker",
    "kill-redis-master",
    "stop-redis",
    "restart-postgres",
    "partition-node",
)
"""The faults ``roulette lab reliability`` runs (``partition-node`` only on a ``--netns`` lab)."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lab`` and its subcommands to the ``roulette`` parser."""
    lab = sub.add_parser("lab", help="the whole scaling stack on this machine (LAB_DIR)")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    up = lab_sub.add_parser(
        "up", help="start Redis Cluster, PostgreSQL, nodes, HAProxy, monitoring"
    )
    up.add_argument("--nodes", type=int, default=3, help="service nodes (default 3)")
    up.add_argument("--workers", type=int, default=1, help="workers per node (default 1)")
    up.add_argument(
        "--postgres",
        choices=("auto", "machine", "throwaway"),
        default="auto",
        help="the machine's server on :5432 (auto when it answers) or an initdb cluster",
    )
    up.add_argument(
        "--netns",
        action="store_true",
        help="each node in its own network namespace (root; needed by chaos partition-node)",
    )
    lab_sub.add_parser("status", help="every part of the running lab and its health")
    lab_sub.add_parser("down", help="stop everything the lab started")
    chaos = lab_sub.add_parser("chaos", help="inject one fault into the running lab")
    chaos.add_argument(
        "fault", choices=(*FAULTS, "heal"), help="a fault, or heal: reconnect partitioned nodes"
    )
    chaos.add_argument("--node", help="the node to hit (default: the first)")
    chaos.add_argument(
        "--heal-after",
        type=float,
        default=None,
        help="seconds before undoing the fault (restart what was stopped); default: never",
    )
    rel = lab_sub.add_parser(
        "reliability", help="every fault under load; writes docs/reliability.md"
    )
    rel.add_argument("--users", type=int, default=30, help="load-test users (default 30)")
    rel.add_argument("--faults", default=",".join(FAULTS), help="comma-separated faults to run")
    rel.add_argument("--output", default="docs/reliability.md", help="where the table goes")
    rel.add_argument(
        "--soak", type=float, default=0.0, help="then a soak of this many minutes (RSS sampled)"
    )


def run(args: argparse.Namespace, config: Config) -> int:
    """Run ``roulette lab <command>``; returns the exit code."""
    env = dict(config.environment)
    directory = config.lab_dir
    if args.lab_command == "up":
        return _up(args, config)
    if args.lab_command == "down":
        from roulette.lab.lifecycle import down  # noqa: PLC0415

        survivors = down(directory, env, say=print)
        if survivors:
            print(f"still running: {', '.join(survivors)}", file=sys.stderr)
            return 1
        print("the lab is down; nothing it started is running")
        return 0
    if args.lab_command == "status":
        return _status(config)
    if args.lab_command == "chaos":
        from roulette.lab.chaos import inject  # noqa: PLC0415

        print(inject(directory, env, args.fault, node=args.node, heal_after=args.heal_after))
        return 0
    from roulette.lab.reliability import run_reliability  # noqa: PLC0415

    return run_reliability(directory, env, args, say=print)


def _up(args: argparse.Namespace, config: Config) -> int:
    import time  # noqa: PLC0415

    from roulette.errors import ConfigError  # noqa: PLC0415
    from roulette.lab.lifecycle import up  # noqa: PLC0415

    if not 1 <= args.nodes <= 16 or not 1 <= args.workers <= 16:
        raise ConfigError("--nodes and --workers must be within 1..16")
    started = time.monotonic()
    state = up(
        config.lab_dir,
        dict(config.environment),
        nodes=args.nodes,
        workers=args.workers,
        pg_mode=args.postgres,
        say=print,
        use_netns=args.netns,
    )
    print(f"\nthe lab is up in {time.monotonic() - started:.1f} s (state: {state.path}/lab.json)")
    print(f"  app         {state.app_url}/  (WebSocket {state.app_url.replace('http', 'ws')}/ws)")
    stats = f"http://127.0.0.1:{state.stats_port}"
    print(f"  stats       {stats}/stats  (user admin, password in lab.json)")
    print(f"  lb metrics  {stats}/metrics")
    for node in state.nodes:
        print(
            f"  {node.name:<11} http://{node.host}:{node.port}/metrics  management "
            f"http://{node.host}:{node.management_port}/cluster/status"
        )
    if state.prometheus_port:
        print(f"  prometheus  http://127.0.0.1:{state.prometheus_port}/")
    if state.alertmanager_port:
        print(f"  alertmgr    http://127.0.0.1:{state.alertmanager_port}/")
    print(f"  tokens      management and admin tokens are in {state.path}/lab.json")
    return 0


def _status(config: Config) -> int:
    from roulette.lab.health import part_health  # noqa: PLC0415
    from roulette.lab.state import load  # noqa: PLC0415

    state = load(config.lab_dir.resolve())
    rows = part_health(state)
    for name, detail, ok in rows:
        print(f"{'ok  ' if ok else 'DOWN'} {name:<14} {detail}")
    print(f"app {state.app_url}/")
    return 0 if all(ok for _, _, ok in rows) else 1
