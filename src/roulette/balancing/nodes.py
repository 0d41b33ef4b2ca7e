"""What a node announces to the balancer, and the balancer's name for it. Pure.

A record is JSON in the registry (see :mod:`roulette.balancing.registry`); the balancer turns
each record into one server in each of its two backends (HTTP and WebSocket).
"""

from __future__ import annotations

import enum
import json
import re
import zlib
from dataclasses import dataclass

__all__ = ["NodeRecord", "NodeState", "decode_node", "encode_node", "server_weight"]

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class NodeState(enum.StrEnum):
    """A node's own view of itself, as its agent check reports it."""

    READY = "ready"
    DRAINING = "draining"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One node as the balancer sees it.

    Attributes:
        node_id: unique and stable for the node's life.
        host: the address the balancer reaches the node at.
        http_port / ws_port / agent_port: its listeners.
        capacity: sockets it may hold (``MAX_CONNECTIONS`` x workers).
        in_use: sockets it holds now.
        state: ready, draining or stopping.
        expires_at: wall-clock time after which the record is stale.
    """

    node_id: str
    host: str
    http_port: int
    ws_port: int
    agent_port: int
    capacity: int
    in_use: int
    state: NodeState
    expires_at: float

    @property
    def server_name(self) -> str:
        """The HAProxy server name: ``n-`` + the id, limited to HAProxy's name characters."""
        return "n-" + _NAME_UNSAFE.sub("_", self.node_id)[:60]

    @property
    def server_id(self) -> int:
        """A stable HAProxy server id (1..2^31-1) from the node id.

        HAProxy places a server on the consistent-hash ring by its id, and ids are otherwise
        numbered in order of appearance: a node must keep its id across a reload (where the
        file lists servers in a different order than the runtime API added them), or sources
        would move between nodes that never changed.
        """
        return zlib.crc32(self.node_id.encode()) % 0x7FFFFFFE + 1

    def free_fraction(self) -> float:
        """Free sockets over capacity, 0..1."""
        if self.capacity <= 0:
            return 0.0
        return max(0.0, min(1.0, (self.capacity - self.in_use) / self.capacity))


def server_weight(capacity: int) -> int:
    """The static HAProxy weight of a node: one unit per 1000 sockets, within HAProxy's 1..256."""
    return max(1, min(256, round(capacity / 1000)))


def encode_node(node: NodeRecord) -> str:
    """A record as JSON."""
    return json.dumps(
        {
            "node_id": node.node_id,
            "host": node.host,
            "http_port": node.http_port,
            "ws_port": node.ws_port,
            "agent_port": node.agent_port,
            "capacity": node.capacity,
            "in_use": node.in_use,
            "state": node.state.value,
            "expires_at": node.expires_at,
        }
    )


def decode_node(raw: str | bytes) -> NodeRecord:
    """The inverse of :func:`encode_node`.

    Raises:
        ValueError: not a record (a foreign or corrupt entry).
    """
    try:
        fields = json.loads(raw)
        return NodeRecord(
            node_id=str(fields["node_id"]),
            host=str(fields["host"]),
            http_port=int(fields["http_port"]),
            ws_port=int(fields["ws_port"]),
            agent_port=int(fields["agent_port"]),
            capacity=int(fields["capacity"]),
            in_use=int(fields["in_use"]),
            state=NodeState(fields["state"]),
            expires_at=float(fields["expires_at"]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a node record: {exc}") from exc
