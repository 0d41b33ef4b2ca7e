"""Applying a count: the local worker count, or a documented hook command for a fleet.

``SCALING_HOOK`` is a command line; it is run as ``<command> <desired count>`` (no shell) with
``SCALING_DESIRED``, ``SCALING_CURRENT`` and ``SCALING_REASON`` in its environment, one run at a
time: a newer count that arrives meanwhile replaces any queued one. A run that exits non-zero
or outlives :data:`HOOK_TIMEOUT` is logged and its count is not taken as applied.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["HOOK_TIMEOUT", "HookActuator"]

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 300.0
"""Seconds a hook may run (booting a VM takes minutes); then it is killed."""


@dataclass(frozen=True, slots=True)
class _Run:
    popen: subprocess.Popen[bytes]
    count: int
    started: float


class HookActuator:
    """Runs the hook; :attr:`applied` is the last count a run confirmed (exit 0).

    Args:
        command: the hook's command line (split like a shell would, but not run by one).
        initial: the count assumed before any run (``MIN_INSTANCES``).
        env: the base environment of the hook.
        clock: monotonic seconds.
    """

    def __init__(
        self, command: str, *, initial: int, env: Mapping[str, str], clock: Callable[[], float]
    ) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("SCALING_HOOK is empty")
        self.applied = initial
        self.env = dict(env)
        self.clock = clock
        self._running: _Run | None = None
        self._queued: tuple[int, str] | None = None

    @property
    def target(self) -> int:
        """The count the hook was last asked for (running or queued), else the applied one."""
        if self._queued is not None:
            return self._queued[0]
        return self._running.count if self._running else self.applied

    def request(self, count: int, reason: str) -> None:
        """Ask for ``count``; runs now if idle, else after the current run."""
        self._queued = (count, reason)
        self.poll()

    def poll(self) -> None:
        """Reap a finished run, kill an overdue one, start the queued one."""
        run = self._running
        if run is not None:
            code = run.popen.poll()
            if code is None and self.clock() - run.started > HOOK_TIMEOUT:
                log.error("scaling_hook_timeout count=%d", run.count)
                run.popen.kill()
                code = run.popen.wait()
            if code is None:
                return
            self._running = None
            if code == 0:
                self.applied = run.count
                log.info("scaling_hook_applied count=%d", run.count)
            else:
                log.error("scaling_hook_failed count=%d code=%d", run.count, code)
        if self._queued is not None and self._queued[0] != self.applied:
            count, reason = self._queued
            self._queued = None
            self._start(count, reason)
        else:
            self._queued = None

    def _start(self, count: int, reason: str) -> None:
        env = {
            **self.env,
            "SCALING_DESIRED": str(count),
            "SCALING_CURRENT": str(self.applied),
            "SCALING_REASON": reason[:500],
        }
        try:
            popen = subprocess.Popen([*self.argv, str(count)], env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            log.error("scaling_hook_unstartable argv=%s error=%s", self.argv, exc)
            return
        self._running = _Run(popen, count, self.clock())
        log.info("scaling_hook_started count=%d pid=%d", count, popen.pid)

    def close(self) -> None:
        """Wait briefly for a running hook; it is not killed (it may be mid-provisioning)."""
        if self._running is not None:
            try:
                self._running.popen.wait(5)
            except subprocess.TimeoutExpired:
                log.warning("scaling_hook_left_running pid=%d", self._running.popen.pid)
