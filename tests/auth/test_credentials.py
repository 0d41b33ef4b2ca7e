"""The one access-token parser of HTTP requests and WebSocket handshakes."""

from __future__ import annotations

from roulette.auth.credentials import bearer_or_cookie


def test_the_bearer_header_wins_over_the_cookie() -> None:
    assert bearer_or_cookie("Bearer abc", "accessToken=xyz") == "abc"
    assert bearer_or_cookie("bearer  abc ", None) == "abc"


def test_the_cookie_is_used_without_a_header() -> None:
    assert bearer_or_cookie(None, "theme=dark; accessToken=xyz") == "xyz"


def test_anything_else_is_no_token() -> None:
    assert bearer_or_cookie("Basic abc", "accessToken=xyz") is None
    assert bearer_or_cookie("Bearer ", None) is None
    assert bearer_or_cookie(None, "theme=dark") is None
    assert bearer_or_cookie(None, None) is None
