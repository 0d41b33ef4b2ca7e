"""The lobby's round trips, shared: the operations of one event-loop turn go as one script call.

Each lobby operation used to be its own ``EVALSHA``: a round trip, a client-side command, and a
script start-up on the master (about 70 µs of it per join, mostly the prelude and the call
itself). :class:`ScriptBatch` queues the operations callers submit, and at the end of the loop
turn sends every queued one (up to ``max_ops``) as one call of ``lua/batch.lua``, which runs
them in submission order, each exactly as its own script call would. So a batch is one atomic
step on the master; two batches, of this process or another, never interleave.

What a caller sees is unchanged: its own reply, or its own error. Operations submitted in one
turn run in submission order; operations submitted later, while batches are in flight, go in
a later batch, so an operation a caller submits after awaiting another always sees it. Batches
in flight at once (``max_in_flight``, each on its own connection) hold only operations that
were concurrent, whose order nobody could observe before either.

A batch the client sends again (redis-py retries a call whose reply was lost) is answered from
the reply the first run left under the batch's own key, not run twice (``lua/batch.lua``).

A batch's round trip is a task of its own rather than one caller's: a caller that is cancelled
(its socket closed) must not cut the round trip of everyone else in the batch. Such a task
cannot fail: whatever the round trip raises is handed to every caller of the batch, and it
lives one round trip (bounded by the client's timeouts, about 3 s at worst).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from roulette.errors import InvalidState, Unavailable
from roulette.storage.keys import BATCH_REPLY_TTL_MS, LOBBY
from roulette.storage.redis.scripts import Script

__all__ = ["Arg", "ScriptBatch"]

Arg = str
"""One argument of an operation: the script reads them as strings, as it would ``ARGV``."""


_ENCODE = msgspec.json.Encoder().encode
"""Compact JSON (what ``lua/batch.lua`` decodes with cjson), ~10× cheaper than ``json``'s."""
_DECODE = msgspec.json.decode


@dataclass(slots=True)
class _Call:
    operation: str
    args: tuple[Arg, ...]
    reply: asyncio.Future[Any]


class ScriptBatch:
    """Coalesces calls of one batch script (``lua/batch.lua``) made in the same loop turn.

    Args:
        script: the batch script, registered on the client.
        keys: its ``KEYS`` (the same for every operation); each call adds its own reply key
            (``LOBBY.reply``), so that a call the client retries is not run twice.
        common: the first arguments of every call (``ARGV[1..5]``); the operations are
            ``ARGV[6]``, a JSON list of ``[name, arg...]``.
        max_ops: the most operations in one call (the master runs nothing else meanwhile).
        max_pending: the most operations waiting for a call; beyond, a submission fails at
            once with ``Unavailable`` rather than queueing without bound.
        max_in_flight: the most calls in flight at once.
    """

    def __init__(
        self,
        script: Script,
        keys: Sequence[str],
        common: Sequence[str | int],
        *,
        max_ops: int,
        max_pending: int,
        max_in_flight: int,
    ) -> None:
        self._script = script
        self._keys = list(keys)
        self._common = list(common)
        self._max_ops = max_ops
        self._max_pending = max_pending
        self._max_in_flight = max_in_flight
        self._pending: deque[_Call] = deque()
        self._in_flight = 0
        self._scheduled = False
        self._rounds: set[asyncio.Task[None]] = set()
        # Batch ids: unique per process (a random prefix) and per call (a counter).
        self._ids = map(f"{secrets.token_hex(8)}:{{}}".format, itertools.count())

    async def __call__(self, operation: str, *args: Arg) -> Any:
        """Run ``operation`` with its ``args`` in the next batch; its reply.

        Raises:
            Unavailable: ``state_unavailable``, the batch's round trip failed, the operation
                failed in the script, or ``max_pending`` operations already wait.
        """
        if len(self._pending) >= self._max_pending:
            raise Unavailable(
                "shared state is not keeping up; try again shortly", code="state_unavailable"
            )
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Call(operation, args, reply))
        self._schedule()
        result = await reply
        if isinstance(result, dict) and "err" in result:
            # A Lua error in this operation alone (the script's own bug, or the master
            # refusing a write): the operation's fate is unknown, as after a failed call.
            raise Unavailable(
                f"shared state refused the operation: {result['err']}", code="state_unavailable"
            )
        return result

    def _schedule(self) -> None:
        # call_soon: every submission already queued for this turn runs first, so a turn's
        # operations share one call.
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending and self._in_flight < self._max_in_flight:
            batch = self._take()
            if not batch:
                return
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._round_trip(batch))
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)

    def _take(self) -> list[_Call]:
        batch: list[_Call] = []
        while self._pending and len(batch) < self._max_ops:
            call = self._pending.popleft()
            # A caller cancelled before its operation was sent: it is not sent at all, as an
            # unbatched call cancelled before its write would not be.
            if not call.reply.done():
                batch.append(call)
        return batch

    async def _round_trip(self, batch: list[_Call]) -> None:
        try:
            replies = await self._send(batch)
        except asyncio.CancelledError:
            for call in batch:
                call.reply.cancel()
            raise
        except Exception as error:  # every caller of the batch hears of it
            _settle(batch, error=error)
        else:
            _settle(batch, replies=replies)
        finally:
            self._in_flight -= 1
            if self._pending:
                self._schedule()

    async def _send(self, batch: list[_Call]) -> list[Any]:
        operations = _ENCODE([[call.operation, *call.args] for call in batch])
        keys = [*self._keys, LOBBY.reply(next(self._ids))]
        args = [*self._common, operations, BATCH_REPLY_TTL_MS]
        replies: list[Any] = _DECODE(await self._script(keys, args))
        if len(replies) != len(batch):
            raise InvalidState(f"{len(batch)} operations, {len(replies)} replies")
        return replies


def _settle(
    batch: list[_Call], *, replies: list[Any] | None = None, error: Exception | None = None
) -> None:
    # A caller that was cancelled meanwhile has no future to settle.
    for k, call in enumerate(batch):
        if call.reply.done():
            continue
        if replies is None:
            call.reply.set_exception(error or InvalidState("a batch settled without replies"))
        else:
            call.reply.set_result(replies[k])
