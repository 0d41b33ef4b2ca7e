"""The bridge between this worker and the others: envelopes out through their inboxes, in.

Whatever a user on another worker must learn — a relayed frame, a match, an end, a dropped
peer, a resume, a ban — goes as an :class:`Envelope` to that worker. Relayed frames take its
inbox (sharded pub/sub on Redis: at most once, cheap); control notices take its control log
(a Redis stream: at least once, retried here until appended, read on from the last id after a
failover), and the receiving hub applies each once. Envelopes are batched per worker and
flushed once per event-loop turn, so a burst of ICE candidates costs one round trip. Order
holds per (sender, worker) within each of the two paths.

A relay batch whose publish fails (the shard's master just died) is retried like a control
batch, in order and ahead of newer frames to that worker, for up to
:data:`RELAY_RETRY_SECONDS`: every relay envelope carries a sequence number per (sender,
receiving worker), and the receiver drops one it has seen (the failed attempt may have
reached Redis), so a retried frame arrives once. Past the deadline frames are dropped: at most
once, as before (the lab's Redis-master kill lost a chat line that way).

Relayed frames are the bulk of what crosses (issue 15): each would cost an envelope to build,
encode and decode, and its address, session id and worker in bytes through Redis twice. So
the frames of one flush for one user in one session travel as one envelope (``body`` the
first, ``more`` the rest, in the order they were relayed): per pair, the order holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

import msgspec

from roulette.errors import ServiceError
from roulette.storage.ports import Bus, ControlLog

__all__ = [
    "CONTROL_RETRY_SECONDS",
    "MAX_FRAMES_PER_ENVELOPE",
    "MAX_PENDING_ENVELOPES",
    "Bridge",
    "Envelope",
    "Kind",
]

log = logging.getLogger(__name__)

MAX_PENDING_ENVELOPES: Final = 100_000
"""Envelopes (and relayed frames) waiting for the bus at most; beyond it relayed frames are
dropped (counted)."""

MAX_FRAMES_PER_ENVELOPE: Final = 64
"""Relayed frames one envelope carries at most (a user's share of one flush is split)."""


class Kind(enum.IntEnum):
    """What an envelope carries."""

    RELAY = 0
    """``body`` is an encoded frame for ``address`` if it is still in ``session_id``;
    ``number`` the sender's epoch of the session and ``text`` the sender's worker (its route);
    ``sent_us``, on 1 frame in 64, when it arrived at the sender's socket (µs since the epoch),
    for the relay latency histogram (issue 12); 0 on the others. ``more``: the frames relayed
    after ``body`` to the same user, session and epoch in the same flush, in order."""
    MATCHED = 1
    """``body`` is the msgpack session; ``text`` the peer's display name."""
    ENDED = 2
    """``text`` is the reason; ``number`` the session's epoch."""
    PEER_GONE = 3
    """The peer of ``address`` in ``session_id`` lost its socket; ``number`` is the epoch."""
    RESUMED = 4
    """``body`` is the msgpack session after a resume (new worker, new epoch)."""
    KICK = 5
    """Close ``address``'s socket: ``number`` is the close code, ``text`` the reason."""
    REPLACED = 6
    """A socket of ``address`` signed in on worker ``text`` at ``number`` (µs, wall clock):
    an older one here closes with 4002 (one live socket per wallet, fleet-wide)."""


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """One cross-worker delivery (msgpack, positional: small and fast)."""

    kind: Kind
    address: str
    session_id: str = ""
    body: bytes = b""
    text: str = ""
    number: int = 0
    sent_us: int = 0
    more: list[bytes] = []
    """Kind.RELAY: frames after ``body``. After the older fields, so a worker of the previous
    release reads the envelope (it ignores trailing fields, and relays ``body`` only)."""
    seq: int = 0
    """Kind.RELAY: this envelope's number from its sender to this worker (1, 2, …), so a
    retried one is applied once; 0 from a sender of an earlier release (not checked)."""


class _Frames:
    """The frames relayed to one user in one session (and epoch) since the last flush, and
    the timed samples among them: ``sent_us`` by envelope (each carries one at most), so
    that two samples in one flush, e.g. the 64th and 128th frames, stay two."""

    __slots__ = ("frames", "sent_us")

    def __init__(self, frame: bytes, sent_us: int) -> None:
        self.frames = [frame]
        self.sent_us: dict[int, int] = {0: sent_us} if sent_us else {}

    def add(self, frame: bytes, sent_us: int, per_envelope: int) -> None:
        self.frames.append(frame)
        if sent_us:
            self.sent_us.setdefault((len(self.frames) - 1) // per_envelope, sent_us)


RelayKey = tuple[str, str, int]
"""(address, session id, sender's epoch): the frames that share an envelope."""


_encode = msgspec.msgpack.Encoder().encode
_decode_batch = msgspec.msgpack.Decoder(list[Envelope]).decode

CONTROL_RETRY_SECONDS: Final = 15.0
"""How long a control batch is retried before it is given up (its worker is gone for good, or
Redis is down that long: the sweeper's audit repairs what it would have said)."""

RELAY_RETRY_SECONDS: Final = 10.0
"""How long a relay batch whose publish failed is retried before its frames are dropped (a
Redis Cluster failover takes the node timeout plus an election: seconds)."""

RETRY_DELAY_SECONDS: Final = 0.05
MAX_RETRY_DELAY_SECONDS: Final = 1.0

MAX_BATCH_ENVELOPES: Final = 512
"""Envelopes packed into one bus message (one SPUBLISH), each counted for the frames it
carries: Redis and redis-py cost per command, so a burst of ICE candidates to one worker
travels as one message."""


class Bridge:
    """Batches outgoing envelopes per worker and feeds incoming ones to ``deliver``.

    Args:
        bus: the cross-worker bus (relayed frames).
        worker_id: this worker's inbox and control log.
        deliver: called for each envelope that arrives for a user of this worker.
        control: the control log; None sends control notices over ``bus`` too (at most once).
        frames_per_envelope: relayed frames one envelope carries at most (1: the format of
            the release before grouping, for a rolling deploy from it; docs/deploy.md).
        clock: monotonic seconds (for the retry deadline).
    """

    def __init__(
        self,
        bus: Bus,
        worker_id: str,
        deliver: Callable[[Envelope], None],
        control: ControlLog | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        frames_per_envelope: int = MAX_FRAMES_PER_ENVELOPE,
    ) -> None:
        # 1 writes the previous release's envelopes (one frame each), which a worker of that
        # release reads whole: it would relay only the first frame of a grouped one.
        self.per_envelope = max(1, min(frames_per_envelope, MAX_FRAMES_PER_ENVELOPE))
        self.bus = bus
        self.control = control
        self.worker_id = worker_id
        self.deliver = deliver
        self.clock = clock
        self.dropped = 0
        self.control_given_up = 0
        self._pending: dict[str, list[Envelope]] = {}
        self._relays: dict[str, dict[RelayKey, _Frames]] = {}
        self._retry: dict[str, tuple[list[Envelope], float]] = {}
        self._relay_retry: dict[str, tuple[list[Envelope], float]] = {}
        self._relay_seq: dict[str, int] = {}
        self.relay_retried = 0
        """Relay envelopes published again after a failed attempt."""
        self._count = 0
        self._wake = asyncio.Event()
        self._stop = False

    def relay(
        self,
        inbox: str,
        address: str,
        session_id: str,
        epoch: int,
        frame: bytes,
        *,
        sent_us: int = 0,
    ) -> None:
        """Queue a relayed ``frame`` for ``address`` on worker ``inbox`` (a RELAY envelope from
        this worker at the sender's ``epoch``; ``sent_us``: a timed sample, see :class:`Kind`).
        """
        if self._count >= MAX_PENDING_ENVELOPES:
            self.dropped += 1
            return
        groups = self._relays.get(inbox)
        if groups is None:
            groups = self._relays[inbox] = {}
        key = (address, session_id, epoch)
        group = groups.get(key)
        if group is None:
            groups[key] = _Frames(frame, sent_us)
        else:
            group.add(frame, sent_us, self.per_envelope)
        self._count += 1
        self._wake.set()

    def send(self, inbox: str, envelope: Envelope) -> None:
        """Queue an envelope for worker ``inbox``; it leaves at the next flush."""
        if self._count >= MAX_PENDING_ENVELOPES and envelope.kind is Kind.RELAY:
            self.dropped += 1
            return
        self._pending.setdefault(inbox, []).append(envelope)
        self._count += 1
        self._wake.set()

    async def run_sender(self) -> None:
        """Send pending batches until :meth:`stop`.

        A batch that fails is retried, in order and ahead of newer ones of its kind to the
        same worker: a relay batch for up to :data:`RELAY_RETRY_SECONDS` (then dropped,
        counted), a control batch for up to :data:`CONTROL_RETRY_SECONDS`.
        """
        delay = RETRY_DELAY_SECONDS
        while not self._stop or self._pending or self._relays:
            if self._retry or self._relay_retry:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            else:
                await self._wake.wait()
            self._wake.clear()
            batches, self._pending, self._count = self._pending, {}, 0
            relays, self._relays = self._relays, {}
            failed = False
            for inbox in {*self._retry, *self._relay_retry, *batches, *relays}:
                envelopes = batches.get(inbox, [])
                if inbox in relays:
                    envelopes = self._relay_envelopes(inbox, relays[inbox]) + envelopes
                failed |= not await self._flush(inbox, envelopes)
            delay = min(2 * delay, MAX_RETRY_DELAY_SECONDS) if failed else RETRY_DELAY_SECONDS

    def _relay_envelopes(self, inbox: str, groups: dict[RelayKey, _Frames]) -> list[Envelope]:
        envelopes = []
        seq = self._relay_seq.get(inbox, 0)
        for (address, session_id, epoch), group in groups.items():
            frames, sent_us = group.frames, group.sent_us
            size = self.per_envelope
            for i in range(0, len(frames), size):
                chunk = frames[i : i + size]
                seq += 1
                envelopes.append(
                    Envelope(
                        Kind.RELAY,
                        address,
                        session_id,
                        chunk[0],
                        self.worker_id,
                        epoch,
                        sent_us.get(i // size, 0),
                        chunk[1:],
                        seq,
                    )
                )
        self._relay_seq[inbox] = seq
        return envelopes

    async def _flush(self, inbox: str, envelopes: list[Envelope]) -> bool:
        """Send one worker's envelopes; False when a batch must be retried."""
        relayed = await self._flush_relays(inbox, [e for e in envelopes if e.kind is Kind.RELAY])
        retried, since = self._retry.pop(inbox, ([], self.clock()))
        controls = retried + [e for e in envelopes if e.kind is not Kind.RELAY]
        if not controls:
            return relayed
        if self.control is None:
            await self._publish(inbox, controls)
            return relayed
        try:
            await self.control.append(inbox, _payloads(controls))
        except ServiceError as exc:
            if self.clock() - since > CONTROL_RETRY_SECONDS:
                self.control_given_up += len(controls)
                log.warning(
                    "control_given_up inbox=%s count=%d error=%s", inbox, len(controls), exc
                )
                return True
            self._retry[inbox] = (controls, since)
            return False
        return relayed

    async def _flush_relays(self, inbox: str, relays: list[Envelope]) -> bool:
        """Publish what is due for ``inbox`` (retried batches first); False to retry."""
        retried, since = self._relay_retry.pop(inbox, ([], self.clock()))
        batch = retried + relays
        if not batch:
            return True
        try:
            await self.bus.publish(inbox, _payloads(batch))
        except ServiceError as exc:
            frames = sum(1 + len(e.more) for e in batch)
            if self.clock() - since > RELAY_RETRY_SECONDS or len(batch) > MAX_PENDING_ENVELOPES:
                self.dropped += frames  # at most once after all: the receiver may be gone
                log.warning("bridge_publish_failed inbox=%s frames=%d error=%s", inbox, frames, exc)
                return True
            self._relay_retry[inbox] = (batch, since)
            return False
        self.relay_retried += len(retried)
        return True

    async def _publish(self, inbox: str, envelopes: list[Envelope]) -> None:
        """Control notices over the bus (no control log): at most once."""
        try:
            await self.bus.publish(inbox, _payloads(envelopes))
        except ServiceError as exc:
            self.dropped += len(envelopes)
            log.warning(
                "bridge_publish_failed inbox=%s count=%d error=%s", inbox, len(envelopes), exc
            )

    async def run_receiver(self) -> None:
        """Deliver every envelope sent to this worker (inbox and control log) until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._receive(self.bus.subscribe(self.worker_id)))
            if self.control is not None:
                tasks.create_task(self._receive(self.control.read(self.worker_id)))

    async def _receive(self, payloads: AsyncIterator[bytes]) -> None:
        async for payload in payloads:
            try:
                envelopes = _decode_batch(payload)
            except msgspec.DecodeError:
                log.warning("bridge_bad_batch size=%d", len(payload))
                continue
            for envelope in envelopes:
                self.deliver(envelope)

    def stop(self) -> None:
        """Let the sender flush what is pending and finish."""
        self._stop = True
        self._wake.set()


def _payloads(envelopes: list[Envelope]) -> list[bytes]:
    """``envelopes`` in bus messages of at most :data:`MAX_BATCH_ENVELOPES` frames each."""
    payloads: list[bytes] = []
    batch: list[Envelope] = []
    frames = 0
    for envelope in envelopes:
        weight = 1 + len(envelope.more)
        if batch and frames + weight > MAX_BATCH_ENVELOPES:
            payloads.append(_encode(batch))
            batch, frames = [], 0
        batch.append(envelope)
        frames += weight
    if batch:
        payloads.append(_encode(batch))
    return payloads
