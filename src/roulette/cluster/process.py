"""One worker child process as the supervisor holds it: its process, its heartbeat pipe, its state.

A worker is forked from the zygote when it is up (:mod:`roulette.cluster.forkserver`), else
``exec``'d (``python -m roulette worker``); either way the supervisor holds it through the same
:class:`Child` interface (a ``Popen``, or a :class:`~roulette.cluster.forkserver.ForkedChild`).

The parent binds the ports once (:class:`Listeners`). On Linux each worker then gets sockets of
its own, bound to the same ports with ``SO_REUSEPORT`` (socket(7)): the kernel hashes each new
connection's 4-tuple over the listening sockets of the group, so every worker takes an even
share, where one shared socket woke whichever worker was idle first (the busiest workers took
the fewest, the spread was uneven). Elsewhere (``SO_REUSEPORT`` on the BSDs and macOS does not
balance) every worker inherits the same two listening sockets, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from roulette.cluster.policy import SlotHistory, WorkerState, WorkerView
from roulette.config import Config
from roulette.config_handoff import config_file

if TYPE_CHECKING:
    from roulette.cluster.forkserver import ForkServer

__all__ = [
    "LISTEN_BACKLOG",
    "PER_WORKER_SOCKETS",
    "Child",
    "Listeners",
    "WorkerProcess",
    "spawn_worker",
]

LISTEN_BACKLOG = 4096
"""Connections the kernel queues while every worker is busy or restarting."""

MAX_HEARTBEAT_BUFFER = 65_536
"""A worker writes ~200-byte lines; anything longer is garbage and is dropped."""


PER_WORKER_SOCKETS = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
"""Linux (3.9+) balances a ``SO_REUSEPORT`` group over its listening sockets."""


@dataclass
class Listeners:
    """The HTTP and WebSocket ports, and how workers get sockets on them.

    With ``per_worker``, ``http`` and ``ws`` are bound but never listen: they hold the ports
    (and resolve port 0) so a worker's own sockets can join them, yet the kernel gives them no
    connection. Without it they are the listening sockets every worker shares.
    """

    http: socket.socket
    ws: socket.socket
    per_worker: bool = False

    @classmethod
    def bind(
        cls, host: str, port: int, ws_port: int, *, per_worker: bool = PER_WORKER_SOCKETS
    ) -> Listeners:
        """Bind both ports (0 = any free port).

        Raises:
            OSError: a port is taken or the address is not ours.
        """
        http = _open(host, port, per_worker=per_worker)
        try:
            ws = _open(host, ws_port, per_worker=per_worker)
        except OSError:
            http.close()
            raise
        return cls(http, ws, per_worker)

    @property
    def ports(self) -> tuple[int, int]:
        """The bound (HTTP, WebSocket) ports."""
        return self.http.getsockname()[1], self.ws.getsockname()[1]

    @contextlib.contextmanager
    def for_worker(self) -> Iterator[tuple[socket.socket, socket.socket]]:
        """The (HTTP, WebSocket) sockets to pass to one new worker.

        Per worker, they are fresh sockets on the same ports, bound but not listening: the
        worker's event loop calls ``listen`` once it serves, so no connection is hashed to a
        worker still booting. Ours are closed on exit (the child keeps its copies), so a
        worker's sockets leave the group when it exits.

        Raises:
            OSError: out of file descriptors, or the ports were released (after a drain).
        """
        if not self.per_worker:
            yield self.http, self.ws
            return
        host = self.http.getsockname()[0]
        http = _open(host, self.ports[0], per_worker=True)
        try:
            ws = _open(host, self.ports[1], per_worker=True)
        except OSError:
            http.close()
            raise
        try:
            yield http, ws
        finally:
            http.close()
            ws.close()

    def close(self) -> None:
        """Close the parent's copies (releasing the ports); workers' sockets serve on."""
        self.http.close()
        self.ws.close()


def _open(host: str, port: int, *, per_worker: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not per_worker:
        return socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As socket.create_server does: rebind at once over connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class Child(Protocol):
    """What the supervisor uses of a worker process (a subset of ``subprocess.Popen``)."""

    @property
    def pid(self) -> int:
        """The process id."""
        ...

    def poll(self) -> int | None:
        """The exit code once exited (reaped), else None; -N after signal N."""
        ...

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit (raises ``subprocess.TimeoutExpired``)."""
        ...

    def kill(self) -> None:
        """SIGKILL unless reaped."""
        ...

    def send_signal(self, sig: int) -> None:
        """Signal the process unless it was reaped."""
        ...


