"""Relayed frames across workers travel grouped per user and session, in order (issue 15).

Two bridges on one :class:`~roulette.storage.memory_bus.MemoryBus` (the reference the Redis
bus is held to); what arrives is what each receiving hub is handed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec

from gateway.test_hub import SESSION, Socket
from roulette.errors import Unavailable
from roulette.gateway.bridge import (
    MAX_BATCH_ENVELOPES,
    MAX_FRAMES_PER_ENVELOPE,
    RELAY_RETRY_SECONDS,
    Bridge,
    Envelope,
    Kind,
)
from roulette.gateway.hub import Hub
from roulette.identity import Address
from roulette.storage.memory_bus import MemoryBus


async def _carried(
    sends: list[tuple[str, str, int, bytes]],
    timed: dict[int, int] | None = None,
    per_envelope: int = MAX_FRAMES_PER_ENVELOPE,
) -> tuple[list[Envelope], MemoryBus]:
    """Relay ``sends`` (address, session, epoch, frame) from w1 to w2 in one flush; the sends
    numbered in ``timed`` carry that ``sent_us``."""
    bus, arrived, done = MemoryBus(), list[Envelope](), asyncio.Event()

    def arrive(envelope: Envelope) -> None:
        arrived.append(envelope)
        if len(_frames_of(arrived)) >= len(sends):
            done.set()

    sender = Bridge(bus, "w1", lambda e: None, frames_per_envelope=per_envelope)
    receiver = Bridge(bus, "w2", arrive)
    async with asyncio.timeout(10), asyncio.TaskGroup() as tasks:
        reading = tasks.create_task(receiver.run_receiver())
        for _ in range(10):  # subscribed before anything is published (a few task starts)
            await asyncio.sleep(0)
        for n, (address, session_id, epoch, frame) in enumerate(sends):
            sent_us = (timed or {}).get(n, 0)
            sender.relay("w2", address, session_id, epoch, frame, sent_us=sent_us)
        sender.stop()
        await sender.run_sender()
        await done.wait()
        reading.cancel()
    return arrived, bus


def _frames_of(envelopes: list[Envelope], address: str | None = None) -> list[bytes]:
    """The frames the envelopes carry (to ``address``, or to anyone), in order."""
    return [f for e in envelopes if address in (None, e.address) for f in (e.body, *e.more)]


async def test_one_flush_carries_a_users_frames_in_one_envelope_in_order() -> None:
    sends = [("0xB", "s1", 1, b"b%d" % n) for n in range(5)]
    sends[1:1] = [("0xD", "s2", 4, b"d0"), ("0xD", "s2", 4, b"d1")]
    arrived, _ = await _carried(sends)
    assert [(e.kind, e.address, e.session_id, e.text, e.number) for e in arrived] == [
        (Kind.RELAY, "0xB", "s1", "w1", 1),
        (Kind.RELAY, "0xD", "s2", "w1", 4),
    ]
    assert _frames_of(arrived, "0xB") == [b"b0", b"b1", b"b2", b"b3", b"b4"]
    assert _frames_of(arrived, "0xD") == [b"d0", b"d1"]


async def test_another_session_or_epoch_is_another_envelope() -> None:
    sends = [("0xB", "s1", 1, b"old"), ("0xB", "s1", 2, b"resumed"), ("0xB", "s3", 1, b"next")]
    arrived, _ = await _carried(sends)
    assert [(e.session_id, e.number, e.body, e.more) for e in arrived] == [
        ("s1", 1, b"old", []),
        ("s1", 2, b"resumed", []),
        ("s3", 1, b"next", []),
    ]


async def test_a_long_burst_is_split_and_bus_messages_stay_bounded() -> None:
    count = 3 * MAX_BATCH_ENVELOPES + 7
    sends = [("0xB", "s1", 1, b"%d" % n) for n in range(count)]
    arrived, bus = await _carried(sends)
    assert _frames_of(arrived, "0xB") == [b"%d" % n for n in range(count)]
    assert max(1 + len(e.more) for e in arrived) == MAX_FRAMES_PER_ENVELOPE
    assert bus.dropped == 0


async def test_every_timed_sample_of_a_flush_is_carried() -> None:
    # The relay latency histogram times 1 frame in 64: 128 frames in one flush are two
    # envelopes, each with the sample of its own frames (grouping once kept only the first).
    sends = [("0xB", "s1", 1, b"%d" % n) for n in range(2 * MAX_FRAMES_PER_ENVELOPE)]
    arrived, _ = await _carried(sends, timed={63: 1_000, 127: 2_000})
    assert [(len(e.more) + 1, e.sent_us) for e in arrived] == [(64, 1_000), (64, 2_000)]


async def test_one_frame_per_envelope_is_what_the_previous_release_reads_whole() -> None:
    # BRIDGE_FRAMES_PER_ENVELOPE=1 during a roll from the release before grouping: its
    # workers read an envelope's first frame only, so every frame must be one.
    sends = [("0xB", "s1", 1, b"%d" % n) for n in range(70)]
    arrived, _ = await _carried(sends, timed={63: 7}, per_envelope=1)
    assert [(e.body, e.more) for e in arrived] == [(b"%d" % n, []) for n in range(70)]
    assert [e.sent_us for e in arrived if e.sent_us] == [7]
    assert arrived[63].sent_us == 7


def test_a_single_frame_envelope_reads_as_the_previous_release_wrote_it() -> None:
    class Previous(msgspec.Struct, array_like=True, frozen=True):
        kind: Kind
        address: str
        session_id: str = ""
        body: bytes = b""
        text: str = ""
        number: int = 0
        sent_us: int = 0

    old = msgspec.msgpack.encode(Previous(Kind.RELAY, "0xB", "s1", b"f", "w1", 3))
    assert msgspec.msgpack.decode(old, type=Envelope) == Envelope(
        Kind.RELAY, "0xB", "s1", b"f", "w1", 3
    )
    new = msgspec.msgpack.encode(Envelope(Kind.RELAY, "0xB", "s1", b"f", "w1", 3, 0, [b"g"]))
    assert msgspec.msgpack.decode(new, type=Previous) == Previous(
        Kind.RELAY, "0xB", "s1", b"f", "w1", 3
    )


class _FailingFirst(MemoryBus):
    """A bus whose first ``failures`` publishes fail as Redis does when a master just died;
    the first of them reached Redis all the same (a reply lost, not the command)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, inbox: str, payloads: Sequence[bytes]) -> None:
        if self.failures:
            delivered_anyway = self.failures == 1
            self.failures -= 1
            if delivered_anyway:
                await super().publish(inbox, payloads)
            raise Unavailable("shared state is unreachable", code="state_unavailable")
        await super().publish(inbox, payloads)


