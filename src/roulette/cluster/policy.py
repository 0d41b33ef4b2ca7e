"""Pure decisions of the cluster supervisor: restart backoff, crash loops, hung workers, reconcile.

Theory of operation: the supervisor describes what it sees (one :class:`WorkerView` per child
process, the desired count, when each slot may start again, the rolling-restart queue) and
:func:`reconcile` answers with a list of actions. Nothing here touches a process or a clock:
``now`` is monotonic seconds passed in, so every rule is tested with plain tables.

A *slot* is a numbered place for one worker (1..desired). A dead worker's slot is refilled after
its backoff; a slot above the desired count is emptied; a slot whose only worker is RETIRING (a
rolling restart) gets a new worker, and the old one is stopped once the new one is READY.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "BACKOFF_CAP",
    "BACKOFF_FACTOR",
    "BACKOFF_INITIAL",
    "CRASH_LOOP_LIMIT",
    "CRASH_LOOP_WINDOW",
    "EXIT_BOOT_FAILED",
    "MAX_WORKERS",
    "MIN_WORKERS",
    "STABLE_AFTER",
    "Action",
    "ExitKind",
    "Kill",
    "Retire",
    "SlotHistory",
    "Spawn",
    "Stop",
    "Timeouts",
    "WorkerState",
    "WorkerView",
    "classify_exit",
    "hung_reason",
    "is_crash_loop",
    "is_valid_count",
    "next_delay",
    "recent_failures",
    "reconcile",
    "worker_count",
]

# PM2's exponential restart delay: x1.5 from 100 ms, capped at 15 s, reset after 30 s up.
BACKOFF_INITIAL = 0.1
BACKOFF_FACTOR = 1.5
BACKOFF_CAP = 15.0
STABLE_AFTER = 30.0

# Five failed boots within a minute: the code or the environment is broken, not unlucky.
CRASH_LOOP_LIMIT = 5
CRASH_LOOP_WINDOW = 60.0

MIN_WORKERS = 1
MAX_WORKERS = 64

EXIT_BOOT_FAILED = 3
"""The worker's reserved exit code for "failed before serving" (``roulette.runtime.worker``);
restated here because this module imports nothing from the runtime."""


class WorkerState(enum.Enum):
    """Where one worker process is in its life, as the supervisor sees it."""

    STARTING = "starting"
    """Spawned; no heartbeat yet."""
    READY = "ready"
    """Heartbeating: serving."""
    RETIRING = "retiring"
    """Still serving, but to be stopped once its slot's replacement is READY (SIGHUP)."""
    STOPPING = "stopping"
    """Sent SIGTERM: draining its connections."""
    KILLED = "killed"
    """Sent SIGKILL: waiting to be reaped."""


_SERVING = frozenset({WorkerState.STARTING, WorkerState.READY})
_LIVE = frozenset({WorkerState.STARTING, WorkerState.READY, WorkerState.RETIRING})


class ExitKind(enum.Enum):
    """Why a reaped worker is gone, which decides what happens next."""

    EXPECTED = "expected"
    """We asked it to stop: nothing to restart."""
    BOOT_FAILURE = "boot-failure"
    """It never served: restart with backoff, and count it towards a crash loop."""
    CRASH = "crash"
    """It served, then died or hung: restart with backoff."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the supervisor waits before it gives up on a worker (seconds).

    Attributes:
        heartbeat: a READY worker silent this long is hung (gunicorn's ``timeout``).
        boot: a STARTING worker without a first heartbeat after this long is hung.
        stop: a STOPPING worker still alive after this long is killed (shutdown + margin).
    """

    heartbeat: float = 10.0
    boot: float = 60.0
    stop: float = 15.0


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What the policy needs to know about one worker process (times are monotonic)."""

    pid: int
    slot: int
    state: WorkerState
    started_at: float
    last_heartbeat: float | None = None
    stopping_since: float | None = None


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start a new worker in ``slot``."""

    slot: int


@dataclass(frozen=True, slots=True)
class Stop:
    """Ask worker ``pid`` to drain and exit (SIGTERM)."""

    pid: int


@dataclass(frozen=True, slots=True)
class Kill:
    """Kill worker ``pid`` now (SIGKILL); ``reason`` is for the log."""

    pid: int
    reason: str


@dataclass(frozen=True, slots=True)
class Retire:
    """Mark worker ``pid`` RETIRING: the next step of a rolling restart."""

    pid: int


Action = Spawn | Stop | Kill | Retire


@dataclass(frozen=True, slots=True)
class SlotHistory:
    """The restart history of one slot: how often, the last backoff, when it may start again."""

    restarts: int = 0
    delay: float | None = None
    restart_at: float = 0.0

    def after_failure(self, uptime: float, now: float) -> SlotHistory:
        """The history once a worker that ran ``uptime`` seconds died (or failed to start)."""
        delay = next_delay(self.delay, uptime)
        return SlotHistory(self.restarts + 1, delay, now + delay)


