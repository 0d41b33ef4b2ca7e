"""The contract every ``BudgetDebts`` keeps: what a wallet owes, as of when, until paid off.

Mix :class:`BudgetDebtsContract` into a test class of a module that provides a ``debts``
fixture: a fresh, empty store.
"""

from __future__ import annotations

import pytest

from roulette.identity import Address
from roulette.storage.ports import BudgetDebts, Debts

__all__ = ["BudgetDebtsContract"]

ALICE = Address("0x" + "a1" * 20)
BOB = Address("0x" + "b2" * 20)


class BudgetDebtsContract:
    """Behaviour every BudgetDebts implementation shares (issue 10, hole 3)."""

    async def test_a_wallet_never_seen_owes_nothing(self, debts: BudgetDebts) -> None:
        assert await debts.owed(ALICE, now=10.0) == Debts()

    async def test_a_carried_debt_is_owed_and_paid_off_as_time_passes(
        self, debts: BudgetDebts
    ) -> None:
        await debts.carry(ALICE, Debts(messages=3.0, skips=40.0), now=1000.0)
        assert await debts.owed(ALICE, now=1000.0) == Debts(messages=3.0, skips=40.0)
        assert await debts.owed(ALICE, now=1002.0) == Debts(messages=1.0, skips=38.0)
        assert await debts.owed(ALICE, now=1010.0) == Debts(messages=0.0, skips=30.0)
        assert await debts.owed(ALICE, now=1041.0) == Debts()

    async def test_the_last_carried_debt_counts(self, debts: BudgetDebts) -> None:
        # The writer inherited what was owed before it, so its figure includes the older one.
        await debts.carry(ALICE, Debts(messages=5.0), now=0.0)
        await debts.carry(ALICE, Debts(messages=1.0, skips=2.0), now=0.0)
        assert await debts.owed(ALICE, now=0.0) == Debts(messages=1.0, skips=2.0)

    async def test_carrying_nothing_forgets_the_wallet(self, debts: BudgetDebts) -> None:
        await debts.carry(ALICE, Debts(messages=5.0), now=0.0)
        await debts.carry(ALICE, Debts(), now=1.0)
        assert await debts.owed(ALICE, now=1.0) == Debts()

    async def test_wallets_owe_on_their_own(self, debts: BudgetDebts) -> None:
        await debts.carry(ALICE, Debts(messages=5.0), now=0.0)
        await debts.carry(BOB, Debts(skips=9.0), now=0.0)
        assert await debts.owed(ALICE, now=1.0) == Debts(messages=4.0)
        assert await debts.owed(BOB, now=1.0) == Debts(skips=8.0)

    @pytest.mark.parametrize("seconds", [0.001, 59.5, 3600.0])
    async def test_any_debt_is_kept_to_the_millisecond(
        self, debts: BudgetDebts, seconds: float
    ) -> None:
        await debts.carry(ALICE, Debts(messages=seconds), now=12.5)
        owed = await debts.owed(ALICE, now=12.5)
        assert owed.messages == pytest.approx(seconds, abs=1e-6)
