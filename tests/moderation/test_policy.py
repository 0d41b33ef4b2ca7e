"""The pure moderation rules: auto-suspension by distinct reporters, the new-wallet cool-down."""

from __future__ import annotations

import pytest

from roulette.moderation.policy import (
    SuspendRule,
    cooldown_left,
    effective_reporters,
    should_suspend,
)

NOW = 10_000.0
OLD = NOW - 86_400  # first seen a day ago: established
FRESH = NOW - 60  # first seen a minute ago
RULE = SuspendRule(threshold=3, window=3600, min_age=600)


@pytest.mark.parametrize(
    ("first_seen", "counted"),
    [
        ([], 0),
        ([OLD, OLD, OLD], 3),
        ([FRESH] * 100, 0),  # a flood of fresh wallets counts for nothing alone
        ([None] * 10, 0),  # nor do wallets that never signed in
        ([OLD, FRESH, FRESH, FRESH], 2),  # each established reporter lets one fresh one count
        ([OLD, OLD, FRESH], 3),
        ([NOW - 600, NOW - 599, NOW - 599], 2),  # exactly min_age old is established
    ],
)
def test_fresh_reporters_count_only_alongside_established_ones(
    first_seen: list[float | None], counted: int
) -> None:
    assert effective_reporters(first_seen, now=NOW, min_age=600) == counted


def test_the_threshold_of_effective_reporters_suspends() -> None:
    assert not should_suspend([OLD, OLD], now=NOW, rule=RULE)
    assert should_suspend([OLD, OLD, OLD], now=NOW, rule=RULE)
    assert should_suspend([OLD, OLD, FRESH], now=NOW, rule=RULE)
    assert not should_suspend([OLD, FRESH, FRESH, FRESH, FRESH], now=NOW, rule=RULE)
    assert not should_suspend([FRESH] * 1000, now=NOW, rule=RULE)


def test_a_zero_threshold_turns_auto_suspension_off() -> None:
    off = SuspendRule(threshold=0, window=3600, min_age=0)
    assert not should_suspend([OLD] * 50, now=NOW, rule=off)


def test_a_new_wallet_waits_out_its_cooldown() -> None:
    assert cooldown_left(FRESH, now=NOW, cooldown=0) == 0.0
    assert cooldown_left(FRESH, now=NOW, cooldown=300) == 240.0
    assert cooldown_left(OLD, now=NOW, cooldown=300) == 0.0
    assert cooldown_left(None, now=NOW, cooldown=300) == 300.0
    assert cooldown_left(NOW - 300, now=NOW, cooldown=300) == 0.0
