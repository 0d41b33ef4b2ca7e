"""Per-wallet message budgets: one limiter per wallet, remembered across sockets, bounded."""

from __future__ import annotations

import pytest

from roulette.relay.budgets import WalletBudgets
from roulette.relay.limits import MessageLimiter, Verdict


def budgets(max_wallets: int = 10) -> WalletBudgets:
    return WalletBudgets(lambda: MessageLimiter(burst=3, per_second=1), max_wallets=max_wallets)


def test_a_new_socket_of_the_same_wallet_gets_the_same_spent_budget() -> None:
    table = budgets()
    first = table.limiter_for("0xA")
    assert [first.record(0.0) for _ in range(3)] == [Verdict.ALLOW] * 3
    again = table.limiter_for("0xA")  # a reconnect
    assert again is first
    assert again.record(0.0) is Verdict.REFUSE
    assert table.limiter_for("0xB").record(0.0) is Verdict.ALLOW  # wallets are independent


def test_the_least_recently_connected_wallet_is_forgotten_first() -> None:
    table = budgets(max_wallets=2)
    a = table.limiter_for("0xA")
    table.limiter_for("0xB")
    table.limiter_for("0xA")  # A is the most recent again
    table.limiter_for("0xC")
    assert len(table) == 2
    assert table.limiter_for("0xA") is a


def test_a_table_needs_room_for_one_wallet() -> None:
    with pytest.raises(ValueError, match="max_wallets"):
        budgets(max_wallets=0)
