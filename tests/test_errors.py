"""The error tree's one mapping to HTTP statuses, close codes and public messages."""

from __future__ import annotations

import pytest

from roulette import errors as e


@pytest.mark.parametrize(
    ("error", "status", "close"),
    [
        (e.BadRequest("x"), 400, None),
        (e.Unauthenticated("x"), 401, 4001),
        (e.Forbidden("x"), 403, 1008),
        (e.NotFound("x"), 404, None),
        (e.Conflict("x"), 409, None),
        (e.PayloadTooLarge("x"), 413, 1009),
        (e.RateLimited("x"), 429, None),
        (e.PolicyViolation("x"), 429, 1008),
        (e.Unavailable("x"), 503, 1013),
        (e.InvalidState("x"), 500, 1011),
        (ValueError("boom"), 500, 1011),
    ],
)
def test_each_error_maps_to_one_status_and_close_code(
    error: BaseException, status: int, close: int | None
) -> None:
    assert e.http_status(error) == status
    assert e.close_code(error) == close


def test_our_internals_never_reach_the_peer() -> None:
    assert e.public_message(e.InvalidState("table corrupt at 0x1234")) == (
        "internal_error",
        "internal error; it has been logged",
    )
    assert e.public_message(KeyError("secret")) == (
        "internal_error",
        "internal error; it has been logged",
    )
    assert e.public_message(e.BadRequest("chain 5 is not served", code="chain_not_allowed")) == (
        "chain_not_allowed",
        "chain 5 is not served",
    )


def test_errors_read_well() -> None:
    assert str(e.RateLimited("slow down")) == "rate_limited: slow down"
