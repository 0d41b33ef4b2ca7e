"""``roulette cluster`` put together: check the settings, bind the ports once, start the
management API and the supervisor, and release everything when the supervisor returns."""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from roulette.balancing.cluster_presence import ClusterPresence
from roulette.balancing.presence import PresenceAddress
from roulette.cluster import policy
from roulette.cluster.channel import Command, WakePipe
from roulette.cluster.forkserver import ForkServer
from roulette.cluster.management import ManagementServer
from roulette.cluster.process import Listeners
from roulette.cluster.supervisor import Supervisor
from roulette.config import Config
from roulette.errors import ConfigError, RouletteError
from roulette.scaling.actuator import HookActuator
from roulette.scaling.audit import AUDIT_FILE, AuditLog
from roulette.scaling.autoscaler import Autoscaler
from roulette.scaling.behavior import Bounds
from roulette.scaling.fleet import FleetBoard
from roulette.scaling.sampler import NodeSampler
from roulette.scaling.scaler import Scaler
from roulette.scaling.settings import load_policy
from roulette.storage.sql import upgrade

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
    node_id = uuid.uuid4().hex[:8]
    try:
        desired, max_workers = _worker_bounds(config)
        _migrate(config)
        listeners = _bind(config)
    except ConfigError as exc:
        return _refuse(exc)
    config = config.with_ports(*listeners.ports)  # PORT=0 / WS_PORT=0: the ports bound
    commands: queue.Queue[Command] = queue.Queue(maxsize=COMMAND_QUEUE)
    wake = WakePipe()
    # A fresh directory per run: stale files of an earlier run's pids would be summed in.
    metrics_dir = Path(tempfile.mkdtemp(prefix="roulette-metrics-"))
    management: ManagementServer | None = None
    scaler: Scaler | None = None
    try:
        scaler = _scaler(config, node_id, max_workers, metrics_dir)
        management = _management(config, commands, wake, listeners.ports[0])
        # Workers receive our settings; the variable is for prometheus_client's own reads.
        worker_config = replace(config, prometheus_multiproc_dir=metrics_dir)
        worker_env = config.child_environment(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
        supervisor = Supervisor(
            desired=desired,
            max_workers=max_workers,
            listeners=listeners,
            config=worker_config,
            env=worker_env,
            timeouts=timeouts,
            commands=commands,
            wake=wake,
            node_id=node_id,
            metrics_dir=metrics_dir,
            crash_limit=crash_limit,
            scaler=scaler,
            # With a balancer (shared state, so a registered node), answer "drain" this long
            # before the workers close their sockets, as `roulette serve` does.
            drain_delay=config.lb.drain_seconds if config.redis.enabled else 0.0,
            forkserver=ForkServer(worker_config, worker_env)
            if config.cluster_fork_server
            else None,
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
        if scaler is not None:
            scaler.close()
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
        shedding=lambda: any(w.shedding for w in list(supervisor.workers.values())),
    )
    presence.start()
    return presence


def _migrate(config: Config) -> None:
    """Apply the migrations once, here, before any worker starts (workers only check them)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(upgrade(config.sql_url))
    except RouletteError as exc:
        raise ConfigError(f"cannot migrate the database: {exc.message}") from exc


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


def _scaler(config: Config, node_id: str, max_workers: int, metrics_dir: Path) -> Scaler:
    """The autoscaler (always built, so /scaling/status and manual scaling work when it is off).

    Raises:
        ConfigError: a bad SCALING_RULES_FILE or SCALING_HOOK.
    """
    settings = config.scaling
    # Scaling this node's workers cannot pass what the node allows (1 without Redis).
    ceiling = settings.max_instances if settings.hook else min(settings.max_instances, max_workers)
    bounds = Bounds(min(settings.min_instances, ceiling), ceiling)
    hook = None
    if settings.hook:
        try:
            hook = HookActuator(
                settings.hook,
                initial=bounds.minimum,
                env=config.child_environment(),
                clock=time.monotonic,
            )
        except ValueError as exc:
            raise ConfigError(f"SCALING_HOOK={settings.hook!r}: {exc}") from exc
    return Scaler(
        Autoscaler(load_policy(settings.rules_file), bounds, enabled=settings.enabled),
        NodeSampler(node_id, config.limits.max_connections, metrics_dir),
        AuditLog(config.data_dir / AUDIT_FILE),
        interval=settings.interval_seconds,
        hook=hook,
        board=FleetBoard(config.redis, node_id) if config.redis.enabled else None,
    )


def _bind(config: Config) -> Listeners:
    try:
        return Listeners.bind(config.host, config.port, config.ws_port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {config.host} ports {config.port} (PORT) and "
            f"{config.ws_port} (WS_PORT): {exc}"
        ) from exc


def _management(
    config: Config, commands: queue.Queue[Command], wake: WakePipe, http_port: int
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
            workers_url=f"http://{_loopback(config.host)}:{http_port}",
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


def _loopback(host: str) -> str:
    """Where the supervisor reaches its own workers' HTTP port."""
    if host in {"0.0.0.0", ""}:
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
