"""The supervisor's pure rules, as tables: no processes, no clock, no sleeps."""

from __future__ import annotations

import pytest

from roulette.cluster.policy import (
    BACKOFF_CAP,
    EXIT_BOOT_FAILED,
    Action,
    ExitKind,
    Kill,
    Retire,
    SlotHistory,
    Spawn,
    Stop,
    Timeouts,
    WorkerState,
    WorkerView,
    classify_exit,
    hung_reason,
    is_crash_loop,
    is_valid_count,
    next_delay,
    recent_failures,
    reconcile,
    worker_count,
)
from roulette.runtime.worker import EXIT_BOOT_FAILED as WORKER_EXIT_BOOT_FAILED

S = WorkerState
T = Timeouts(heartbeat=10.0, boot=60.0, stop=15.0)


def w(
    pid: int,
    slot: int,
    state: WorkerState = S.READY,
    *,
    started: float = 0.0,
    beat: float | None = 99.0,
    stopping: float | None = None,
) -> WorkerView:
    return WorkerView(pid, slot, state, started, beat, stopping)


def test_the_policy_and_the_worker_agree_on_the_boot_failure_code() -> None:
    assert EXIT_BOOT_FAILED == WORKER_EXIT_BOOT_FAILED


@pytest.mark.parametrize(
    ("previous", "uptime", "expected"),
    [
        (None, 0.0, 0.1),  # first failure: 100 ms
        (0.1, 1.0, 0.15),  # x1.5
        (0.15, 29.9, 0.225),
        (0.225, 30.0, 0.1),  # 30 s up: reset
        (10.0, 5.0, 15.0),  # capped
        (15.0, 5.0, 15.0),
        (15.0, 3600.0, 0.1),
    ],
)
def test_next_delay_grows_by_half_from_100_ms_caps_at_15_s_and_resets_after_30_s_up(
    previous: float | None, uptime: float, expected: float
) -> None:
    assert next_delay(previous, uptime) == pytest.approx(expected)


def test_repeated_quick_failures_reach_the_15_s_cap_at_the_fourteenth_restart() -> None:
    history = SlotHistory()
    delays: list[float] = []
    for n in range(16):
        history = history.after_failure(uptime=1.0, now=float(n))
        assert history.delay is not None
        delays.append(history.delay)
    assert delays[:4] == pytest.approx([0.1, 0.15, 0.225, 0.3375])
    assert delays[12] < BACKOFF_CAP
    assert delays[13:] == [BACKOFF_CAP] * 3
    assert history.restarts == 16
    assert history.restart_at == 15.0 + BACKOFF_CAP


@pytest.mark.parametrize(
    ("state", "code", "ever_ready", "kind"),
    [
        (S.STOPPING, 0, True, ExitKind.EXPECTED),
        (S.STOPPING, -15, False, ExitKind.EXPECTED),  # SIGTERM before its handler existed
        (S.STOPPING, -9, True, ExitKind.EXPECTED),  # killed after the stop deadline
        (S.STARTING, EXIT_BOOT_FAILED, False, ExitKind.BOOT_FAILURE),
        (S.STARTING, 1, False, ExitKind.BOOT_FAILURE),  # died before its first heartbeat
        (S.KILLED, -9, False, ExitKind.BOOT_FAILURE),  # boot timeout
        (S.READY, -9, True, ExitKind.CRASH),
        (S.KILLED, -9, True, ExitKind.CRASH),  # hung, then killed
        (S.RETIRING, 1, True, ExitKind.CRASH),
        (S.READY, EXIT_BOOT_FAILED, True, ExitKind.BOOT_FAILURE),
    ],
)
def test_classify_exit(state: WorkerState, code: int, ever_ready: bool, kind: ExitKind) -> None:
    assert classify_exit(state, code, ever_ready=ever_ready) is kind


@pytest.mark.parametrize(
    ("failures", "now", "crash_loop"),
    [
        ((), 100.0, False),
        ((90.0, 91.0, 92.0, 93.0), 100.0, False),  # four
        ((90.0, 91.0, 92.0, 93.0, 94.0), 100.0, True),  # five within a minute
        ((40.0, 91.0, 92.0, 93.0, 94.0), 100.0, False),  # 60 s ago: out of the window
        ((40.5, 91.0, 92.0, 93.0, 94.0), 100.0, True),  # 59.5 s ago: inside
    ],
)
def test_crash_loop_is_five_boot_failures_within_sixty_seconds(
    failures: tuple[float, ...], now: float, crash_loop: bool
) -> None:
    assert is_crash_loop(failures, now) is crash_loop


def test_recent_failures_keeps_only_the_window() -> None:
    assert recent_failures((1.0, 50.0, 70.0), 100.0, 60.0) == (50.0, 70.0)


@pytest.mark.parametrize(
    ("worker", "now", "reason"),
    [
        (w(1, 1, S.STARTING, started=0.0, beat=None), 60.0, None),
        (w(1, 1, S.STARTING, started=0.0, beat=None), 60.1, "boot-timeout"),
        (w(1, 1, S.READY, beat=50.0), 60.0, None),
        (w(1, 1, S.READY, beat=50.0), 60.5, "heartbeat-timeout"),
        (w(1, 1, S.RETIRING, beat=50.0), 60.5, "heartbeat-timeout"),
        (w(1, 1, S.READY, started=0.0, beat=None), 10.5, "heartbeat-timeout"),
        (w(1, 1, S.STOPPING, beat=0.0, stopping=50.0), 65.0, None),  # draining: no beats
        (w(1, 1, S.STOPPING, beat=0.0, stopping=50.0), 65.1, "stop-timeout"),
        (w(1, 1, S.STOPPING, started=0.0, beat=None), 15.1, "stop-timeout"),
        (w(1, 1, S.KILLED, beat=0.0), 1000.0, None),  # already killed: wait for the reap
    ],
)
def test_hung_reason(worker: WorkerView, now: float, reason: str | None) -> None:
    assert hung_reason(worker, now, T) == reason


