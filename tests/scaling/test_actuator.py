"""SCALING_HOOK: a real command run with the desired count, one at a time."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from roulette.scaling.actuator import HookActuator


def hook_script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "hook.sh"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def wait_idle(hook: HookActuator, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hook.poll()
        if hook.applied == count and hook.target == count:
            return
        time.sleep(0.02)
    raise AssertionError(f"hook never applied {count} (applied {hook.applied})")


def test_the_hook_gets_the_count_as_argument_and_environment(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    script = hook_script(tmp_path, f'echo "$1 $SCALING_CURRENT $SCALING_REASON" >> {log}')
    hook = HookActuator(f"{script}", initial=2, env=dict(os.environ), clock=time.monotonic)
    hook.request(5, "sockets high")
    assert hook.target == 5
    wait_idle(hook, 5)
    assert log.read_text() == "5 2 sockets high\n"


def test_one_run_at_a_time_and_the_newest_count_wins(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    script = hook_script(tmp_path, f"sleep 0.3; echo $1 >> {log}")
    hook = HookActuator(str(script), initial=1, env=dict(os.environ), clock=time.monotonic)
    hook.request(3, "a")
    hook.request(4, "b")
    hook.request(6, "c")  # replaces 4 in the queue
    wait_idle(hook, 6)
    assert log.read_text().split() == ["3", "6"]


def test_a_failing_hook_is_not_taken_as_applied(tmp_path: Path) -> None:
    script = hook_script(tmp_path, "exit 7")
    hook = HookActuator(str(script), initial=2, env=dict(os.environ), clock=time.monotonic)
    hook.request(3, "x")
    deadline = time.monotonic() + 20
    while hook.target != 2 and time.monotonic() < deadline:
        hook.poll()
        time.sleep(0.02)
    assert hook.applied == 2


def test_an_empty_hook_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        HookActuator("  ", initial=1, env={}, clock=time.monotonic)


def test_an_overdue_hook_is_killed_and_not_applied(tmp_path: Path) -> None:
    script = hook_script(tmp_path, "sleep 30")
    now = [0.0]
    hook = HookActuator(str(script), initial=2, env=dict(os.environ), clock=lambda: now[0])
    hook.request(5, "x")
    hook.poll()
    assert hook.target == 5  # still running
    now[0] = 301.0  # past HOOK_TIMEOUT
    hook.poll()
    assert (hook.applied, hook.target) == (2, 2)
