"""The supervisor: a small synchronous reconcile loop over worker processes (gunicorn's arbiter).

Signal handlers only enqueue. Each pass handles queued signals (``handle_<name>``, dispatched by
name) and management commands, reaps dead workers, then applies what
:func:`~roulette.cluster.policy.reconcile` decides: kill the hung, bring workers to desired.
The loop sleeps in ``select`` on the heartbeat pipes and one wake-up pipe, so a signal, a
management request, a heartbeat or a child's death (its pipe reads end of file) wakes it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from prometheus_client import multiprocess

from roulette.cluster import policy
from roulette.cluster.channel import Command, Reply, ScalingRequest, SetCount, WakePipe
from roulette.cluster.forkserver import ForkServer
from roulette.cluster.policy import ExitKind, SlotHistory, WorkerState
from roulette.cluster.process import Listeners, WorkerProcess, spawn_worker
from roulette.config import Config
from roulette.scaling.sampler import WorkerReport

if TYPE_CHECKING:
    from roulette.scaling.scaler import Scaler

__all__ = ["EXIT_CRASH_LOOP", "SIGNALS", "Supervisor"]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)
EXIT_CRASH_LOOP = 3
"""The supervisor's exit code when workers crash-loop at boot (gunicorn halts with 3 too)."""

TICK = 0.25
"""Longest sleep between passes: the resolution of hung and stop deadlines."""

MAX_PENDING_SIGNALS = 16
"""Signals beyond this, arriving faster than one pass handles them, are dropped."""


