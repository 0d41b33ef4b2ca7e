"""``roulette lb run``: HAProxy in master-worker mode, its servers kept equal to the live nodes.

Each pass (every ``LB_SYNC_SECONDS``) reads the registry and HAProxy's servers, asks
:func:`~roulette.balancing.plan.plan` what differs and sends those runtime-API commands — no
reload. When the set of nodes changes it also rewrites the configuration file with them as
static servers, so a reload (``SIGUSR2`` to the master, or our own for ``ip-hash``, whose
static hash takes no runtime servers) comes back with the same servers. A pass that cannot
read the registry changes nothing, and for a record's TTL after the registry is readable again
no server is removed for a record that expired meanwhile (:func:`~roulette.balancing.plan.
retained`): a Redis outage must not empty the balancer, nor cut a healthy node's sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from roulette.balancing.haproxy_config import render
from roulette.balancing.nodes import NodeRecord
from roulette.balancing.plan import plan, retained
from roulette.balancing.registry import NodeRegistry
from roulette.balancing.runtime_api import RuntimeApi
from roulette.balancing.settings import LbSettings
from roulette.config import Config
from roulette.errors import ConfigError, Unavailable

__all__ = ["check_config", "run_lb", "write_config"]

log = logging.getLogger(__name__)


def write_config(settings: LbSettings, nodes: list[NodeRecord]) -> Path:
    """Render into ``<run_dir>/haproxy.cfg`` atomically; returns the path."""
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "haproxy.cfg"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(render(settings, nodes))
    temporary.replace(path)
    return path


async def check_config(settings: LbSettings, path: Path) -> None:
    """``haproxy -c``.

    Raises:
        ConfigError: HAProxy rejects the file (its message included).
    """
    proc = await asyncio.create_subprocess_exec(
        settings.haproxy,
        "-c",
        "-q",
        "-f",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    if proc.returncode != 0:
        raise ConfigError(f"haproxy rejects {path}: {output.decode(errors='replace')}")


class _Balancer:
    def __init__(self, settings: LbSettings, registry: NodeRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.path = Path(settings.run_dir).resolve() / "haproxy.cfg"
        self.api = RuntimeApi(self.path.parent / "admin.sock")
        self.written: frozenset[tuple[str, str, int, int, int]] = frozenset()
        self.balanced: list[NodeRecord] = []
        """The nodes of the last pass (kept through an outage, see :func:`retained`)."""
        self.readable_since: float | None = None
        """Monotonic time since which every registry read succeeded (None: the last failed)."""

    async def live_nodes(self) -> list[NodeRecord] | None:
        """The nodes to balance over, or None when the registry cannot be read."""
        try:
            live = await self.registry.live(now=time.time())
        except Unavailable:
            log.warning("lb_registry_unavailable")
            self.readable_since = None
            return None
        now = time.monotonic()
        if self.readable_since is None:
            self.readable_since = now
        nodes = retained(
            live,
            self.balanced,
            readable_for=now - self.readable_since,
            ttl=self.settings.node_ttl_seconds,
        )
        if kept := sorted({n.node_id for n in nodes} - {n.node_id for n in live}):
            log.info("lb_kept_through_outage nodes=%s", kept)
        self.balanced = nodes
        return nodes

    def rewrite(self, nodes: list[NodeRecord]) -> bool:
        """Rewrite the file when the node set changed; True when it did."""
        key = frozenset((n.node_id, n.host, n.http_port, n.ws_port, n.agent_port) for n in nodes)
        if key == self.written:
            return False
        write_config(self.settings, nodes)
        self.written = key
        return True

    async def sync(self, master: asyncio.subprocess.Process) -> None:
        nodes = await self.live_nodes()
        if nodes is None:
            return
        changed = self.rewrite(nodes)
        try:
            current = await self.api.servers()
        except (OSError, TimeoutError):
            return  # HAProxy is starting or reloading; the next pass sees it
        todo = plan(self.settings, nodes, current)
        if todo.empty:
            return
        log.info("lb_sync added=%s removed=%s", todo.added, todo.removed)
        if todo.reload:
            if changed:
                await check_config(self.settings, self.path)
                master.send_signal(signal.SIGUSR2)
            return
        with contextlib.suppress(OSError, TimeoutError):
            await self.api.apply(todo.commands)


async def run_lb(config: Config, *, announce: bool = True) -> int:
    """Start HAProxy and keep its servers current until SIGTERM/SIGINT; returns the exit code."""
    from roulette.storage.redis import close, connect  # noqa: PLC0415 - needs Redis

    if not config.redis.enabled:
        raise ConfigError("roulette lb run needs shared state: set REDIS_URL (or a cluster)")
    settings = config.lb
    client = connect(config.redis)
    balancer = _Balancer(settings, NodeRegistry(client))
    try:
        nodes = await balancer.live_nodes() or []
        balancer.rewrite(nodes)
        await check_config(settings, balancer.path)
        master = await _start_haproxy(settings, balancer.path)
        if announce:
            print(f"roulette lb: HAProxy on {settings.host}:{settings.port} (pid {master.pid})")
        return await _supervise(balancer, master)
    finally:
        await close(client)


async def _start_haproxy(settings: LbSettings, path: Path) -> asyncio.subprocess.Process:
    run_dir = path.parent
    with contextlib.suppress(FileNotFoundError):
        os.unlink(run_dir / "admin.sock")  # a stale socket from a crashed run
    return await asyncio.create_subprocess_exec(
        settings.haproxy,
        "-W",  # master-worker: reload by SIGUSR2 without dropping the listeners
        "-S",
        f"{run_dir / 'master.sock'},mode,600",
        "-f",
        str(path),
        "-p",
        str(run_dir / "haproxy.pid"),
    )


async def _supervise(balancer: _Balancer, master: asyncio.subprocess.Process) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as tasks:
        exited = tasks.create_task(master.wait())
        try:
            while not stop.is_set() and not exited.done():
                await balancer.sync(master)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), balancer.settings.sync_seconds)
        finally:
            if not exited.done():
                master.terminate()  # the balancer stops with us; clients reconnect elsewhere
    if not stop.is_set():
        log.error("haproxy_exited code=%s", master.returncode)
        return 1
    return 0
