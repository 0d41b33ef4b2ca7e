"""How the management API talks to the reconcile loop: commands, replies, a wake-up pipe.

The loop owns all state; another thread only puts a command on a bounded queue, wakes the
loop, and waits for the :class:`Reply` the loop puts on the command's own one-slot queue.
"""

from __future__ import annotations

import contextlib
import os
import queue
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Command", "Reply", "ScalingRequest", "SetCount", "StatusRequest", "WakePipe"]


class WakePipe:
    """The self-pipe that wakes the loop: signals (``set_wakeup_fd``) and requests write to it."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    def wake(self) -> None:
        """Make the next (or current) ``select`` return; safe from any thread."""
        # A full pipe already guarantees a wake-up.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.write_fd, b"\0")

    def drain(self) -> None:
        """Empty the pipe so the next ``select`` sleeps again."""
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self.read_fd, 4096):
                pass

    def close(self) -> None:
        """Close both ends."""
        os.close(self.read_fd)
        os.close(self.write_fd)


@dataclass(frozen=True, slots=True)
class Reply:
    """The loop's answer to a management command: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Reply:
        """An error reply in the API's one shape: ``{"error": {"code", "message"}}``."""
        return cls(status, {"error": {"code": code, "message": message}})


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """Ask for :meth:`Supervisor.status`."""

    reply: queue.Queue[Reply] = field(default_factory=lambda: queue.Queue(maxsize=1))


@dataclass(frozen=True, slots=True)
class SetCount:
    """Set the desired worker count (it sticks, as SIGTTIN/SIGTTOU do)."""

    count: int
    reply: queue.Queue[Reply] = field(default_factory=lambda: queue.Queue(maxsize=1))


@dataclass(frozen=True, slots=True)
class ScalingRequest:
    """A ``/scaling/*`` request for the autoscaler: ``status``, ``manual`` or ``clear``."""

    action: str
    body: dict[str, Any]
    actor: str
    reply: queue.Queue[Reply] = field(default_factory=lambda: queue.Queue(maxsize=1))


Command = StatusRequest | SetCount | ScalingRequest
