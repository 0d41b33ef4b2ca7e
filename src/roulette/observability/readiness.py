"""Whether this node takes new load: draining and shedding flags, with who set them.

``/health/ready`` answers 503 while any flag is set, so a load balancer stops sending new
users. The monitor sheds while a load alert is critical; load balancing (draining, its own
shedding) and the supervisor's drain set their own reasons here. Pure: plain state.
"""

from __future__ import annotations

__all__ = ["LoadGate"]


class LoadGate:
    """The reasons this node is not taking new load (empty: it is)."""

    __slots__ = ("_draining", "_shedding")

    def __init__(self) -> None:
        self._draining = False
        self._shedding: set[str] = set()

    def drain(self) -> None:
        """The node is going away: not ready from now on."""
        self._draining = True

    def shed(self, source: str, on: bool) -> None:
        """Start (``on``) or stop shedding new load on behalf of ``source`` (monitor, lb)."""
        if on:
            self._shedding.add(source)
        else:
            self._shedding.discard(source)

    @property
    def draining(self) -> bool:
        """True once :meth:`drain` was called."""
        return self._draining

    @property
    def shedding(self) -> bool:
        """True while any source sheds."""
        return bool(self._shedding)

    def is_shedding(self, source: str) -> bool:
        """True while ``source`` sheds."""
        return source in self._shedding

    def reasons(self) -> list[str]:
        """Why the node is not ready (empty: it is), e.g. ``["draining", "shedding:monitor"]``."""
        return (["draining"] if self._draining else []) + [
            f"shedding:{s}" for s in sorted(self._shedding)
        ]