@dataclass(eq=False)
class WorkerProcess:
    """A spawned worker and what its heartbeats said (times are monotonic seconds)."""

    slot: int
    worker_id: str
    popen: Child
    heartbeat_fd: int
    started_at: float
    forked: bool = False
    """Forked from the zygote (else ``exec``'d)."""
    state: WorkerState = WorkerState.STARTING
    last_heartbeat: float | None = None
    stopping_since: float | None = None
    connections: int = 0
    shedding: bool = False
    """The worker refuses new sign-ins and handshakes (its last heartbeat said so)."""
    counters: dict[str, int] = field(default_factory=dict)
    max_beat_gap: float | None = None
    """The longest time between two heartbeats since the autoscaler last read it: loop lag."""
    _pending: bytes = b""

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    @property
    def ever_ready(self) -> bool:
        """True once a heartbeat arrived: the worker booted and its loop runs."""
        return self.last_heartbeat is not None

    def view(self) -> WorkerView:
        """The immutable snapshot :func:`~roulette.cluster.policy.reconcile` reads."""
        return WorkerView(
            pid=self.pid,
            slot=self.slot,
            state=self.state,
            started_at=self.started_at,
            last_heartbeat=self.last_heartbeat,
            stopping_since=self.stopping_since,
        )

    def describe(self, now: float, wall: float, history: SlotHistory) -> dict[str, Any]:
        """One entry of ``GET /cluster/status`` (``now`` monotonic, ``wall`` epoch seconds)."""
        beat = self.last_heartbeat
        return {
            "id": self.slot,
            "workerId": self.worker_id,
            "pid": self.pid,
            "state": self.state.value,
            "uptime": round(now - self.started_at, 3),
            "restarts": history.restarts,
            "backoff": None if history.delay is None else round(history.delay, 3),
            "connections": self.connections,
            "lastHeartbeat": None if beat is None else round(wall - (now - beat), 3),
        }

    def read_heartbeats(self, now: float) -> bool:
        """Consume what the pipe holds; returns False at end of file (the child is gone)."""
        try:
            chunk = os.read(self.heartbeat_fd, MAX_HEARTBEAT_BUFFER)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not chunk:
            return False
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        if len(self._pending) > MAX_HEARTBEAT_BUFFER:
            self._pending = b""
        for line in lines:
            self._beat(line, now)
        return True

    def _beat(self, line: bytes, now: float) -> None:
        try:
            beat = json.loads(line)
        except ValueError:
            return
        if not isinstance(beat, dict):
            return
        if self.last_heartbeat is not None:
            gap = now - self.last_heartbeat
            self.max_beat_gap = gap if self.max_beat_gap is None else max(self.max_beat_gap, gap)
        self.last_heartbeat = now
        if self.state is WorkerState.STARTING:
            self.state = WorkerState.READY
        connections = beat.get("connections")
        if isinstance(connections, int):
            self.connections = connections
        shedding = beat.get("shedding")
        if isinstance(shedding, bool):
            self.shedding = shedding
        counters = beat.get("counters")
        if isinstance(counters, dict):
            self.counters = {k: v for k, v in counters.items() if isinstance(v, int)}

    def terminate(self, now: float) -> None:
        """SIGTERM: drain and exit. The stop deadline starts now."""
        if self.state in (WorkerState.STOPPING, WorkerState.KILLED):
            return
        self.state = WorkerState.STOPPING
        self.stopping_since = now
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: it works on a stopped (SIGSTOP) process too."""
        self.state = WorkerState.KILLED
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        # The child may have exited since the last reap; the next reap will see it.
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)

    def close(self) -> None:
        """Release the heartbeat pipe (after the child was reaped)."""
        with contextlib.suppress(OSError):
            os.close(self.heartbeat_fd)


def spawn_worker(
    *,
    slot: int,
    worker_id: str,
    listeners: Listeners,
    config: Config,
    env: Mapping[str, str],
    now: float,
    forkserver: ForkServer | None = None,
) -> WorkerProcess:
    """Start a worker with its sockets, a heartbeat pipe and ``config`` (the worker runs with
    the parent's settings; it does not read the environment): forked by ``forkserver`` when
    it is ready, else ``python -m roulette worker`` with ``env``.

    Raises:
        OSError: the process could not be created (out of memory, pids or file descriptors).
    """
    config_fd = config_file(config)
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        os.close(config_fd)
        raise
    os.set_blocking(read_fd, False)
    child: Child | None = None
    try:
        with listeners.for_worker() as (http, ws):
            fds = (http.fileno(), ws.fileno(), write_fd, config_fd)
            if forkserver is not None:
                child = forkserver.spawn(worker_id, fds)
            forked = child is not None
            if child is None:
                child = _exec_worker(worker_id, fds, env)
    except OSError:
        os.close(read_fd)
        raise
    finally:
        # Only the child writes: its exit then reads as end of file here, waking the loop.
        os.close(write_fd)
        os.close(config_fd)
    return WorkerProcess(slot, worker_id, child, read_fd, now, forked=forked)


def _exec_worker(
    worker_id: str, fds: tuple[int, int, int, int], env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    http_fd, ws_fd, heartbeat_fd, config_fd = fds
    command = [sys.executable, "-m", "roulette", "worker", "--worker-id", worker_id]
    command += ["--http-fd", str(http_fd), "--ws-fd", str(ws_fd)]
    command += ["--heartbeat-fd", str(heartbeat_fd), "--config-fd", str(config_fd)]
    return subprocess.Popen(command, env=dict(env), pass_fds=fds)
