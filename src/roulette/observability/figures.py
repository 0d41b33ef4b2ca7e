"""What the metrics, the health routes and the monitor read of a node's socket hub.

A Protocol, so that observability and the HTTP layer name no gateway type (layers: they sit
beside or below the gateway); :class:`roulette.gateway.hub.Hub` satisfies it.
"""

from __future__ import annotations

from typing import Protocol

from roulette.observability.relay_latency import RelayLatency

__all__ = ["HubFigures"]


class HubFigures(Protocol):
    """The hub's identity and live figures."""

    @property
    def worker_id(self) -> str:
        """This process's id in the fleet."""
        ...

    @property
    def relayed(self) -> int:
        """Messages relayed since start."""
        ...

    @property
    def latency(self) -> RelayLatency:
        """The sampled relay latencies."""
        ...

    def __len__(self) -> int:
        """Open sockets."""
        ...
