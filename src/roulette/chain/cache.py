"""A bounded time-to-live cache with the clock passed in (pure: no clock of its own)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values that expire ``ttl`` seconds after they were put; the oldest go first when full.

    Args:
        max_entries: the bound; putting one more evicts the least recently put entry.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, *, now: float) -> V | None:
        """The value of ``key`` while it is fresh, else None (and the stale entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if now >= expires_at:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, *, now: float, ttl: float) -> None:
        """Remember ``value`` until ``now + ttl``; a ttl of 0 or less stores nothing."""
        if ttl <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (now + ttl, value)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
