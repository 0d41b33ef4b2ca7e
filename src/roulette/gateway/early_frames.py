"""Relayed frames that overtook the match or resume they belong to. Pure.

A relayed frame and the control notice that makes its session known here travel by two paths
(pub/sub and the control log, see :mod:`~roulette.gateway.bridge`) with no order between them,
so the peer's first frames may arrive before the match. They wait here, per (session, user),
until the match or resume is applied, or the session ends, or the bounds push them out.

Held per (session, user) rather than per user: a late frame of the user's previous session
must not push out the new one's. And whether or not the user has a socket on this worker yet:
a wallet that signs in again may get, on its new socket, the match its old socket's queue
entry made, after the peer's first frames (both seen in the lab's node kill).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from roulette.identity import Address, SessionId

__all__ = ["MAX_BYTES", "MAX_FRAMES", "MAX_SESSIONS", "EarlyFrames"]

MAX_FRAMES: Final = 32
"""Frames held per user and session (later ones are dropped)."""
MAX_SESSIONS: Final = 4_096
"""Sessions with frames held at most (the oldest are dropped first)."""
MAX_BYTES: Final = 8 * 1024 * 1024
"""Bytes held at most over all sessions (the oldest sessions are dropped first)."""


class EarlyFrames:
    """Frames waiting for their session, bounded in sessions, frames and bytes."""

    __slots__ = ("_held", "bytes", "max_bytes", "max_sessions")

    def __init__(self, *, max_sessions: int = MAX_SESSIONS, max_bytes: int = MAX_BYTES) -> None:
        self._held: OrderedDict[SessionId, dict[Address, list[bytes]]] = OrderedDict()
        self.bytes = 0
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes

    def __len__(self) -> int:
        """Sessions with frames held."""
        return len(self._held)

    def sessions(self) -> list[SessionId]:
        """The sessions with frames held, oldest first."""
        return list(self._held)

    def hold(self, address: Address, session_id: SessionId, frame: bytes) -> None:
        """Keep ``frame`` for ``address`` until ``session_id`` is known here."""
        users = self._held.get(session_id)
        if users is None:
            users = self._held[session_id] = {}
        frames = users.setdefault(address, [])
        if len(frames) >= MAX_FRAMES:
            return
        frames.append(frame)
        self.bytes += len(frame)
        held = self._held
        while len(held) > self.max_sessions or self.bytes > self.max_bytes:
            self.drop(next(iter(held)))

    def take(self, address: Address, session_id: SessionId) -> list[bytes]:
        """The frames held for ``address`` in ``session_id``, in arrival order; forgotten."""
        users = self._held.get(session_id)
        frames = users.pop(address, None) if users is not None else None
        if frames is None:
            return []
        if not users:
            del self._held[session_id]
        self.bytes -= sum(len(f) for f in frames)
        return frames

    def drop(self, session_id: SessionId) -> None:
        """Forget every frame held for ``session_id`` (it ended)."""
        users = self._held.pop(session_id, None)
        if users is not None:
            self.bytes -= sum(len(f) for frames in users.values() for f in frames)
