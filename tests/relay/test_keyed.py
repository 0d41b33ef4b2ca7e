"""Per-key token buckets with a bounded key table."""

from __future__ import annotations

from roulette.relay.keyed import KeyedLimiter


def test_each_key_has_its_own_burst_and_refill() -> None:
    limiter = KeyedLimiter(burst=2, per_second=1)
    assert [limiter.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert limiter.allow("b", 0.0)
    assert not limiter.allow("a", 0.5)
    assert limiter.allow("a", 1.5)


def test_the_key_table_forgets_the_least_recently_seen_first() -> None:
    limiter = KeyedLimiter(burst=1, per_second=0.001, max_keys=2)
    assert limiter.allow("a", 0.0)
    assert limiter.allow("b", 0.0)
    assert not limiter.allow("a", 0.0)  # a is now the most recent
    assert limiter.allow("c", 0.0)  # evicts b
    assert len(limiter) == 2
    assert limiter.allow("b", 0.0)  # b was forgotten: a fresh burst
    assert not limiter.allow("c", 0.0)


def test_the_rate_limit_allows_a_burst_then_the_sustained_rate() -> None:
    limit = KeyedLimiter(burst=3, per_second=1.0)

    assert [limit.allow("k", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow("other", 0.0)
    assert not limit.allow("k", 0.5)
    assert limit.allow("k", 1.0)
    assert not limit.allow("k", 1.0)


def test_the_rate_limit_forgets_the_least_recent_keys() -> None:
    limit = KeyedLimiter(burst=1, per_second=0.001, max_keys=1)
    assert limit.allow("a", 0.0)
    assert limit.allow("b", 0.0)

    assert limit.allow("a", 0.0), "a was forgotten, so it starts with a full bucket"


def test_a_spent_key_owes_the_time_until_its_bucket_is_full() -> None:
    limiter = KeyedLimiter(burst=3, per_second=1.0)
    assert limiter.debt("k", 5.0) == 0.0  # never seen
    for _ in range(3):
        limiter.allow("k", 5.0)
    assert limiter.debt("k", 5.0) == 3.0
    assert limiter.debt("k", 6.5) == 1.5
    assert limiter.debt("k", 9.0) == 0.0


def test_an_inherited_debt_limits_a_fresh_limiter_as_the_old_one_was() -> None:
    old, new = KeyedLimiter(burst=3, per_second=1.0), KeyedLimiter(burst=3, per_second=1.0)
    assert [old.allow("k", 0.0) for _ in range(4)] == [True, True, True, False]
    new.inherit("k", old.debt("k", 0.0), 100.0)  # carried to another worker, later clock
    assert not new.allow("k", 100.0)
    assert new.debt("k", 100.0) == 3.0
    assert new.allow("k", 101.0)


def test_inheriting_never_lowers_a_debt_and_zero_is_nothing() -> None:
    limiter = KeyedLimiter(burst=2, per_second=1.0, max_keys=1)
    limiter.allow("k", 0.0)
    limiter.allow("k", 0.0)
    limiter.inherit("k", 0.5, 0.0)
    assert limiter.debt("k", 0.0) == 2.0
    limiter.inherit("other", 0.0, 0.0)
    assert limiter.debt("k", 0.0) == 2.0  # a zero debt takes no slot of the table
    limiter.inherit("other", 4.0, 0.0)
    assert len(limiter) == 1  # the table stays bounded
