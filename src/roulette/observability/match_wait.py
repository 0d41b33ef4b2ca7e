"""Time to match, per user: from joining the queue to the match-found notice.

The worker holding a user's socket notes when the user joined (the queue entry's
``enqueued_at``, on the wall clock) and, when that user's match notice reaches the socket —
made by this worker's join or by another user's join on any worker — observes the session's
``started_at`` minus it. Each of the two users is observed once, by their own worker. The
notes are bounded (the oldest go first), so users who left the queue cost nothing for long.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from roulette.observability.metrics import TIME_TO_MATCH

__all__ = ["MAX_WAITING", "MatchWaits"]

MAX_WAITING: Final = 65_536
"""Join times remembered at most (one per user waiting on this worker)."""


class MatchWaits:
    """Join times of this worker's waiting users, observed as time-to-match when matched."""

    __slots__ = ("_joined", "observed")

    def __init__(self) -> None:
        self._joined: OrderedDict[str, float] = OrderedDict()
        self.observed = 0

    def joined(self, address: str, at: float) -> None:
        """``address`` joined (or rejoined) the queue at ``at`` (wall seconds)."""
        self._joined[address] = at
        self._joined.move_to_end(address)
        if len(self._joined) > MAX_WAITING:
            self._joined.popitem(last=False)

    def matched(self, address: str, started_at: float) -> float | None:
        """``address`` was matched in a session started at ``started_at``: its wait, once."""
        at = self._joined.pop(address, None)
        if at is None:
            return None
        wait = max(0.0, started_at - at)
        TIME_TO_MATCH.observe(wait)
        self.observed += 1
        return wait
