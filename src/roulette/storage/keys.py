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
    rl:{lobby}:index            zset   every per-lane index, all members at score 0, in
                                       lexicographic order: ``hex(index name):order:address``
                                       where the index name is ``lane:<lane>`` (the lane's
                                       queue), ``lane:<lane>:flex`` (its users without
                                       interests) or ``lane:<lane>:i:<interest>``, and
                                       ``order`` is the 16 hex digits of enqueued_at that sort
                                       as the number does (see ``order_key``)
    rl:{lobby}:reply:<batch>    string  a lobby batch's reply, so a retried call is answered
                                        from it, not run twice; PX = BATCH_REPLY_TTL
    rl:nonce:<nonce>            string expires_at on the caller's clock; PX = ttl + grace
    rl:{workers}:index          set    worker ids that beat at least once
    rl:{workers}:w:<worker id>  string the worker's last heartbeat (JSON); PX = its ttl
    rl:{scaling}:nodes          hash   node id -> the node's last autoscaler sample (JSON)
    rl:{scaling}:leader         string the node id that decides the fleet's count; PX = ttl
    rl:{lb}:nodes               hash   node id -> what it announces to the balancer (JSON)
    rl:inbox:{<worker id>}      sharded pub/sub channel: the worker's inbox (relayed frames)
    rl:control:{<worker id>}    stream  the worker's control notices; MAXLEN ~, PX = CONTROL_TTL
    rl:{boot}:id                string  the store's boot id: it vanishes if Redis comes back empty
    rl:debt:{<address>}         string  a wallet's budget debts, "<messages until> <skips until>"
                                        on the caller's clock; PX = the longer debt + grace

The lobby is a fixed set of keys, so every script declares every key it touches in ``KEYS``
(Redis's scripting contract; a key built inside a script is undefined behaviour on a cluster).
The per-lane and per-interest indexes, which come and go with queue names and interests, are
ranges of one sorted set read with ``ZRANGEBYLEX`` rather than keys of their own.

The whole lobby shares the ``{lobby}`` tag, so it lives on one master (one shard): every
lobby script touches the queues of any lane and the sessions of any user in one atomic step,
which is what keeps a user in at most one queue entry or session even on a cluster. Keys
that need no such invariant spread over the shards: a nonce hashes on its own name, an inbox
on its worker id. Worker membership is a few dozen tiny keys under ``{workers}``, so a
heartbeat and the index it feeds change together.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "BATCH_REPLY_TTL_MS",
    "BOOT_KEY",
    "CONTROL_MAX_ENTRIES",
    "CONTROL_TTL_SECONDS",
    "DEBT_GRACE_SECONDS",
    "LB_NODES",
    "LOBBY",
    "NAMESPACE",
    "NONCE_GRACE_SECONDS",
    "SCALING",
    "WORKERS",
    "LobbyKeys",
    "ScalingKeys",
    "WorkerKeys",
    "control",
    "debt",
    "inbox",
    "lane_id",
    "nonce",
    "order_key",
]

NAMESPACE = "rl"
"""The prefix of every key and channel, so the service can share a Redis with others."""

BATCH_REPLY_TTL_MS = 5000
"""How long a lobby batch's reply is kept: past the client's whole retry window (about 3 s,
``storage/redis/client.py``), the only time the same batch can arrive again."""

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
        index: the per-lane indexes, as lexicographic ranges of one sorted set.
        lane_prefix: ``lane_prefix + lane_id(...)`` names a lane's index (not a key).
        flexible_suffix: appended to a lane's index name: its users without interests.
        interest_infix: ``lane index name + interest_infix + interest``: its users naming it.
    """

    waiting: str = _LOBBY + "waiting"
    entries: str = _LOBBY + "entries"
    unblocked: str = _LOBBY + "unblocked"
    queued: str = _LOBBY + "queued"
    sessions: str = _LOBBY + "sessions"
    session_of: str = _LOBBY + "session-of"
    by_start: str = _LOBBY + "by-start"
    index: str = _LOBBY + "index"
    lane_prefix: str = "lane:"
    flexible_suffix: str = ":flex"
    interest_infix: str = ":i:"
    reply_prefix: str = _LOBBY + "reply:"

    def reply(self, batch_id: str) -> str:
        """The key of one batch's reply (the batch script's ``KEYS[9]``)."""
        return self.reply_prefix + batch_id

    @property
    def fixed(self) -> tuple[str, ...]:
        """Every key of the lobby; each lobby script declares them all, as ``KEYS[1..8]``."""
        return (
            self.waiting,
            self.entries,
            self.unblocked,
            self.queued,
            self.sessions,
            self.session_of,
            self.by_start,
            self.index,
        )

    @property
    def templates(self) -> tuple[str, str, str]:
        """The parts the scripts build index names from, as ``ARGV[1..3]``."""
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


@dataclass(frozen=True, slots=True)
class ScalingKeys:
    """The autoscaler's fleet board (``roulette.scaling.fleet``), under one hash tag.

    Attributes:
        nodes: node id -> the node's last sample; samples older than a few intervals are
            pruned by readers.
        leader: the node whose supervisor runs ``SCALING_HOOK`` for the fleet.
    """

    nodes: str = f"{NAMESPACE}:{{scaling}}:nodes"
    leader: str = f"{NAMESPACE}:{{scaling}}:leader"


SCALING = ScalingKeys()


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


def order_key(enqueued_at: float) -> str:
    """16 hex digits that sort as ``enqueued_at`` does (IEEE 754 bits, sign-adjusted).

    The lane indexes are lexicographic ranges, so waiting order must be a string order: a
    non-negative double's bits already sort as the number; a negative one's are inverted.
    """
    bits: int = struct.unpack(">Q", struct.pack(">d", enqueued_at + 0.0))[0]
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | (1 << 63)
    return f"{bits:016x}"


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
CONTROL_MAX_ENTRIES = 10_000
"""A worker's control stream keeps about this many notices (``XADD MAXLEN ~``): far more than
a live reader ever lags behind; a worker gone for good leaves at most this much."""

CONTROL_TTL_SECONDS = 600
"""A control stream nobody appends to for this long expires (its worker is gone)."""


def control(worker_id: str) -> str:
    """The stream of a worker's control notices; on its worker's shard, like its inbox."""
    return f"{NAMESPACE}:control:{{{worker_id}}}"


BOOT_KEY = f"{NAMESPACE}:{{boot}}:id"
"""Written once by the first worker to find it missing; no TTL. Its absence means Redis lost
its data (restarted empty, or a failover to a replica that never had it)."""


DEBT_GRACE_SECONDS = 1.0
"""Redis keeps a wallet's debt this long past the debt itself: what is owed is judged on the
caller's clock (the value stored), the expiry only collects garbage and must not fire first."""


def debt(address: str) -> str:
    """The key of a wallet's budget debts (tagged by address: wallets spread over the shards)."""
    return f"{NAMESPACE}:debt:{{{address}}}"
