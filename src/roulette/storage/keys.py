"""Every Redis key and channel name the service uses, with the TTLs the stores set (arq's
``constants.py``). Nothing else in the code base spells a key.

Layout and hash tags (Redis Cluster routes a key by the text between its first ``{`` and ``}``)::

    rl:{lobby}:waiting          zset   every queued address, score = enqueued_at
    rl:{lobby}:entries          hash   address -> queue entry (JSON)
    rl:{lobby}:unblocked        set    queued addresses whose exclusions were lifted
    rl:{lobby}:queued           hash   chain id -> number of queued users
    rl:{lobby}:sessions         hash   session id -> live session (JSON, with epoch and workers)
    rl:{lobby}:session-of       hash   address -> session id
    rl:{lobby}:by-start         zset   session id, score = started_at
    rl:{lobby}:lane:<lane>      zset   the lane's queue, score = enqueued_at
    rl:{lobby}:lane:<lane>:flex zset   the lane's users without interests
    rl:{lobby}:lane:<lane>:i:<interest>  zset   the lane's users naming that interest
    rl:nonce:<nonce>            string expires_at on the caller's clock; PX = ttl + grace
    rl:{workers}:index          set    worker ids that beat at least once
    rl:{workers}:w:<worker id>  string the worker's last heartbeat (JSON); PX = its ttl
    rl:inbox:{<worker id>}      sharded pub/sub channel: the worker's inbox
    rl:{lb}:nodes               hash   node id -> what it announces to the balancer (JSON)

The whole lobby shares the ``{lobby}`` tag, so it lives on one master (one shard): every
lobby script touches the queues of any lane and the sessions of any user in one atomic step,
which is what keeps a user in at most one queue entry or session even on a cluster. Keys
that need no such invariant spread over the shards: a nonce hashes on its own name, an inbox
on its worker id. Worker membership is a few dozen tiny keys under ``{workers}``, so a
heartbeat and the index it feeds change together.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LB_NODES",
    "LOBBY",
    "NAMESPACE",
    "NONCE_GRACE_SECONDS",
    "WORKERS",
    "LobbyKeys",
    "WorkerKeys",
    "inbox",
    "lane_id",
    "nonce",
]

NAMESPACE = "rl"
"""The prefix of every key and channel, so the service can share a Redis with others."""

NONCE_GRACE_SECONDS = 1.0
"""Redis keeps a nonce this long past its TTL: validity is judged on the caller's clock
(the value stored), and the Redis expiry only collects garbage, so it must never fire first."""

_LOBBY = f"{NAMESPACE}:{{lobby}}:"
_WORKERS = f"{NAMESPACE}:{{workers}}:"


@dataclass(frozen=True, slots=True)
class LobbyKeys:
    """The lobby's keys, all under one hash tag; the Lua scripts receive them in this order.

    Attributes:
        waiting: every queued address in waiting order (the rematch sweep walks it).
        entries: address -> queue entry.
        unblocked: queued addresses whose exclusions were lifted since they joined.
        queued: chain id -> number of queued users (for stats).
        sessions: session id -> live session.
        session_of: address -> session id.
        by_start: session ids by start time (for expiry).
        lane_prefix: ``lane_prefix + lane_id(...)`` is a lane's queue.
        flexible_suffix: appended to a lane's key: its users without interests.
        interest_infix: ``lane key + interest_infix + interest``: its users naming it.
    """

    waiting: str = _LOBBY + "waiting"
    entries: str = _LOBBY + "entries"
    unblocked: str = _LOBBY + "unblocked"
    queued: str = _LOBBY + "queued"
    sessions: str = _LOBBY + "sessions"
    session_of: str = _LOBBY + "session-of"
    by_start: str = _LOBBY + "by-start"
    lane_prefix: str = _LOBBY + "lane:"
    flexible_suffix: str = ":flex"
    interest_infix: str = ":i:"

    @property
    def fixed(self) -> tuple[str, ...]:
        """The keys every lobby script declares, as ``KEYS[1..7]``."""
        return (
            self.waiting,
            self.entries,
            self.unblocked,
            self.queued,
            self.sessions,
            self.session_of,
            self.by_start,
        )

    @property
    def templates(self) -> tuple[str, str, str]:
        """The parts the scripts build lane and interest keys from, as ``ARGV[1..3]``."""
        return (self.lane_prefix, self.flexible_suffix, self.interest_infix)


LOBBY = LobbyKeys()


@dataclass(frozen=True, slots=True)
class WorkerKeys:
    """Worker membership: one TTL'd key per worker and an index to enumerate them.

    Attributes:
        index: the set of worker ids (pruned when their key has expired).
        worker_prefix: ``worker_prefix + worker id`` holds the worker's last heartbeat.
    """

    index: str = _WORKERS + "index"
    worker_prefix: str = _WORKERS + "w:"

    def worker(self, worker_id: str) -> str:
        """The heartbeat key of one worker."""
        return self.worker_prefix + worker_id


WORKERS = WorkerKeys()


def lane_id(chain_id: int, queue: str | None) -> str:
    """A lane's name inside its keys, unambiguous whatever the queue name contains.

    ``1`` is chain 1's public queue; ``1/7/holders`` its named queue "holders" (the length
    makes the name self-delimiting, so ``:flex`` and ``:i:`` can follow it safely).

    Args:
        chain_id: the lane's chain.
        queue: the named queue, or None for the chain's public one.

    Returns:
        The lane's id.
    """
    return str(chain_id) if queue is None else f"{chain_id}/{len(queue)}/{queue}"


def nonce(value: str) -> str:
    """The key of a SIWE nonce (hashed on its whole name: nonces spread over the shards)."""
    return f"{NAMESPACE}:nonce:{value}"


def inbox(worker_id: str) -> str:
    """The sharded pub/sub channel a worker reads; tagged by worker, so inboxes spread."""
    return f"{NAMESPACE}:inbox:{{{worker_id}}}"


LB_NODES = f"{NAMESPACE}:{{lb}}:nodes"
"""The balancer's node registry: one hash, so one command reads every node on any topology.
Each value carries its own ``expires_at``; readers drop stale ones, and the key's own TTL
(refreshed on every announcement) removes the hash when every node is gone."""
