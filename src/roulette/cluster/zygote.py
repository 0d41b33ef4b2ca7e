"""The zygote: a process that has imported a worker's modules once and forks workers from them.

``roulette cluster`` starts it (``python -m roulette zygote --control-fd N``, a fresh ``exec``,
so it has no event loop and no threads when it forks). It imports what a worker imports
(:mod:`roulette.runtime.worker`, which pulls in the node, FastAPI, SQLAlchemy, uvloop: ~1.3 s
of CPU a fresh worker pays at every start), says ``ready`` on its control socket, then serves
spawn requests: one ``SOCK_SEQPACKET`` message holding the worker id, with the worker's four
file descriptors attached (``SCM_RIGHTS``, unix(7)): HTTP socket, WebSocket socket, heartbeat
pipe, config file. For each it forks twice: the middle process exits at once, so the worker is
orphaned and the kernel re-parents it to the supervisor, which made itself a child subreaper
(prctl(2) ``PR_SET_CHILD_SUBREAPER``). The supervisor then holds the worker as its own child —
its pid, its exit status (``waitpid``), its signals — as if it had ``exec``'d it. The reply is
the worker's pid.

The forked worker returns from :func:`serve_zygote` with the worker's exit code, and the
interpreter exits as ``roulette worker`` would (the same :func:`serve_worker`). Python
reseeds :mod:`random` in a forked child (``os.register_at_fork``); :mod:`secrets` and
:func:`uuid.uuid4` read ``os.urandom``, so no per-process secret is shared.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading

from roulette.config_handoff import read_config_file
from roulette.errors import RouletteError
from roulette.observability.logs import configure_logging
from roulette.runtime.worker import serve_worker

__all__ = ["MAX_MESSAGE", "WORKER_FDS", "fork_twice", "serve_zygote"]

log = logging.getLogger(__name__)

WORKER_FDS = 4
"""HTTP socket, WebSocket socket, heartbeat pipe (write end), config file — in that order."""

MAX_MESSAGE = 4096
"""A request is a worker id in JSON; a reply a pid."""

_PID = struct.Struct("<q")


def serve_zygote(control_fd: int) -> int:
    """Serve spawn requests on ``control_fd`` until the supervisor closes it.

    Returns:
        0 in the zygote when the supervisor is gone; in a forked worker, the worker's code.
    """
    # Ctrl-C reaches the whole process group: the supervisor drains the workers and closes
    # this socket after them, so the zygote outlives the drain instead of dying mid-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=control_fd)
    if threading.active_count() != 1:
        # fork(2) copies only the calling thread: a lock another thread held stays locked.
        log.warning("zygote_threads count=%d", threading.active_count())
    # What the imports allocated stays out of the collector's generations: a child that never
    # touches those objects never copies their pages (gc.freeze, Python 3.7+).
    gc.freeze()
    control.send(json.dumps({"ready": os.getpid()}).encode())
    while True:
        message, fds, _flags, _address = socket.recv_fds(control, MAX_MESSAGE, WORKER_FDS)
        if not message:
            control.close()
            return 0
        worker_id = _worker_id(message)
        if worker_id is None or len(fds) != WORKER_FDS:
            _close(fds)
            control.send(json.dumps({"error": "malformed request"}).encode())
            continue
        try:
            pid = fork_twice()
        except OSError as exc:
            _close(fds)
            control.send(json.dumps({"error": str(exc)}).encode())
            continue
        if pid is None:  # the worker
            control.close()
            return _become_worker(worker_id, fds)
        # Only the worker keeps these: the heartbeat pipe must read end of file when it exits.
        _close(fds)
        control.send(json.dumps({"pid": pid}).encode())


def _worker_id(message: bytes) -> str | None:
    try:
        request = json.loads(message)
    except ValueError:
        return None
    worker_id = request.get("worker_id") if isinstance(request, dict) else None
    return worker_id if isinstance(worker_id, str) and worker_id else None


def fork_twice() -> int | None:
    """Fork a worker whose parent exits at once; returns its pid, or None in the worker.

    Raises:
        OSError: a fork failed (out of memory or pids).
    """
    read_fd, write_fd = os.pipe()
    try:
        middle = os.fork()
    except OSError:
        _close([read_fd, write_fd])
        raise
    if middle == 0 and _in_middle(read_fd, write_fd):
        return None
    os.close(write_fd)
    try:
        data = os.read(read_fd, _PID.size)
    finally:
        os.close(read_fd)
    os.waitpid(middle, 0)
    if len(data) != _PID.size:
        raise OSError("the worker's fork failed")
    pid: int = _PID.unpack(data)[0]
    return pid


def _in_middle(read_fd: int, write_fd: int) -> bool:
    """The middle process: fork the worker, hand its pid to the zygote, exit (True: the worker).

    It never returns into the zygote's loop: every path but the worker's ends in ``_exit``.
    """
    try:
        os.close(read_fd)
        worker = os.fork()
        if worker == 0:
            os.close(write_fd)
            return True
        os.write(write_fd, _PID.pack(worker))
    except BaseException:
        os._exit(1)
    os._exit(0)


def _become_worker(worker_id: str, fds: list[int]) -> int:
    """In the forked worker: the state ``roulette worker`` starts with, then serve."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    http_fd, ws_fd, heartbeat_fd, config_fd = fds
    try:
        config = read_config_file(config_fd)
        configure_logging(config.log_level, dict(config.environment))
    except RouletteError as exc:
        print(f"roulette: {exc.message}", file=sys.stderr)
        return 2  # as the command line answers a bad setting
    return serve_worker(
        config, http_fd=http_fd, ws_fd=ws_fd, worker_id=worker_id, heartbeat_fd=heartbeat_fd
    )


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
