"""``roulette scaling``: ``simulate TRACE`` and ``render-hpa`` (registered from ``roulette.cli``).

Both read the same policy as ``roulette cluster`` (``SCALING_RULES_FILE``, ``MIN_INSTANCES``,
``MAX_INSTANCES``, ``SCALING_INTERVAL_SECONDS``, ``MAX_CONNECTIONS``); options override them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from roulette.config import Config
from roulette.errors import ConfigError
from roulette.scaling.behavior import Bounds
from roulette.scaling.settings import load_policy

__all__ = ["TRACES", "add_parser", "run"]

TRACES = ("diurnal", "flash-crowd", "slow-leak")
"""The traces shipped in ``roulette/scaling/traces`` (a TRACE may also be a file path)."""

MAX_TRACE_BYTES = 1_048_576


def add_parser(sub: Any) -> None:
    """Add ``scaling`` and its subcommands to the top-level subparsers ``sub``."""
    scaling = sub.add_parser("scaling", help="auto-scaling tools: simulate, render-hpa")
    commands = scaling.add_subparsers(dest="scaling_command", required=True)
    simulate = commands.add_parser(
        "simulate", help="replay a load trace through the policy and a worker model"
    )
    simulate.add_argument("trace", help=f"one of {', '.join(TRACES)}, or a trace JSON file")
    simulate.add_argument("--out", type=Path, default=Path("."), help="output directory")
    simulate.add_argument("--boot-seconds", type=float, help="worker boot time (default 20)")
    simulate.add_argument("--seed", type=int, default=1, help="noise seed")
    simulate.add_argument("--no-plot", action="store_true", help="JSON only")
    _common(simulate)
    render = commands.add_parser("render-hpa", help="print a Kubernetes HPA v2 manifest")
    render.add_argument("--name", default="roulette", help="Deployment and HPA name")
    render.add_argument("--namespace", default="default")
    _common(render)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", type=Path, help="policy file (SCALING_RULES_FILE)")
    parser.add_argument("--min", type=int, dest="min_instances", help="MIN_INSTANCES")
    parser.add_argument("--max", type=int, dest="max_instances", help="MAX_INSTANCES")


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the chosen subcommand; returns the exit code.

    Raises:
        ConfigError: a bad policy, trace or bound (the CLI prints it and exits 2).
    """
    policy = load_policy(args.rules or config.scaling.rules_file)
    minimum = args.min_instances or config.scaling.min_instances
    maximum = args.max_instances or config.scaling.max_instances
    try:
        bounds = Bounds(minimum, maximum)
    except ValueError as exc:
        raise ConfigError(f"bounds: {exc}") from exc
    if args.scaling_command == "render-hpa":
        from roulette.scaling.manifest import render_hpa  # noqa: PLC0415

        sys.stdout.write(
            render_hpa(
                policy,
                bounds,
                socket_cap=config.limits.max_connections,
                name=args.name,
                namespace=args.namespace,
            )
        )
        return 0
    return _simulate(args, config, policy, bounds)


def _simulate(args: argparse.Namespace, config: Config, policy: Any, bounds: Bounds) -> int:
    from roulette.scaling.plot import write_plot  # noqa: PLC0415
    from roulette.scaling.simulation import Calibration, simulate  # noqa: PLC0415

    trace = _trace(args.trace)
    calibration = Calibration(socket_cap=config.limits.max_connections)
    if args.boot_seconds is not None:
        calibration = replace(calibration, boot_seconds=args.boot_seconds)
    result = simulate(
        trace,
        policy,
        bounds,
        calibration=calibration,
        interval=config.scaling.interval_seconds,
        seed=args.seed,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"scaling-{trace.name}.json"
    json_path.write_text(json.dumps(result, indent=1))
    summary = {k: v for k, v in result["summary"].items() if k not in {"changes", "policy"}}
    print(json.dumps({"json": str(json_path), **summary}, indent=1))
    if not args.no_plot:
        png = args.out / f"scaling-{trace.name}.png"
        if write_plot(result, png, socket_cap=calibration.socket_cap):
            print(f"plot: {png}")
        else:
            print("no plot: matplotlib is not installed (uv sync --group bench)", file=sys.stderr)
    return 0


def _trace(name: str) -> Any:
    from roulette.scaling.simulation import Trace  # noqa: PLC0415

    try:
        if name in TRACES:
            text = (resources.files("roulette.scaling") / "traces" / f"{name}.json").read_text()
        else:
            path = Path(name)
            if path.stat().st_size > MAX_TRACE_BYTES:
                raise ConfigError(f"trace {name}: larger than {MAX_TRACE_BYTES} B")
            text = path.read_text()
        return Trace.parse(json.loads(text))
    except OSError as exc:
        raise ConfigError(
            f"trace {name}: not one of {', '.join(TRACES)} nor a readable file"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"trace {name}: not a valid trace: {exc}") from exc