class Supervisor:
    """Keeps ``desired`` workers alive on shared sockets until told to drain.

    Args:
        desired: the initial worker count.
        max_workers: the largest count allowed (1 without shared state, else 64).
        listeners: the sockets every worker inherits.
        config: the workers' settings (each worker receives it; none re-reads the environment).
        env: the workers' environment (for libraries that read it, e.g. prometheus_client).
        timeouts: heartbeat, boot and stop deadlines.
        commands: management commands, answered by the loop.
        wake: the self-pipe; signals and management requests write to it.
        node_id: a per-run prefix making worker ids unique across restarts and machines.
        metrics_dir: the Prometheus multiprocess directory, or None.
        crash_limit: boot failures within ``crash_window`` seconds that stop the cluster.
        crash_window: see ``crash_limit``.
        clock: monotonic seconds (injectable for tests).
        scaler: the autoscaler loop, run once per pass (None: the count changes only by hand).
        forkserver: the zygote workers are forked from (None: every worker is ``exec``'d).
            Started before the first workers, restarted when it dies, stopped after the
            last worker has exited.
    """

    def __init__(
        self,
        *,
        desired: int,
        max_workers: int,
        listeners: Listeners,
        config: Config,
        env: Mapping[str, str],
        timeouts: policy.Timeouts,
        commands: queue.Queue[Command],
        wake: WakePipe,
        node_id: str,
        metrics_dir: Path | None = None,
        crash_limit: int = policy.CRASH_LOOP_LIMIT,
        crash_window: float = policy.CRASH_LOOP_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        scaler: Scaler | None = None,
        drain_delay: float = 0.0,
        forkserver: ForkServer | None = None,
    ) -> None:
        self.desired = desired
        self.drain_delay = drain_delay
        """Seconds between SIGTERM and stopping the workers, while a balancer moves away."""
        self._workers_stop_at: float | None = None
        self.max_workers = max_workers
        self.listeners = listeners
        self.config = config
        self.env = env
        self.timeouts = timeouts
        self.commands = commands
        self.wake = wake
        self.node_id = node_id
        self.metrics_dir = metrics_dir
        self.crash_limit = crash_limit
        self.crash_window = crash_window
        self.clock = clock
        self.scaler = scaler
        self.forkserver = forkserver
        self.workers: dict[int, WorkerProcess] = {}
        self.slots: dict[int, SlotHistory] = {}
        self.roll: list[int] = []
        self.failures: tuple[float, ...] = ()
        self.exit_code: int | None = None
        self.hung_replaced = 0
        """Recovery actions: READY workers killed for a silent heartbeat (then respawned)."""
        self._signals: deque[int] = deque()
        self._selector = selectors.DefaultSelector()
        self._generation = itertools.count()

    @property
    def is_draining(self) -> bool:
        """True once SIGTERM/SIGINT or a crash loop started the final drain."""
        return self.exit_code is not None

    def run(self) -> int:
        """Supervise until drained; returns the process exit code (must run in the main thread)."""
        self._selector.register(self.wake.read_fd, selectors.EVENT_READ, None)
        previous = {sig: signal.signal(sig, self._enqueue) for sig in SIGNALS}
        previous_fd = signal.set_wakeup_fd(self.wake.write_fd, warn_on_full_buffer=False)
        try:
            self._start_forkserver()
            while not (self.is_draining and not self.workers):
                self.run_pass()
                self._wait()
            assert self.exit_code is not None
            return self.exit_code
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._abandon()
            if self.forkserver is not None:
                # After the workers: none is forked from a zygote that is going away.
                self.forkserver.stop()
            self._selector.close()

    def run_pass(self) -> None:
        """One pass: signals and commands, reap, reconcile, then answer the commands."""
        while self._signals:
            self._dispatch(self._signals.popleft())
        answered = self._take_commands()
        now = self.clock()
        if self._workers_stop_at is not None and now >= self._workers_stop_at:
            self._stop_workers()
        self.reap(now)
        self._tick_forkserver(now)
        if self.scaler is not None and not self.is_draining:
            self.scaler.tick(self)
        restart_at = {slot: s.restart_at for slot, s in self.slots.items()}
        views = [w.view() for w in self.workers.values()]
        actions = policy.reconcile(
            self.desired, views, restart_at, self.roll, now=now, timeouts=self.timeouts
        )
        for action in actions:
            self._apply(action, now)
        # Answer after reconciling, so a reply shows the stops and spawns a change caused.
        for command, reply in answered:
            command.reply.put_nowait(reply or Reply(200, self.status()))

    # -- signals: the handler only enqueues; the loop dispatches by name ---------------------

    def _enqueue(self, signum: int, _frame: FrameType | None) -> None:
        if len(self._signals) < MAX_PENDING_SIGNALS:
            self._signals.append(signum)

    def _dispatch(self, signum: int) -> None:
        name = signal.Signals(signum).name.lower().removeprefix("sig")
        handler: Callable[[], None] | None = getattr(self, f"handle_{name}", None)
        if handler is not None:
            handler()

    def handle_term(self) -> None:
        """SIGTERM: drain every worker, then exit 0; a second one kills them at once."""
        if self.is_draining:
            log.warning("drain_forced workers=%d", len(self.workers))
            for worker in self.workers.values():
                worker.kill()
            return
        self.begin_drain(0, "signal")

    def handle_int(self) -> None:
        """SIGINT (Ctrl-C): as SIGTERM."""
        self.handle_term()

    def handle_hup(self) -> None:
        """SIGHUP: replace every worker, one at a time, never dropping below the count."""
        if self.is_draining:
            return
        serving = (WorkerState.STARTING, WorkerState.READY)
        live = sorted((w for w in self.workers.values() if w.state in serving), key=_order)
        self.roll = [w.pid for w in live]
        log.info("rolling_restart_started workers=%d", len(self.roll))
        if self.forkserver is not None:
            # A roll deploys new code: its workers must not be forked from the old imports.
            # They are exec'd until the new zygote is ready.
            self.forkserver.recycle()

    def handle_ttin(self) -> None:
        """SIGTTIN: one more worker (up to the maximum)."""
        self.set_desired(self.desired + 1)

    def handle_ttou(self) -> None:
        """SIGTTOU: one worker fewer (at least one)."""
        self.set_desired(self.desired - 1)

    def set_desired(self, count: int) -> int:
        """Set the worker count, clamped to 1..max_workers; it persists until changed again.

        Returns:
            The count now desired (unchanged while draining).
        """
        if self.is_draining:
            return self.desired
        self.desired = max(policy.MIN_WORKERS, min(count, self.max_workers))
        for slot in list(self.slots):
            self._drop_slot_if_unused(slot)
        log.info("desired_workers count=%d", self.desired)
        return self.desired

    def begin_drain(self, exit_code: int, reason: str) -> None:
        """Stop every worker gracefully and exit with ``exit_code`` once all are gone."""
        if self.is_draining:
            return
        log.info("drain_started reason=%s workers=%d", reason, len(self.workers))
        self.exit_code = exit_code
        self.roll = []
        if reason == "signal" and self.drain_delay > 0:
            # The node's agent answers "drain" from now on (is_draining); the workers keep
            # serving until the balancer has had time to send new clients elsewhere.
            self._workers_stop_at = self.clock() + self.drain_delay
            return
        self._stop_workers()

    def _stop_workers(self) -> None:
        self._workers_stop_at = None
        self.desired = 0
        # Our copies of the listening sockets would keep the ports open with nobody accepting:
        # once workers close theirs, new connections are refused and a balancer moves on.
        self.listeners.close()

    # -- management commands ------------------------------------------------------------------

    def _take_commands(self) -> list[tuple[Command, Reply | None]]:
        """Carry out queued commands; None stands for "reply with the status after the pass"."""
        taken: list[tuple[Command, Reply | None]] = []
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return taken
            taken.append((command, self._carry_out(command)))

    def _carry_out(self, command: Command) -> Reply | None:
        if isinstance(command, SetCount):
            if self.is_draining:
                return Reply.error(409, "draining", "the cluster is shutting down")
            if command.count > self.max_workers:
                message = f"more than {self.max_workers} worker(s) needs Redis (REDIS_URL)"
                return Reply.error(409, "needs_shared_state", message)
            self.set_desired(command.count)
        elif isinstance(command, ScalingRequest):
            if self.scaler is None:
                return Reply.error(404, "not_found", "the autoscaler is not running")
            if self.is_draining and command.action != "status":
                return Reply.error(409, "draining", "the cluster is shutting down")
            status, body = self.scaler.handle(command.action, command.body, command.actor, self)
            return Reply(status, body)
        return None

    def worker_reports(self) -> list[WorkerReport]:
        """What each live worker's heartbeats said, for the autoscaler's sampler."""
        reports = []
        for worker in sorted(self.workers.values(), key=_order):
            if worker.state not in (WorkerState.STARTING, WorkerState.READY):
                continue  # stopping or killed workers are on their way out: not counted
            gap, worker.max_beat_gap = worker.max_beat_gap, None
            reports.append(
                WorkerReport(
                    pid=worker.pid,
                    worker_id=worker.worker_id,
                    ready=worker.state is WorkerState.READY,
                    connections=worker.connections,
                    counters=worker.counters,
                    beat_gap=gap,
                )
            )
        return reports

    def status(self) -> dict[str, Any]:
        """The management view: desired count and one entry per worker process."""
        now, wall = self.clock(), time.time()
        rolling = self.roll or any(w.state is WorkerState.RETIRING for w in self.workers.values())
        state = "draining" if self.is_draining else "rolling" if rolling else "running"
        workers = [
            w.describe(now, wall, self.slots.get(w.slot, SlotHistory()))
            for w in sorted(self.workers.values(), key=_order)
        ]
        waiting = [
            {"id": n, "restarts": s.restarts, "restartIn": round(s.restart_at - now, 3)}
            for n, s in sorted(self.slots.items())
            if n <= self.desired and s.restart_at > now
        ]
        return {
            "state": state,
            "desired": self.desired,
            "pid": os.getpid(),
            "workers": workers,
            "waiting": waiting,
            "recoveries": {"replace_hung_worker": self.hung_replaced},
            "zygote": None
            if (zygote := self.forkserver) is None
            else {
                "pid": zygote.pid,
                "ready": zygote.ready,
                "restarts": zygote.restarts,
            },
        }

    # -- reap, apply -----------------------------------------------------------------------------

    def reap(self, now: float) -> None:
        """Collect every exited worker and schedule its slot's restart when unexpected."""
        for worker in list(self.workers.values()):
            returncode = worker.popen.poll()
            if returncode is None:
                continue
            self._forget(worker)
            kind = policy.classify_exit(worker.state, returncode, ever_ready=worker.ever_ready)
            log.log(
                logging.INFO if kind is ExitKind.EXPECTED else logging.WARNING,
                "worker_exited slot=%d pid=%d code=%d kind=%s uptime=%.2f",
                *(worker.slot, worker.pid, returncode, kind.value, now - worker.started_at),
            )
            if kind is ExitKind.EXPECTED:
                self._drop_slot_if_unused(worker.slot)
            elif not self.is_draining:
                self._schedule_restart(worker, now)
                if kind is ExitKind.BOOT_FAILURE:
                    self._count_boot_failure(now)

    def _drop_slot_if_unused(self, slot: int) -> None:
        """Forget the history of a slot scaled away, once its last worker is gone."""
        if slot > self.desired and not any(w.slot == slot for w in self.workers.values()):
            self.slots.pop(slot, None)

    def _forget(self, worker: WorkerProcess) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(worker.heartbeat_fd)
        worker.close()
        del self.workers[worker.pid]
        if worker.pid in self.roll:
            self.roll.remove(worker.pid)
        if self.metrics_dir is not None:
            # Live gauges of a dead process must stop counting (prometheus_client multiprocess).
            # prometheus_client ships no annotations for this function.
            multiprocess.mark_process_dead(worker.pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]

    def _schedule_restart(self, worker: WorkerProcess, now: float) -> None:
        history = self.slots.get(worker.slot, SlotHistory())
        self.slots[worker.slot] = history.after_failure(now - worker.started_at, now)

    def _count_boot_failure(self, now: float) -> None:
        self.failures = policy.recent_failures((*self.failures, now), now, self.crash_window)
        if len(self.failures) < self.crash_limit:
            return
        self.failures = ()
        if self.roll or any(w.state is WorkerState.RETIRING for w in self.workers.values()):
            self._abort_roll()
            return
        message = (
            f"workers crash-loop at boot ({self.crash_limit} failed boots within "
            f"{self.crash_window:g} s); stopping. See the workers' errors above."
        )
        log.error("crash_loop %s", message)
        print(f"roulette cluster: {message}", file=sys.stderr, flush=True)
        self.begin_drain(EXIT_CRASH_LOOP, "crash-loop")

    def _abort_roll(self) -> None:
        """New code that cannot boot must not take the node down: keep the old workers."""
        log.error("rolling_restart_aborted reason=crash-loop")
        kept = {w.slot for w in self.workers.values() if w.state is WorkerState.RETIRING}
        for worker in list(self.workers.values()):
            if worker.state is WorkerState.RETIRING:
                worker.state = WorkerState.READY
            elif worker.slot in kept and worker.state is WorkerState.STARTING:
                worker.terminate(self.clock())  # one worker per slot: the old one serves
        self.roll = []

    def _apply(self, action: policy.Action, now: float) -> None:
        if isinstance(action, policy.Spawn):
            self._spawn(action.slot, now)
            return
        worker = self.workers[action.pid]
        if isinstance(action, policy.Kill):
            log.warning(
                "worker_killed slot=%d pid=%d reason=%s", *(worker.slot, worker.pid, action.reason)
            )
            worker.kill()
            if action.reason == "heartbeat-timeout":
                self.hung_replaced += 1
                log.warning("recovery_action action=replace_hung_worker slot=%d", worker.slot)
        elif isinstance(action, policy.Stop):
            worker.terminate(now)
        elif isinstance(action, policy.Retire):
            worker.state = WorkerState.RETIRING
            self.roll.remove(worker.pid)

    def _spawn(self, slot: int, now: float) -> None:
        worker_id = f"{self.node_id}-{slot}.{next(self._generation)}"
        self.slots.setdefault(slot, SlotHistory())
        try:
            worker = spawn_worker(
                slot=slot,
                worker_id=worker_id,
                listeners=self.listeners,
                config=self.config,
                env=self.env,
                now=now,
                forkserver=self.forkserver,
            )
        except OSError as exc:
            log.error("worker_spawn_failed slot=%d error=%s", slot, exc)
            self.slots[slot] = self.slots[slot].after_failure(0.0, now)
            return
        self.workers[worker.pid] = worker
        self._selector.register(worker.heartbeat_fd, selectors.EVENT_READ, worker)
        via = "zygote" if worker.forked else "exec"
        log.info("worker_started slot=%d pid=%d id=%s via=%s", slot, worker.pid, worker_id, via)

    # -- the zygote ------------------------------------------------------------------------------

    def _start_forkserver(self) -> None:
        """Start the zygote and wait for its imports, once, before the first workers."""
        if self.forkserver is not None and not self.forkserver.open(self._selector):
            self.forkserver = None

    def _tick_forkserver(self, now: float) -> None:
        if self.forkserver is None:
            return
        reaped = self.forkserver.tick(now, restart=not self.is_draining)
        if reaped is not None and self.metrics_dir is not None:
            # Its imports created metric files under its pid (prometheus_client multiprocess).
            multiprocess.mark_process_dead(reaped, str(self.metrics_dir))  # type: ignore[no-untyped-call]

    # -- waiting -----------------------------------------------------------------------------------

    def _wait(self) -> None:
        now = self.clock()
        due = [s.restart_at - now for s in self.slots.values() if s.restart_at > now]
        if self._workers_stop_at is not None:
            due.append(max(0.0, self._workers_stop_at - now))
        zygote = self.forkserver
        if zygote is not None and zygote.pid is None and not self.is_draining:
            due.append(max(0.0, zygote.restart_at - now))
        timeout = min([TICK, *due])
        for key, _ in self._selector.select(timeout):
            worker: WorkerProcess | ForkServer | None = key.data
            if worker is None:
                self.wake.drain()
                continue
            if isinstance(worker, ForkServer):
                worker.on_readable()
                continue
            was_starting = worker.state is WorkerState.STARTING
            if not worker.read_heartbeats(self.clock()):
                self._selector.unregister(worker.heartbeat_fd)
            elif was_starting and worker.state is WorkerState.READY:
                log.info(
                    "worker_ready slot=%d pid=%d boot_seconds=%.2f",
                    *(worker.slot, worker.pid, self.clock() - worker.started_at),
                )

    def _abandon(self) -> None:
        """On an unexpected exit from the loop, leave no orphans holding the ports."""
        for worker in list(self.workers.values()):
            worker.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.popen.wait(5)
            worker.close()
        self.workers.clear()


def _order(worker: WorkerProcess) -> tuple[int, float]:
    return worker.slot, worker.started_at
