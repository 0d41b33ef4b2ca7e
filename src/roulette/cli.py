"""``roulette`` — the command line: it parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from roulette.balancing.cli import add_parser as add_lb_parser
from roulette.balancing.cli import run as run_lb
from roulette.config import Config
from roulette.errors import RouletteError
from roulette.lab.cli import add_parser as add_lab_parser
from roulette.lab.cli import run as run_lab
from roulette.moderation import commands as moderation_commands
from roulette.observability.logs import configure_logging

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roulette", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API and the WebSocket gateway")
    serve.add_argument("--host", help="address to listen on (HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (PORT, default 3001)")
    serve.add_argument("--ws-port", type=int, help="WebSocket port (WS_PORT, default port+1)")

    cluster = sub.add_parser(
        "cluster", help="a supervisor and CLUSTER_WORKERS workers sharing the ports (needs Redis)"
    )
    cluster.add_argument("--host", help="address to listen on (HOST)")
    cluster.add_argument("--port", type=int, help="HTTP port (PORT)")
    cluster.add_argument("--ws-port", type=int, help="WebSocket port (WS_PORT)")
    cluster.add_argument("--workers", type=int, help="worker count (CLUSTER_WORKERS, 0 = CPUs)")

    # Its options live with the load generator (a heavy import): parsed only when asked for.
    loadtest = sub.add_parser(
        "loadtest", help="simulate wallet users against a running service", add_help=False
    )
    loadtest.add_argument("loadtest_args", nargs=argparse.REMAINDER)

    worker = sub.add_parser("worker", help="(internal) one worker, started by roulette cluster")
    worker.add_argument("--http-fd", type=int, required=True)
    worker.add_argument("--ws-fd", type=int, required=True)
    worker.add_argument("--worker-id", required=True)
    worker.add_argument("--heartbeat-fd", type=int)
    worker.add_argument("--config-fd", type=int, help="the supervisor's settings (not the env)")

    zygote = sub.add_parser(
        "zygote", help="(internal) forks workers for roulette cluster from warm imports"
    )
    zygote.add_argument("--control-fd", type=int, required=True)
    zygote.add_argument("--config-fd", type=int, help="the supervisor's settings (not the env)")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations up to the newest")
    db_sub.add_parser("current", help="print the applied migration")

    moderation_commands.add_parsers(sub)  # ban, unban, bans, reports, audit

    from roulette.scaling.cli import add_parser as add_scaling  # noqa: PLC0415

    add_scaling(sub)
    add_lb_parser(sub)
    add_lab_parser(sub)
    return parser


def _loadtest(raw: list[str]) -> int:
    from roulette.loadtest.__main__ import main as loadtest_main  # noqa: PLC0415

    return loadtest_main(raw)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["loadtest"]:
        return _loadtest(argv[1:])
    args = _parser().parse_args(argv)
    try:
        config = _settings(args)
        configure_logging(config.log_level, dict(config.environment))
        return _dispatch(args, config)
    except RouletteError as exc:
        print(f"roulette: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Config:
    """A worker runs with its supervisor's settings; every other command reads the environment."""
    if getattr(args, "config_fd", None) is not None:
        from roulette.config_handoff import read_config_file  # noqa: PLC0415

        return read_config_file(args.config_fd)
    return Config.from_env()


def _dispatch(args: argparse.Namespace, config: Config) -> int:
    handlers: dict[str, Callable[[argparse.Namespace, Config], int]] = {
        "serve": _serve,
        "worker": _worker,
        "zygote": _zygote,
        "cluster": _cluster,
        "lb": run_lb,
        "db": lambda a, c: asyncio.run(_db(a.db_command, c)),
        "scaling": _scaling,
        "lab": run_lab,
    }
    handler = handlers.get(args.command)
    if handler is not None:
        return handler(args, config)
    return asyncio.run(moderation_commands.run(args, config))


def _scaling(args: argparse.Namespace, config: Config) -> int:
    from roulette.scaling.cli import run as run_scaling  # noqa: PLC0415

    return run_scaling(args, config)


def _with_listen_args(args: argparse.Namespace, config: Config) -> Config:
    port = config.port if args.port is None else args.port
    if args.ws_port is not None:
        ws_port = args.ws_port
    else:
        ws_port = port + 1 if args.port is not None else config.ws_port
    return replace(config, host=args.host or config.host, port=port, ws_port=ws_port)


def _cluster(args: argparse.Namespace, config: Config) -> int:
    from roulette.cluster import run_cluster  # noqa: PLC0415

    config = _with_listen_args(args, config)
    if args.workers is not None:
        config = replace(config, cluster_workers=args.workers)
    return run_cluster(config)


def _serve(args: argparse.Namespace, config: Config) -> int:
    from roulette.runtime.node import run  # noqa: PLC0415 - keep `roulette db` light

    config = _with_listen_args(args, config)
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        uvloop.run(run(config))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(run(config))
    return 0


def _worker(args: argparse.Namespace, config: Config) -> int:
    from roulette.runtime.worker import serve_worker  # noqa: PLC0415

    return serve_worker(
        config,
        http_fd=args.http_fd,
        ws_fd=args.ws_fd,
        worker_id=args.worker_id,
        heartbeat_fd=args.heartbeat_fd,
    )


def _zygote(args: argparse.Namespace, _config: Config) -> int:
    from roulette.cluster.zygote import serve_zygote  # noqa: PLC0415

    return serve_zygote(args.control_fd)


async def _db(command: str, config: Config) -> int:
    from roulette.storage.sql import current_revision, upgrade  # noqa: PLC0415

    if command == "upgrade":
        config.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade(config.sql_url)
    print(await current_revision(config.sql_url) or "(empty database)")
    return 0
