"""The contract every ``NonceStore`` keeps: issued by us, consumed once, within its TTL.

Mix :class:`NonceStoreContract` into a test class of a module that provides a ``nonces``
fixture: a fresh, empty store.
"""

from __future__ import annotations

import asyncio

import pytest

from roulette.storage.ports import NonceStore

__all__ = ["NonceStoreContract"]

TTL = 300.0


class NonceStoreContract:
    """Behaviour every NonceStore implementation shares (EIP-4361 §"nonce")."""

    async def test_an_issued_nonce_is_taken_exactly_once(self, nonces: NonceStore) -> None:
        await nonces.issue("n0nce0000000000001", now=10.0, ttl=TTL)
        assert await nonces.consume("n0nce0000000000001", now=11.0) is True
        assert await nonces.consume("n0nce0000000000001", now=12.0) is False

    async def test_a_nonce_never_issued_is_refused(self, nonces: NonceStore) -> None:
        await nonces.issue("issued000000000001", now=10.0, ttl=TTL)
        assert await nonces.consume("forged000000000001", now=11.0) is False

    @pytest.mark.parametrize(
        ("age", "valid"), [(TTL - 0.001, True), (TTL, False), (TTL + 60, False)]
    )
    async def test_a_nonce_is_valid_until_its_ttl_runs_out(
        self, nonces: NonceStore, age: float, valid: bool
    ) -> None:
        await nonces.issue("ttl000000000000001", now=1000.0, ttl=TTL)
        assert await nonces.consume("ttl000000000000001", now=1000.0 + age) is valid

    async def test_an_expired_nonce_stays_refused(self, nonces: NonceStore) -> None:
        await nonces.issue("late00000000000001", now=0.0, ttl=TTL)
        assert await nonces.consume("late00000000000001", now=TTL + 1) is False
        assert await nonces.consume("late00000000000001", now=1.0) is False

    async def test_issuing_again_restarts_the_ttl(self, nonces: NonceStore) -> None:
        await nonces.issue("again0000000000001", now=0.0, ttl=TTL)
        await nonces.issue("again0000000000001", now=200.0, ttl=TTL)
        assert await nonces.consume("again0000000000001", now=TTL + 100.0) is True

    async def test_nonces_are_independent(self, nonces: NonceStore) -> None:
        for n in range(5):
            await nonces.issue(f"many00000000000{n:03}", now=float(n), ttl=TTL)
        taken = [await nonces.consume(f"many00000000000{n:03}", now=10.0) for n in (4, 0, 2)]
        assert taken == [True, True, True]
        assert await nonces.consume("many00000000000001", now=10.0) is True

    async def test_racing_consumers_take_a_nonce_once(self, nonces: NonceStore) -> None:
        await nonces.issue("race00000000000001", now=0.0, ttl=TTL)
        results = await asyncio.gather(
            *(nonces.consume("race00000000000001", now=1.0) for _ in range(20))
        )
        assert sorted(results) == [False] * 19 + [True]
