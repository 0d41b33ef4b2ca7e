"""``roulette cluster`` put together: check the settings, bind the ports once, start the
management API and the supervisor, and release everything when the supervisor returns."""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from roulette.balancing.cluster_presence import ClusterPresence
from roulette.balancing.presence import PresenceAddress
from roulette.cluster import policy
from roulette.cluster.channel import Command, WakePipe
from roulette.cluster.management import ManagementServer
from roulette.cluster.process import Listeners
from roulette.cluster.supervisor import Supervisor
from roulette.config import Config
from roulette.errors import ConfigError

__all__ = ["BOOT_TIMEOUT", "EXIT_CONFIG", "HEARTBEAT_TIMEOUT", "STOP_MARGIN", "run_cluster"]

HEARTBEAT_TIMEOUT = 10.0
"""Seconds of heartbeat silence (workers beat every second) before a worker is killed."""

BOOT_TIMEOUT = 60.0
"""Seconds a new worker may take to send its first heartbeat (migrations run at boot)."""

STOP_MARGIN = 5.0
"""Added to SHUTDOWN_TIMEOUT_SECONDS before a draining worker is killed: time to close."""

EXIT_CONFIG = 2
"""A setting makes the cluster impossible; nothing was started (the CLI's code for that)."""

COMMAND_QUEUE = 64


def run_cluster(
    config: Config,
    *,
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
    boot_timeout: float = BOOT_TIMEOUT,
    crash_limit: int = policy.CRASH_LOOP_LIMIT,
    announce: Callable[[str], None] = print,
) -> int:
    """Run ``roulette cluster`` in this (main) thread until it drains.

    Args:
        config: the node's settings (``CLUSTER_WORKERS``, ``MANAGEMENT_*``, ports, Redis).
        heartbeat_timeout: seconds of silence after which a worker counts as hung.
        boot_timeout: seconds a worker may take to send its first heartbeat.
        crash_limit: failed boots within a minute that stop the cluster.
        announce: where the one "serving on …" line goes.

    Returns:
        0 after a drain (SIGTERM/SIGINT), 2 when a setting prevents starting (more than one
        worker without Redis, a port taken), 3 when workers crash-loop at boot.
    """
    timeouts = policy.Timeouts(
        heartbeat=heartbeat_timeout,
        boot=boot_timeout,
        stop=config.shutdown_timeout_seconds + STOP_MARGIN,
    )
    try:
        desired, max_workers = _worker_bounds(config)
        listeners = _bind(config)
    except ConfigError as exc:
        return _refuse(exc)
    commands: queue.Queue[Command] = queue.Queue(maxsize=COMMAND_QUEUE)
    wake = WakePipe()
    # A fresh directory per run: stale files of an earlier run's pids would be summed in.
    metrics_dir = Path(tempfile.mkdtemp(prefix="roulette-metrics-"))
    management: ManagementServer | None = None
    try:
        management = _management(config, commands, wake)
        supervisor = Supervisor(
            desired=desired,
            max_workers=max_workers,
            listeners=listeners,
            # Workers read their settings from the environment we were started with.
            env=config.child_environment(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
            timeouts=timeouts,
            commands=commands,
            wake=wake,
            node_id=uuid.uuid4().hex[:8],
            metrics_dir=metrics_dir,
            crash_limit=crash_limit,
        )
        announce(_banner(config, listeners, management, desired))
        presence = _presence(config, supervisor, listeners) if config.redis.enabled else None
        try:
            return supervisor.run()
        finally:
            if presence is not None:
                presence.stop()
    except ConfigError as exc:
        return _refuse(exc)
    finally:
        if management is not None:
            management.close()
        listeners.close()
        wake.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _presence(config: Config, supervisor: Supervisor, listeners: Listeners) -> ClusterPresence:
    """Announce the cluster to the balancer (issue 11): one server for all its workers."""
    http_port, ws_port = listeners.ports
    host = config.lb.advertise_host or (
        "127.0.0.1" if config.host in {"0.0.0.0", "::", ""} else config.host
    )
    presence = ClusterPresence(
        config,
        PresenceAddress(f"c-{supervisor.node_id}", host, http_port, ws_port),
        workers=lambda: supervisor.desired,
        in_use=lambda: sum(w.connections for w in list(supervisor.workers.values())),
        draining=lambda: supervisor.is_draining,
    )
    presence.start()
    return presence


def _refuse(exc: ConfigError) -> int:
    print(f"roulette cluster: {exc.message}", file=sys.stderr, flush=True)
    return EXIT_CONFIG


def _worker_bounds(config: Config) -> tuple[int, int]:
    """The starting count and the largest allowed: one worker unless state is shared."""
    desired = policy.worker_count(config.cluster_workers, os.cpu_count())
    if config.redis.enabled:
        return desired, policy.MAX_WORKERS
    if desired > 1:
        raise ConfigError(
            f"CLUSTER_WORKERS={config.cluster_workers} means {desired} workers, and workers "
            "on in-memory state cannot match users across processes: set REDIS_URL (or "
            "REDIS_CLUSTER_ENABLED with REDIS_CLUSTER_NODES, or REDIS_SENTINELS), or "
            "CLUSTER_WORKERS=1"
        )
    return desired, 1


def _bind(config: Config) -> Listeners:
    try:
        return Listeners.bind(config.host, config.port, config.ws_port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {config.host} ports {config.port} (PORT) and "
            f"{config.ws_port} (WS_PORT): {exc}"
        ) from exc


def _management(
    config: Config, commands: queue.Queue[Command], wake: WakePipe
) -> ManagementServer | None:
    if not config.management_token:
        # No default token: an unauthenticated API could scale the node to zero-ish or 64.
        print(
            "roulette cluster: MANAGEMENT_TOKEN is not set, so the management API is off "
            "(signals still work: SIGHUP, SIGTTIN, SIGTTOU, SIGTERM)",
            file=sys.stderr,
            flush=True,
        )
        return None
    try:
        server = ManagementServer(
            config.host,
            config.management_port,
            token=config.management_token,
            commands=commands,
            wake=wake,
        )
    except OSError as exc:
        raise ConfigError(
            f"MANAGEMENT_PORT={config.management_port}: cannot listen on {config.host}: {exc}"
        ) from exc
    server.start()
    return server


def _banner(
    config: Config, listeners: Listeners, management: ManagementServer | None, desired: int
) -> str:
    http_port, ws_port = listeners.ports
    api = f"http://{config.host}:{management.port}" if management else "off"
    return (
        f"roulette cluster (pid {os.getpid()}): {desired} worker(s) on "
        f"http://{config.host}:{http_port} and ws://{config.host}:{ws_port}/ws; "
        f"management API {api}"
    )
