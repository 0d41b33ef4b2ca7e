"""``roulette worker``: one worker of ``roulette cluster``, serving on sockets it inherits.

The supervisor passes the HTTP and WebSocket sockets' file descriptors (on Linux this worker's
own, bound with ``SO_REUSEPORT``; it listens once it serves); the worker writes one heartbeat
line per second (JSON: its counts) to the pipe ``heartbeat_fd`` from its event loop, so a
hung loop is visible as silence. A worker that cannot boot exits with
:data:`EXIT_BOOT_FAILED` so the supervisor can stop a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from dataclasses import replace

import uvloop

from roulette.config import Config
from roulette.runtime.node import Node
from roulette.supervised import supervised

__all__ = ["EXIT_BOOT_FAILED", "HEARTBEAT_INTERVAL", "run_worker", "serve_worker"]

log = logging.getLogger(__name__)

EXIT_BOOT_FAILED = 3
"""Reserved exit code: the worker failed before serving (gunicorn's WORKER_BOOT_ERROR idea)."""

HEARTBEAT_INTERVAL = 1.0


def _inherited(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


def serve_worker(
    config: Config, *, http_fd: int, ws_fd: int, worker_id: str, heartbeat_fd: int | None
) -> int:
    """Run :func:`run_worker` on a new uvloop event loop; returns the exit code.

    The one way a worker starts, whether ``exec``'d (``roulette worker``) or forked from the
    cluster's zygote (:mod:`roulette.cluster.zygote`), so both serve alike.
    """
    return uvloop.run(
        run_worker(
            config, http_fd=http_fd, ws_fd=ws_fd, worker_id=worker_id, heartbeat_fd=heartbeat_fd
        )
    )


async def run_worker(
    config: Config, *, http_fd: int, ws_fd: int, worker_id: str, heartbeat_fd: int | None
) -> int:
    """Serve on the inherited sockets until SIGTERM; returns the exit code."""
    http_sock, ws_sock = _inherited(http_fd), _inherited(ws_fd)
    config = config.with_ports(http_sock.getsockname()[1], ws_sock.getsockname()[1])
    try:
        node = await Node.build(replace(config), worker_id=worker_id, migrate=False)
    except Exception:
        log.exception("worker_boot_failed worker=%s", worker_id)
        return EXIT_BOOT_FAILED
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as tasks:
        if heartbeat_fd is not None:
            beat = supervised("heartbeat", lambda: _heartbeat(node, heartbeat_fd, stop))
            tasks.create_task(beat)
        await node.serve(http_sock, ws_sock, stop=stop)
        stop.set()
    return 0


async def _heartbeat(node: Node, fd: int, stop: asyncio.Event) -> None:
    """One JSON line per second on the heartbeat pipe, until stopped or the pipe breaks."""
    while not stop.is_set():
        line = json.dumps(
            {
                "pid": os.getpid(),
                "worker": node.services.hub.worker_id,
                "connections": len(node.services.hub),
                "shedding": node.services.shedding(),
                "counters": node.services.counters.as_dict(),
            }
        )
        try:
            os.write(fd, line.encode() + b"\n")
        except BrokenPipeError:
            # The supervisor is gone: an orphan must not serve on with nobody watching it.
            log.warning("supervisor_gone worker=%s", node.services.hub.worker_id)
            stop.set()
            return
        except OSError:
            pass  # a full pipe: the supervisor is busy; its own deadline judges us
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_INTERVAL)
