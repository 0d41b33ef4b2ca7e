"""Cross-worker delivery over Redis sharded pub/sub: the :class:`~roulette.storage.ports.Bus`
port.

Each worker reads one inbox channel (``SSUBSCRIBE``); a channel lives on the shard of its
hash tag, the worker id, so inboxes spread over a cluster's masters and a message crosses
exactly one of them (classic ``PUBLISH`` would be broadcast to every node of the cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub

from roulette.storage import keys
from roulette.storage.redis.client import RedisClient, is_client_failure, unavailable_on_failure

__all__ = ["RedisBus"]

log = logging.getLogger(__name__)


_IDLE_SECONDS = 1.0
"""How long one read waits for a message before the loop looks again."""


class _Resubscribe(Exception):
    """The server dropped our subscription (its slot moved): subscribe again."""


class RedisBus:
    """Worker inboxes on Redis (implements :class:`~ports.Bus`).

    :meth:`publish` sends a batch as one pipeline: one round trip, in order. The iterator
    of :meth:`subscribe` outlives connection loss and failover: it subscribes again, with
    backoff, on whichever node owns the channel's slot by then. What was published in the
    gap is lost, as the port allows (at most once); nothing is delivered twice unless a
    publisher retried a batch whose first attempt had reached Redis.

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
        retry_delay: the first pause before subscribing again after a loss.
        max_retry_delay: the longest pause between attempts (the delay doubles up to it).
    """

    def __init__(
        self, client: RedisClient, *, retry_delay: float = 0.05, max_retry_delay: float = 1.0
    ) -> None:
        self._client = client
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay

    async def publish(self, inbox: str, payloads: Sequence[bytes]) -> None:
        """Send ``payloads`` in order to worker ``inbox`` in one round trip.

        Args:
            inbox: the receiving worker's id.
            payloads: the messages, each delivered as one item of the inbox's iterator.

        Raises:
            Unavailable: ``state_unavailable``, Redis cannot be reached.
        """
        channel = keys.inbox(inbox)
        with unavailable_on_failure():
            if len(payloads) == 1:
                await self._client.spublish(channel, payloads[0])
            elif payloads:
                # Every command targets one channel, so one slot: a cluster pipeline sends
                # the whole batch to one node, in order.
                async with self._client.pipeline(transaction=False) as pipe:
                    for payload in payloads:
                        pipe.spublish(channel, payload)
                    await pipe.execute()

    def subscribe(self, inbox: str) -> AsyncIterator[bytes]:
        """Every payload published to ``inbox`` once the iterator has started, in order.

        The subscription is made on the first ``__anext__``; the iterator never ends by
        itself (cancel the task reading it, or ``aclose()`` it).
        """
        return self._deliveries(keys.inbox(inbox))

    async def _deliveries(self, channel: str) -> AsyncIterator[bytes]:
        delay = self._retry_delay
        while True:
            pubsub = self._client.pubsub()
            try:
                await self._subscribe(pubsub, channel)
                while True:
                    payload = await _next_payload(pubsub, channel)
                    delay = self._retry_delay
                    yield payload
            except _Resubscribe:
                pass  # the pause below, then a fresh subscription
            except Exception as error:
                if not is_client_failure(error):
                    raise
                log.info("inbox_resubscribe channel=%s error=%r", channel, error)
            finally:
                with contextlib.suppress(Exception):  # a dead connection: nothing to close
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated
            await asyncio.sleep(delay)
            delay = min(2 * delay, self._max_retry_delay)

    async def _subscribe(self, pubsub: PubSub, channel: str) -> None:
        # A keyed command on the channel's name first: on a cluster it routes by the same
        # slot, and a failure makes the client reload the slot map, so after a failover
        # SSUBSCRIBE goes to the promoted replica rather than the dead master.
        await self._client.exists(channel)
        await pubsub.ssubscribe(channel)


async def _next_payload(pubsub: PubSub, channel: str) -> bytes:
    """The next message's data; confirmations are skipped, a lost subscription raises."""
    while True:
        message: dict[str, Any] | None
        # A bounded wait rather than a blocking read: the loop wakes up now and then, which
        # also notices a cluster pub/sub that dropped its node connection (it then returns
        # at once, forever, instead of blocking).
        if isinstance(pubsub, ClusterPubSub):
            if not pubsub.node_pubsub_mapping:
                raise _Resubscribe(channel)
            message = await pubsub.get_sharded_message(timeout=_IDLE_SECONDS)
        else:
            message = await pubsub.get_message(timeout=_IDLE_SECONDS)
        if message is None:
            continue
        kind = message["type"]
        if kind == "smessage":
            return bytes(message["data"])
        if kind == "sunsubscribe" and _named(message["channel"]) == channel:
            raise _Resubscribe(channel)


def _named(channel: bytes | str) -> str:
    return channel.decode() if isinstance(channel, bytes) else channel
