"""The reliability run's users: canaries never sign in with a wallet the run already uses.

A canary that drew the probes' wallets signed in as a live probe (its socket closed with
4002, its session torn) or as the seeded banned wallet (the round failed by design), so every
fault's recovery time counted a canary failure or two that had nothing to do with the fault.
"""

from __future__ import annotations

from roulette.lab.cli import FAULTS
from roulette.lab.reliability import PROBE_USERS, STREAK, randomness
from roulette.loadtest.wallet import Wallet

DRAWN = 64
"""Wallets drawn per role: the seeded records (4), the probes and pinned pairs, and many
more canary rounds (two wallets each) than a run makes before its streak."""


def _wallets(fault: str, role: str, run: int = 1) -> list[str]:
    rng = randomness(fault, role, run)
    return [Wallet.generate(rng).address for _ in range(DRAWN)]


def test_the_canaries_wallets_are_never_the_runs_other_users() -> None:
    assert DRAWN > 4 + PROBE_USERS + 4 and DRAWN // 2 > STREAK
    for fault in FAULTS:
        users, canaries = _wallets(fault, "users"), _wallets(fault, "canaries")
        assert not set(users) & set(canaries), fault


def test_a_run_is_reproducible_and_the_next_run_on_the_lab_draws_new_wallets() -> None:
    assert _wallets("kill-node", "users") == _wallets("kill-node", "users")
    assert not set(_wallets("kill-node", "users", 1)) & set(_wallets("kill-node", "users", 2))