async def test_a_relay_batch_whose_publish_failed_is_retried_and_applied_once() -> None:
    """The lab's Redis-master kill lost a chat line mid-session (at most once); now it is
    retried in order, and the attempt that reached Redis after all is not applied twice."""
    bus = _FailingFirst(failures=3)
    b = Socket(Address("0xB"), session=SESSION)
    hub = Hub("w2", bus)
    hub.register(b)  # type: ignore[arg-type]
    sender = Bridge(bus, "w1", lambda e: None)
    assert hub.bridge is not None
    wanted = [("frame", b"seq:%d" % n) for n in range(10)]
    async with asyncio.timeout(10), asyncio.TaskGroup() as tasks:
        reading = tasks.create_task(hub.bridge.run_receiver())
        sending = tasks.create_task(sender.run_sender())
        for _ in range(10):  # subscribed before anything is published
            await asyncio.sleep(0)
        for n in range(10):
            sender.relay("w2", "0xB", SESSION.id, SESSION.epoch, b"seq:%d" % n)
            await asyncio.sleep(0.01)
        while b.told != wanted:  # noqa: ASYNC110 - a test's poll, bounded by the timeout
            await asyncio.sleep(0.01)
        sender.stop()
        await sending
        reading.cancel()
    assert b.told == wanted
    assert hub.duplicates >= 1 and sender.relay_retried >= 1 and sender.dropped == 0


async def test_a_relay_batch_is_dropped_once_its_retry_time_is_over() -> None:
    now = [0.0]
    sender = Bridge(_FailingFirst(failures=2), "w1", lambda e: None, clock=lambda: now[0])
    lost = [Envelope(Kind.RELAY, "0xB", "s1", b"lost", "w1", 1, 0, [b"too"], 1)]
    assert not await sender._flush_relays("w2", lost)  # kept for a retry
    now[0] = RELAY_RETRY_SECONDS + 1
    assert await sender._flush_relays("w2", [])  # given up: dropped, counted
    assert sender.dropped == 2 and not sender._relay_retry
