"""CSRF: cookie-authenticated writes only from an allowed Origin (pure rule, then a real server)."""

from __future__ import annotations

import httpx
import pytest

from conftest import MakeUsers
from roulette.api.csrf import is_forged_request

ALLOWED = frozenset({"https://chat.example"})
COOKIE = {"cookie": "accessToken=eyJ.x.y"}


@pytest.mark.parametrize(
    ("method", "headers", "forged"),
    [
        ("GET", {**COOKIE, "origin": "https://evil.example"}, False),  # safe: changes nothing
        ("POST", {**COOKIE, "origin": "https://chat.example"}, False),
        ("POST", {**COOKIE, "origin": "https://evil.example"}, True),
        ("DELETE", {**COOKIE, "origin": "https://evil.example"}, True),
        ("POST", {**COOKIE, "origin": "null"}, True),  # a sandboxed frame or a file: page
        ("POST", {**COOKIE, "origin": "https://chat.example.evil.example"}, True),
        ("POST", {**COOKIE, "referer": "https://chat.example/call?x=1"}, False),
        ("POST", {**COOKIE, "referer": "https://evil.example/chat.example"}, True),
        ("POST", COOKIE, True),  # our cookies and no word of where from
        ("POST", {"cookie": "refreshToken=abc"}, True),
        ("POST", {"cookie": "theme=dark"}, False),  # no auth cookie: no ambient authority
        ("POST", {}, False),
        ("POST", {**COOKIE, "authorization": "Bearer t", "origin": "https://x.example"}, False),
    ],
)
def test_only_unsafe_cookie_requests_from_foreign_origins_are_forged(
    method: str, headers: dict[str, str], forged: bool
) -> None:
    assert is_forged_request(method, headers, ALLOWED) is forged


async def test_a_cross_site_post_with_the_cookie_is_refused(make_users: MakeUsers) -> None:
    a, b = await make_users(2)
    body = {"targetAddr": b.address, "reason": "spam"}
    forged = await a.http.post("/reports", json=body, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_origin"
    blocked = await a.http.post(
        "/blocks", json={"targetAddr": b.address}, headers={"Origin": "https://evil.example"}
    )
    assert blocked.status_code == 403
    assert (await a.http.get("/blocks")).json()["total"] == 0  # nothing was done
    logout = await a.http.post("/auth/logout", headers={"Origin": "https://evil.example"})
    assert logout.status_code == 403
    assert (await a.http.get("/auth/me")).status_code == 200  # still signed in

    # The same requests from our own page, or with a bearer token, go through.
    assert (await a.http.post("/reports", json=body)).status_code == 201
    async with httpx.AsyncClient(base_url=a.http_url) as script:
        bearer = await script.post(
            "/blocks",
            json={"targetAddr": b.address},
            headers={**a.bearer, "Origin": "https://evil.example"},
        )
    assert bearer.status_code == 201


async def test_a_cookie_post_without_origin_or_referer_is_refused(make_users: MakeUsers) -> None:
    (a,) = await make_users(1)
    async with httpx.AsyncClient(base_url=a.http_url) as bare:
        response = await bare.post(
            "/auth/refresh",
            headers={"Cookie": f"accessToken={a.access_token}; refreshToken=x"},
        )
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_origin"