def next_delay(previous: float | None, uptime: float) -> float:
    """The wait before restarting a worker that just died.

    Args:
        previous: the delay used before this slot's last start, or None for a first failure.
        uptime: how long the dead worker ran.

    Returns:
        ``BACKOFF_INITIAL`` after a stable run (or the first time), else the previous delay
        times ``BACKOFF_FACTOR``, at most ``BACKOFF_CAP``.
    """
    if previous is None or uptime >= STABLE_AFTER:
        return BACKOFF_INITIAL
    return min(previous * BACKOFF_FACTOR, BACKOFF_CAP)


def classify_exit(state: WorkerState, returncode: int, *, ever_ready: bool) -> ExitKind:
    """Why a reaped worker is gone.

    Args:
        state: its state when it was reaped.
        returncode: its exit status (negative: the signal that ended it).
        ever_ready: whether it ever sent a heartbeat.
    """
    if state is WorkerState.STOPPING:
        return ExitKind.EXPECTED
    if returncode == EXIT_BOOT_FAILED or not ever_ready:
        return ExitKind.BOOT_FAILURE
    return ExitKind.CRASH


def recent_failures(failures: Sequence[float], now: float, window: float) -> tuple[float, ...]:
    """The failure times that are still inside the crash-loop window."""
    return tuple(t for t in failures if now - t < window)


def is_crash_loop(
    failures: Sequence[float],
    now: float,
    *,
    limit: int = CRASH_LOOP_LIMIT,
    window: float = CRASH_LOOP_WINDOW,
) -> bool:
    """True when ``limit`` boot failures happened within the last ``window`` seconds."""
    return len(recent_failures(failures, now, window)) >= limit


def hung_reason(worker: WorkerView, now: float, timeouts: Timeouts) -> str | None:
    """Why ``worker`` must be killed now, or None while it is within its deadlines."""
    if worker.state is WorkerState.STARTING:
        late = now - worker.started_at > timeouts.boot
        return "boot-timeout" if late else None
    if worker.state in (WorkerState.READY, WorkerState.RETIRING):
        seen = worker.started_at if worker.last_heartbeat is None else worker.last_heartbeat
        return "heartbeat-timeout" if now - seen > timeouts.heartbeat else None
    if worker.state is WorkerState.STOPPING:
        since = worker.started_at if worker.stopping_since is None else worker.stopping_since
        return "stop-timeout" if now - since > timeouts.stop else None
    return None


def worker_count(requested: int, cpus: int | None) -> int:
    """``CLUSTER_WORKERS`` resolved: 0 means one per CPU; clamped to 1..MAX_WORKERS."""
    count = requested if requested > 0 else (cpus or 1)
    return max(MIN_WORKERS, min(count, MAX_WORKERS))


def is_valid_count(count: object) -> bool:
    """True for an ``int`` (not a bool) in MIN_WORKERS..MAX_WORKERS."""
    return (
        isinstance(count, int)
        and not isinstance(count, bool)
        and MIN_WORKERS <= count <= MAX_WORKERS
    )


def reconcile(
    desired: int,
    workers: Sequence[WorkerView],
    restart_at: Mapping[int, float],
    roll: Sequence[int],
    *,
    now: float,
    timeouts: Timeouts,
) -> list[Action]:
    """One pass of the supervisor: kill the hung, then bring actual workers to ``desired``.

    Args:
        desired: how many slots should serve (0 while draining).
        workers: every worker process not yet reaped.
        restart_at: per slot, the earliest time it may start a worker (backoff); absent = now.
        roll: pids still to be replaced by the rolling restart, in order.
        now: monotonic seconds.
        timeouts: the deadlines of :func:`hung_reason`.

    Returns:
        Kills first, then retirements, stops and spawns; each pid and slot appears once.
    """
    actions: list[Action] = []
    for worker in workers:
        reason = hung_reason(worker, now, timeouts)
        if reason is not None:
            actions.append(Kill(worker.pid, reason))
    killed = {a.pid for a in actions if isinstance(a, Kill)}
    live = [w for w in workers if w.state in _LIVE and w.pid not in killed]
    retire = _next_to_retire(live, roll, desired)
    if retire is not None:
        actions.append(Retire(retire))
    retiring = {w.pid for w in live if w.state is WorkerState.RETIRING or w.pid == retire}
    serving = {w.slot for w in live if w.state in _SERVING and w.pid not in retiring}
    ready = {w.slot for w in live if w.state is WorkerState.READY and w.pid not in retiring}
    for worker in live:
        replaced = worker.pid in retiring and worker.slot in ready
        if worker.slot > desired or replaced:
            actions.append(Stop(worker.pid))
    for slot in range(1, desired + 1):
        if slot not in serving and restart_at.get(slot, now) <= now:
            actions.append(Spawn(slot))
    return actions


def _next_to_retire(live: Sequence[WorkerView], roll: Sequence[int], desired: int) -> int | None:
    """The next pid of the rolling restart, once the previous one is done (one at a time)."""
    if any(w.state is WorkerState.RETIRING for w in live):
        return None
    by_pid = {w.pid: w for w in live}
    for pid in roll:
        worker = by_pid.get(pid)
        if worker is None or worker.slot > desired:
            continue  # gone or being scaled away: a new worker replaces it anyway
        # A worker still booting when SIGHUP came: wait until it serves, then replace it,
        # rather than retire something that is not serving yet.
        return pid if worker.state is WorkerState.READY else None
    return None