@pytest.mark.parametrize(
    ("requested", "cpus", "count"),
    [(0, 2, 2), (0, None, 1), (3, 2, 3), (0, 128, 64), (100, 2, 64), (1, 8, 1)],
)
def test_worker_count_is_one_per_cpu_for_zero_and_clamped(
    requested: int, cpus: int | None, count: int
) -> None:
    assert worker_count(requested, cpus) == count


@pytest.mark.parametrize(
    ("value", "valid"),
    [(1, True), (64, True), (0, False), (65, False), (True, False), (2.0, False), ("2", False)],
)
def test_is_valid_count(value: object, valid: bool) -> None:
    assert is_valid_count(value) is valid


Case = tuple[int, list[WorkerView], dict[int, float], list[int], float, list[Action]]
"""desired, workers, restart_at, roll, now -> the actions expected."""

RECONCILE: dict[str, Case] = {
    "starts every slot of an empty cluster": (2, [], {}, [], 100.0, [Spawn(1), Spawn(2)]),
    "does nothing when all serve": (2, [w(1, 1), w(2, 2)], {}, [], 100.0, []),
    "a starting worker counts as serving": (1, [w(1, 1, S.STARTING, beat=None)], {}, [], 1.0, []),
    "waits out a slot's backoff": (2, [w(1, 1)], {2: 100.5}, [], 100.0, []),
    "refills a slot once its backoff passed": (2, [w(1, 1)], {2: 100.0}, [], 100.0, [Spawn(2)]),
    "grows to a higher count": (3, [w(1, 1), w(2, 2)], {}, [], 100.0, [Spawn(3)]),
    "stops the highest slots on a lower count": (
        1,
        [w(1, 1), w(2, 2), w(3, 3, S.STARTING, started=99.0, beat=None)],
        {},
        [],
        100.0,
        [Stop(2), Stop(3)],
    ),
    "ignores workers already stopping": (
        1,
        [w(1, 1), w(2, 2, S.STOPPING, stopping=99.0)],
        {},
        [],
        100.0,
        [],
    ),
    "kills the hung and replaces it in the same pass": (
        2,
        [w(1, 1), w(2, 2, beat=80.0)],
        {},
        [],
        100.0,
        [Kill(2, "heartbeat-timeout"), Spawn(2)],
    ),
    "kills a worker that ignores SIGTERM past the deadline": (
        1,
        [w(1, 1), w(2, 2, S.STOPPING, stopping=80.0)],
        {},
        [],
        100.0,
        [Kill(2, "stop-timeout")],
    ),
    "draining is desired zero": (
        0,
        [w(1, 1), w(2, 2, S.STARTING, started=99.0, beat=None)],
        {},
        [],
        100.0,
        [Stop(1), Stop(2)],
    ),
    "a roll retires the first worker and starts its replacement": (
        2,
        [w(1, 1), w(2, 2)],
        {},
        [1, 2],
        100.0,
        [Retire(1), Spawn(1)],
    ),
    "a roll waits for the replacement's first heartbeat": (
        2,
        [w(1, 1, S.RETIRING), w(3, 1, S.STARTING, started=99.0, beat=None), w(2, 2)],
        {},
        [2],
        100.0,
        [],
    ),
    "a ready replacement stops the retiring worker, one slot at a time": (
        2,
        [w(1, 1, S.RETIRING), w(3, 1), w(2, 2)],
        {},
        [2],
        100.0,
        [Stop(1)],
    ),
    "the next slot rolls once the previous one is stopping": (
        2,
        [w(1, 1, S.STOPPING, stopping=99.0), w(3, 1), w(2, 2)],
        {},
        [2],
        100.0,
        [Retire(2), Spawn(2)],
    ),
    "a roll skips workers that died meanwhile": (
        1,
        [w(5, 1)],
        {},
        [4, 5],
        100.0,
        [Retire(5), Spawn(1)],
    ),
    "a roll waits for a worker still booting": (
        2,
        [w(1, 1, S.STARTING, started=99.0, beat=None), w(2, 2)],
        {},
        [1, 2],
        100.0,
        [],
    ),
    "a replacement that failed to boot waits out its backoff": (
        1,
        [w(1, 1, S.RETIRING)],
        {1: 101.0},
        [],
        100.0,
        [],
    ),
    "a roll does not retire slots being scaled away": (
        1,
        [w(1, 1, S.RETIRING), w(3, 1), w(2, 2)],
        {},
        [2],
        100.0,
        [Stop(1), Stop(2)],
    ),
}


@pytest.mark.parametrize("case", list(RECONCILE.values()), ids=list(RECONCILE))
def test_reconcile(case: Case) -> None:
    desired, workers, restart_at, roll, now, actions = case
    assert reconcile(desired, workers, restart_at, roll, now=now, timeouts=T) == actions
