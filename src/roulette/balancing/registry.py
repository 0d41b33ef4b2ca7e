"""The balancer's node registry in Redis: nodes announce themselves, ``roulette lb run`` reads.

One hash (:data:`~roulette.storage.keys.LB_NODES`), node id -> JSON record with its own
``expires_at``: a node that stops announcing drops out of :meth:`NodeRegistry.live` after its
TTL even if nobody deletes it. ``expires_at`` is the announcing node's wall clock, so node and
balancer clocks must agree to well within the TTL (NTP does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from roulette.balancing.nodes import NodeRecord, decode_node, encode_node
from roulette.storage.keys import LB_NODES
from roulette.storage.redis.client import RedisClient, unavailable_on_failure

__all__ = ["NodeRegistry"]

log = logging.getLogger(__name__)

KEY_TTL_FACTOR = 3
"""The hash itself outlives the newest record by this many record TTLs."""


class NodeRegistry:
    """Announce, withdraw and list nodes.

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
    """

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def announce(self, node: NodeRecord, *, ttl: float) -> None:
        """Write ``node`` (valid until its ``expires_at``).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        with unavailable_on_failure():
            await self._client.hset(LB_NODES, node.node_id, encode_node(node))
            await self._client.expire(LB_NODES, max(1, round(ttl * KEY_TTL_FACTOR)))

    async def withdraw(self, node_id: str) -> None:
        """Remove a node at once (graceful shutdown).

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        with unavailable_on_failure():
            await self._client.hdel(LB_NODES, node_id)

    async def live(self, *, now: float) -> list[NodeRecord]:
        """Every node whose record has not expired at ``now``, by id; prunes the stale ones.

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        with unavailable_on_failure():
            raw: dict[bytes | str, bytes | str] = await self._client.hgetall(LB_NODES)
        nodes: list[NodeRecord] = []
        stale: list[bytes | str] = []
        for field, value in raw.items():
            try:
                node = decode_node(value)
            except ValueError:
                log.warning("lb_registry_bad_record node=%r", field)
                stale.append(field)
                continue
            if node.expires_at > now:
                nodes.append(node)
            else:
                stale.append(field)
        await self._prune(stale)
        return sorted(nodes, key=lambda n: n.node_id)

    async def _prune(self, fields: Sequence[bytes | str]) -> None:
        if fields:
            with unavailable_on_failure():
                await self._client.hdel(LB_NODES, *fields)
