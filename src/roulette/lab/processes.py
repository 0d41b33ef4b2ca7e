"""Start the lab's processes detached (own session, own log) and stop them by process group.

Every process is the leader of a new session, so its children (a cluster's workers, HAProxy
under ``roulette lb run``) share its process group and one ``killpg`` reaches them all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["group_members", "is_alive", "signal_group", "spawn", "stop_group", "wait_gone"]

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Our live children: a Popen dropped while its process runs warns (ResourceWarning), and the
lab's processes outlive the call that started them by design."""


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path) -> int:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log``.

    Returns:
        The pid (also the process-group id).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    return process.pid


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (reaping it if it is our child)."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:  # reap our own exited child
        del _CHILDREN[pid]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def group_members(pgid: int) -> list[int]:
    """Every live process whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
                members.append(int(entry.name))
    return members


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid`` (nothing if it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_gone(pids: Sequence[int], timeout: float) -> bool:
    """Wait until none of ``pids`` is alive; returns whether they all went."""
    deadline = time.monotonic() + timeout
    while any(is_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_group(pgid: int, timeout: float = 20.0) -> bool:
    """SIGTERM the group, then SIGKILL whatever is left after ``timeout``.

    Returns:
        True when no member of the group is left.
    """
    members = group_members(pgid) or [pgid]
    signal_group(pgid, signal.SIGTERM)
    if wait_gone(members, timeout):
        return True
    signal_group(pgid, signal.SIGKILL)
    return wait_gone(group_members(pgid) or members, 10.0)
