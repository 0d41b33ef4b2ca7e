"""``Retry-After`` (RFC 9110 §10.2.3) for every 429 and 503, from the one error mapping."""

from __future__ import annotations

from roulette.errors import (
    DEFAULT_RETRY_AFTER_SECONDS,
    BadRequest,
    PolicyViolation,
    RateLimited,
    Unavailable,
    retry_after,
)


def test_a_rate_limit_says_its_own_refill_time_in_whole_seconds_at_least_one() -> None:
    assert retry_after(RateLimited("slow down", retry_after=3.2)) == 4
    assert retry_after(RateLimited("slow down", retry_after=0.0)) == 1


def test_503_and_other_429_get_the_default_and_other_errors_none() -> None:
    assert retry_after(Unavailable("node full")) == DEFAULT_RETRY_AFTER_SECONDS
    assert retry_after(PolicyViolation("abuse")) == DEFAULT_RETRY_AFTER_SECONDS
    assert retry_after(BadRequest("bad")) is None
    assert retry_after(ValueError("a bug")) is None
