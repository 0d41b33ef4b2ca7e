"""The bridge between this worker and the others: envelopes out through their inboxes, in.

Whatever a user on another worker must learn — a relayed frame, a match, an end, a dropped
peer, a resume, a ban — goes as an :class:`Envelope` to that worker's inbox (sharded pub/sub
on Redis). Envelopes are batched per inbox and flushed once per event-loop turn, so a burst of
ICE candidates costs one round trip. Order holds per (sender, inbox): one sender task
publishes the batches one after another.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Final

import msgspec

from roulette.errors import ServiceError
from roulette.storage.ports import Bus

__all__ = ["MAX_PENDING_ENVELOPES", "Bridge", "Envelope", "Kind"]

log = logging.getLogger(__name__)

MAX_PENDING_ENVELOPES: Final = 100_000
"""Envelopes waiting for the bus at most; beyond it relayed frames are dropped (counted)."""


class Kind(enum.IntEnum):
    """What an envelope carries."""

    RELAY = 0
    """``body`` is an encoded frame for ``address`` if it is still in ``session_id``."""
    MATCHED = 1
    """``body`` is the msgpack session; ``text`` the peer's display name."""
    ENDED = 2
    """``text`` is the reason."""
    PEER_GONE = 3
    """The peer of ``address`` in ``session_id`` lost its socket; ``number`` is the epoch."""
    RESUMED = 4
    """``body`` is the msgpack session after a resume (new worker, new epoch)."""
    KICK = 5
    """Close ``address``'s socket: ``number`` is the close code, ``text`` the reason."""


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """One cross-worker delivery (msgpack, positional: small and fast)."""

    kind: Kind
    address: str
    session_id: str = ""
    body: bytes = b""
    text: str = ""
    number: int = 0


_encode = msgspec.msgpack.Encoder().encode
_decode_batch = msgspec.msgpack.Decoder(list[Envelope]).decode

MAX_BATCH_ENVELOPES: Final = 512
"""Envelopes packed into one bus message (one SPUBLISH): Redis and redis-py cost per command,
so a burst of ICE candidates to one worker travels as one message."""


class Bridge:
    """Batches outgoing envelopes per inbox and feeds incoming ones to ``deliver``.

    Args:
        bus: the cross-worker bus.
        worker_id: this worker's inbox.
        deliver: called for each envelope that arrives for a user of this worker.
    """

    def __init__(self, bus: Bus, worker_id: str, deliver: Callable[[Envelope], None]) -> None:
        self.bus = bus
        self.worker_id = worker_id
        self.deliver = deliver
        self.dropped = 0
        self._pending: dict[str, list[Envelope]] = {}
        self._count = 0
        self._wake = asyncio.Event()
        self._stop = False

    def send(self, inbox: str, envelope: Envelope) -> None:
        """Queue an envelope for worker ``inbox``; it leaves at the next flush."""
        if self._count >= MAX_PENDING_ENVELOPES and envelope.kind is Kind.RELAY:
            self.dropped += 1
            return
        self._pending.setdefault(inbox, []).append(envelope)
        self._count += 1
        self._wake.set()

    async def run_sender(self) -> None:
        """Publish pending batches until :meth:`stop`; a failed batch is logged and dropped."""
        while not self._stop or self._pending:
            await self._wake.wait()
            self._wake.clear()
            batches, self._pending, self._count = self._pending, {}, 0
            for inbox, envelopes in batches.items():
                payloads = [
                    _encode(envelopes[i : i + MAX_BATCH_ENVELOPES])
                    for i in range(0, len(envelopes), MAX_BATCH_ENVELOPES)
                ]
                try:
                    await self.bus.publish(inbox, payloads)
                except ServiceError as exc:  # relay is at most once; see ControlStream
                    self.dropped += len(envelopes)
                    log.warning(
                        "bridge_publish_failed inbox=%s count=%d error=%s",
                        inbox,
                        len(envelopes),
                        exc,
                    )

    async def run_receiver(self) -> None:
        """Deliver every envelope sent to this worker, until cancelled."""
        async for payload in self.bus.subscribe(self.worker_id):
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
