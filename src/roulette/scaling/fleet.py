"""The fleet board in Redis: every node publishes its sample; one leader scales the fleet.

Each supervisor writes its :class:`~roulette.scaling.signals.NodeSignals` into one hash
(``SCALING.nodes``) every evaluation and reads everybody's back; samples older than
``max_age`` are dropped (a node that stopped publishing is missing, as HPA treats a pod
without metrics). Only the leader (``SCALING.leader``, a key with a TTL that its holder renews,
taken with SET NX when free) runs ``SCALING_HOOK``, so a fleet of N nodes makes one decision.
It uses a synchronous client with short timeouts: it runs in the supervisor's loop, and a slow
or absent Redis must cost at most one skipped evaluation, never a stuck supervisor.
"""

from __future__ import annotations

import json
import logging

import redis

from roulette.config import RedisSettings
from roulette.scaling.signals import NodeSignals
from roulette.storage.keys import SCALING
from roulette.storage.redis.client import SyncClient, connect_sync

__all__ = ["REDIS_TIMEOUT", "FleetBoard"]

log = logging.getLogger(__name__)

_FAILURES = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)
"""What a board operation survives: the evaluation goes without the fleet."""

REDIS_TIMEOUT = 0.5
"""Seconds a board operation may take before this evaluation goes without the fleet."""

MAX_NODES = 1000

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
"""Keep the lease if it is ours, take it if it is free; one atomic step (no lost renewals)."""


class FleetBoard:
    """One node's view of the fleet board.

    Args:
        settings: the shared Redis (standalone, Sentinel or Redis Cluster: both keys share the
            ``{scaling}`` hash tag, so the leader script runs on one slot).
        node_id: this node's id.
    """

    def __init__(self, settings: RedisSettings, node_id: str) -> None:
        self.node_id = node_id
        self._settings = settings
        self._redis: SyncClient | None = None

    def _client(self) -> SyncClient:
        # Built on first use: a cluster client connects in its constructor, and a supervisor
        # must start (and its workers serve) while Redis is still coming up.
        if self._redis is None:
            self._redis = connect_sync(self._settings, REDIS_TIMEOUT)
        return self._redis

    def exchange(self, mine: NodeSignals, *, max_age: float) -> list[NodeSignals] | None:
        """Publish this node's sample and read the fleet's fresh ones (ours included).

        Returns:
            The samples, or None when Redis did not answer (logged).
        """
        try:
            client = self._client()
            client.hset(SCALING.nodes, self.node_id, json.dumps(mine.describe()))
            raw: dict[bytes, bytes] = client.hgetall(SCALING.nodes)  # type: ignore[assignment]
        except _FAILURES as exc:
            log.warning("fleet_board_unavailable error=%s", exc)
            return None
        nodes, stale = _parse(raw, now=mine.at, max_age=max_age)
        if stale:
            try:
                client.hdel(SCALING.nodes, *stale)
            except _FAILURES as exc:
                log.debug("fleet_board_prune_failed error=%s", exc)
        return nodes

    def lead(self, ttl: float) -> bool:
        """Take or keep the leader lease for ``ttl`` seconds; False if another node holds it."""
        try:
            taken = self._client().eval(_RENEW, 1, SCALING.leader, self.node_id, int(ttl * 1000))
        except _FAILURES as exc:
            log.warning("fleet_leader_unknown error=%s", exc)
            return False
        return bool(taken)

    def leader(self) -> str | None:
        """The node id holding the lease, if any (for the status)."""
        try:
            value = self._client().get(SCALING.leader)
        except _FAILURES:
            return None
        return value.decode() if isinstance(value, bytes) else None

    def close(self) -> None:
        """Release the connection pool."""
        if self._redis is not None:
            self._redis.close()


def _parse(
    raw: dict[bytes, bytes], *, now: float, max_age: float
) -> tuple[list[NodeSignals], list[bytes]]:
    nodes: list[NodeSignals] = []
    stale: list[bytes] = []
    for field, value in list(raw.items())[:MAX_NODES]:
        try:
            node = NodeSignals.parse(json.loads(value))
        except (KeyError, TypeError, ValueError):
            stale.append(field)
            continue
        if now - node.at > max_age:
            stale.append(field)
        else:
            nodes.append(node)
    return sorted(nodes, key=lambda n: n.node_id), stale
