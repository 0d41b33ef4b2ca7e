"""Which revocations a node acts on (pure): each new or renewed one once, clock skew tolerated."""

from __future__ import annotations

from roulette.identity import Address
from roulette.runtime.bans import OVERLAP_SECONDS, RevocationCursor

A, B = Address("0x" + "a" * 40), Address("0x" + "b" * 40)


def ban(address: Address, at: float) -> tuple[str, float]:
    return (address, at)


def test_each_ban_is_acted_on_once_and_a_renewed_ban_again() -> None:
    cursor = RevocationCursor(since=1000.0)
    assert cursor.take([ban(A, 1001.0)]) == [A]
    assert cursor.take([ban(A, 1001.0)]) == []  # the overlapping re-read
    assert cursor.take([ban(A, 1001.0), ban(B, 1002.0)]) == [B]
    assert cursor.take([ban(A, 1010.0)]) == [A]  # unbanned and banned again
    assert cursor.since == 1010.0


def test_a_ban_from_a_clock_behind_ours_is_still_read() -> None:
    cursor = RevocationCursor(since=1000.0)
    assert cursor.read_from == 1000.0 - OVERLAP_SECONDS
    assert cursor.take([ban(A, 1000.0 - OVERLAP_SECONDS / 2)]) == [A]
