"""The supervisor's side of the zygote (:mod:`roulette.cluster.zygote`): start it, ask it for
workers, hold each forked worker as a child, restart the zygote when it dies.

A worker forked from the zygote starts serving in a fraction of a second where a fresh
``exec`` imports for ~1.3 s of CPU (docs/performance.md, "Worker start"). The supervisor stays
the worker's parent: it is a child subreaper (prctl(2) ``PR_SET_CHILD_SUBREAPER``, Linux
3.4+), so the orphaned worker of the zygote's double fork is re-parented to it and it reaps
the worker with ``waitpid`` — pid, exit status (3: boot failure), signals, all as for a
``Popen``. While the zygote is down (starting, crashed, restarting) workers are ``exec``'d:
a slot never waits for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from roulette.cluster.zygote import MAX_MESSAGE, WORKER_FDS
from roulette.config import Config
from roulette.config_handoff import config_file

__all__ = ["ForkServer", "ForkedChild", "become_subreaper"]

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
"""prctl(2) option (linux/prctl.h)."""

SPAWN_TIMEOUT = 5.0
"""Seconds the zygote may take to answer a spawn (two forks: milliseconds when healthy)."""

READY_TIMEOUT = 60.0
"""Seconds the supervisor waits, once, at start, for the zygote's imports before the first
workers (as long as a worker's own boot may take on a loaded machine)."""

STOP_TIMEOUT = 5.0
"""Seconds the zygote has to exit once its control socket is closed, before SIGKILL."""

MAX_RESTART_DELAY = 30.0
"""The longest wait before restarting a zygote that keeps dying (exec serves meanwhile)."""


def become_subreaper() -> bool:
    """Make orphaned descendants this process's children (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


class ForkedChild:
    """A worker forked by the zygote and re-parented to us: the part of ``Popen`` we use."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once it exited (reaping it), else None; -N for death by signal N."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Not our child (the re-parenting failed): nothing to wait for.
                log.error("worker_not_a_child pid=%d", self.pid)
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait up to ``timeout`` seconds (None: as long as it takes) for the exit.

        Raises:
            subprocess.TimeoutExpired: still running.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if timeout is not None and deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        """Signal it unless already reaped (its pid may then be someone else's)."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL unless already reaped."""
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The zygote as the supervisor holds it: its process, its control socket, its restarts.

    The control socket is registered in the supervisor's selector (:meth:`attach`) with this
    object as its data: the zygote's ``ready`` and its death (end of file) wake the loop.

    Args:
        config: the settings the zygote runs with (logging; each worker gets its own copy).
        env: the zygote's environment, which its workers inherit.
    """

    def __init__(self, config: Config, env: Mapping[str, str]) -> None:
        self.config = config
        self.env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.ready = False
        self.restart_at = 0.0
        self.failures = 0
        """Exits since it was last ready: the restart backoff grows with them."""
        self.restarts = 0
        self._selector: selectors.BaseSelector | None = None

    @property
    def pid(self) -> int | None:
        """The zygote's pid while it runs (or until it is reaped)."""
        return None if self.process is None else self.process.pid

    def open(self, selector: selectors.BaseSelector) -> bool:
        """Make the supervisor a subreaper, start the zygote and wait for it to be ready
        (``selector`` then watches its socket); False where forking workers is impossible
        (every worker is then ``exec``'d). A zygote that fails to start is retried by
        :meth:`tick`."""
        if not become_subreaper():
            log.warning("zygote_unavailable reason=no-subreaper")
            return False
        self._selector = selector
        try:
            self.start()
        except OSError as exc:
            log.error("zygote_start_failed error=%s", exc)
            self.failures += 1
            return True
        self.wait_ready()
        return True

    def start(self) -> None:
        """Exec a new zygote; it answers ``ready`` on the control socket once it has imported.

        Raises:
            OSError: the process or its socket could not be created.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            config_fd = config_file(self.config)
        except OSError:
            ours.close()
            theirs.close()
            raise
        try:
            command = [sys.executable, "-m", "roulette", "zygote"]
            command += ["--control-fd", str(theirs.fileno()), "--config-fd", str(config_fd)]
            self.process = subprocess.Popen(
                command, env=self.env, pass_fds=(theirs.fileno(), config_fd)
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
            os.close(config_fd)
        self.control = ours
        self.ready = False
        if self._selector is not None:
            self._selector.register(ours, selectors.EVENT_READ, self)
        log.info("zygote_started pid=%d", self.process.pid)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Block until the zygote says ``ready`` (or dies, or ``timeout`` passes)."""
        if self.control is None:
            return False
        self.control.settimeout(timeout)
        try:
            self.on_readable()
        except TimeoutError:
            log.warning("zygote_not_ready pid=%s timeout=%g", self.pid, timeout)
        finally:
            if self.control is not None:
                self.control.settimeout(None)
        return self.ready

    def on_readable(self) -> None:
        """Take the zygote's message: ``ready``, or end of file (it died: stop using it)."""
        if self.control is None:
            return
        try:
            message = self.control.recv(MAX_MESSAGE)
        except BlockingIOError:
            return
        except ConnectionError:
            message = b""
        if not message:
            self._discard()
        elif "ready" in _decode(message):
            self.ready = True
            self.failures = 0
            log.info("zygote_ready pid=%s", self.pid)

    def spawn(self, worker_id: str, fds: Sequence[int]) -> ForkedChild | None:
        """Ask the zygote for a worker with ``fds`` (see :data:`WORKER_FDS`); None when it
        cannot (down, or failing: then it is killed and restarted later; the caller
        ``exec``s this worker instead)."""
        if not self.ready or self.control is None:
            return None
        assert len(fds) == WORKER_FDS
        request = json.dumps({"worker_id": worker_id}).encode()
        try:
            self.control.settimeout(SPAWN_TIMEOUT)
            socket.send_fds(self.control, [request], list(fds))
            reply = _decode(self.control.recv(MAX_MESSAGE))
            self.control.settimeout(None)
        except OSError as exc:  # TimeoutError, a broken socket
            log.warning("zygote_spawn_failed pid=%s error=%s", self.pid, exc)
            self._discard()
            return None
        pid = reply.get("pid")
        if not isinstance(pid, int):
            log.warning("zygote_spawn_refused pid=%s reply=%s", self.pid, reply)
            if not reply:  # end of file: the zygote died
                self._discard()
            return None
        return ForkedChild(pid)

    def tick(self, now: float, *, restart: bool) -> int | None:
        """Reap an exited zygote (returning its pid), and start one when due and ``restart``."""
        reaped = None
        if self.process is not None and self.process.poll() is not None:
            reaped, code = self.process.pid, self.process.returncode
            log.warning("zygote_exited pid=%d code=%d", reaped, code)
            self._discard()
            self.process = None
            self.failures += 1
            self.restart_at = now + min(MAX_RESTART_DELAY, 0.5 * 2 ** (self.failures - 1))
        if restart and self.process is None and now >= self.restart_at:
            try:
                self.start()
            except OSError as exc:
                log.error("zygote_start_failed error=%s", exc)
                self.failures += 1
                self.restart_at = now + min(MAX_RESTART_DELAY, 0.5 * 2 ** (self.failures - 1))
            else:
                self.restarts += 1
        return reaped

    def recycle(self) -> None:
        """Replace the zygote by a fresh one (new code on disk), started by the next tick."""
        if self.process is None and self.control is None:
            return
        log.info("zygote_recycled pid=%s", self.pid)
        self.stop()
        self.restart_at = 0.0

    def stop(self) -> None:
        """Close the control socket (a ready zygote exits at once), reap it.

        One still importing reads its socket only when done: it is killed instead, so the
        supervisor's loop does not wait for its imports. It holds nothing to clean up.
        """
        self._discard(kill=not self.ready)
        if self.process is None:
            return
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _discard(self, *, kill: bool = True) -> None:
        """Stop using this zygote; :meth:`tick` reaps it and schedules the next one."""
        self.ready = False
        if self.control is not None:
            if self._selector is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(self.control)
            self.control.close()
            self.control = None
        if kill and self.process is not None:
            # It failed a request or closed its socket: whatever it still does is not trusted.
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


def _decode(message: bytes) -> dict[str, object]:
    with contextlib.suppress(ValueError):
        decoded = json.loads(message)
        if isinstance(decoded, dict):
            return decoded
    return {}
