"""The re-check loop of pending tips: confirms them once final, fails them when they are not.

One :class:`TipRechecker` per process, its :meth:`~TipRechecker.run` owned by the server's
``TaskGroup``. Bounded: at most ``batch`` tips per pass, one pass per ``interval``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from roulette.chain.records import TipLedger, TipRecord, TipStatus
from roulette.chain.service import ChainService
from roulette.errors import RouletteError, Unavailable
from roulette.identity import Address

__all__ = ["Notify", "TipRechecker", "notify_tip", "tip_received_message"]

log = logging.getLogger(__name__)

Notify = Callable[[Address, bytes], Awaitable[None]]


def tip_received_message(tip: TipRecord) -> bytes:
    """The ``tip-received`` WebSocket message for the tip's recipient (JSON, UTF-8)."""
    return json.dumps(
        {
            "type": "tip-received",
            "sessionId": tip.session_id,
            "from": tip.sender,
            "chainId": tip.chain_id,
            "token": tip.token,
            "amount": tip.amount,
            "txHash": tip.tx_hash,
        },
        separators=(",", ":"),
    ).encode()


async def notify_tip(notify: Notify, tip: TipRecord) -> None:
    """Tell the recipient; a failure is logged (the tip stays recorded and listed)."""
    try:
        await notify(tip.recipient, tip_received_message(tip))
    except RouletteError as exc:
        log.warning("tip_notify_failed tx=%s error=%s", tip.tx_hash, exc)


class TipRechecker:
    """Moves pending tips to confirmed (and tells the peer) or failed.

    Args:
        service: asks the chain.
        tips: the ledger.
        notify: sends a message to a user's sockets.
        interval: seconds between passes.
        batch: the most tips one pass looks at.
        clock: the wall clock.
    """

    def __init__(
        self,
        service: ChainService,
        tips: TipLedger,
        notify: Notify,
        *,
        interval: float = 5.0,
        batch: int = 50,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._service = service
        self._tips = tips
        self._notify = notify
        self._interval = interval
        self._batch = batch
        self._clock = clock

    async def run(self) -> None:
        """Re-check forever, one pass per interval (cancel to stop)."""
        while True:
            try:
                await self.recheck_once()
            except Unavailable as exc:
                log.warning("tip_recheck_unavailable error=%s", exc)
            await asyncio.sleep(self._interval)

    async def recheck_once(self) -> list[TipRecord]:
        """One pass over the oldest pending tips.

        Returns:
            The tips settled in this pass, with their new status.

        Raises:
            Unavailable: the ledger cannot be read.
        """
        settled = []
        for tip in await self._tips.pending(limit=self._batch):
            now = self._clock()
            try:
                status = await self._service.recheck_tip(tip, now=now)
            except RouletteError as exc:
                log.info("tip_recheck_failed tx=%s error=%s", tip.tx_hash, exc)
                continue
            if status is TipStatus.PENDING:
                continue
            if await self._tips.settle(tip.tx_hash, status, now=now):
                done = _with_status(tip, status, now)
                settled.append(done)
                if status is TipStatus.CONFIRMED:
                    await notify_tip(self._notify, done)
        return settled


def _with_status(tip: TipRecord, status: TipStatus, now: float) -> TipRecord:
    confirmed_at = now if status is TipStatus.CONFIRMED else None
    return replace(tip, status=status, confirmed_at=confirmed_at)
