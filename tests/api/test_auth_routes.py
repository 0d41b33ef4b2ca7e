"""Sign-In with Ethereum over HTTP against a real server, with real wallets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import MakeUsers
from support.server import RunningServer, running_server
from support.users import User


def new_user(server: RunningServer) -> User:
    return User(server.http_url, server.ws_url, f"127.0.0.1:{server.port}")


async def test_nonce_is_at_least_16_alphanumerics_valid_for_300_seconds(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        body = (await http.get("/auth/siwe/nonce")).json()
    assert body["expiresIn"] == 300
    assert len(body["nonce"]) >= 16 and body["nonce"].isalnum()


async def test_sign_in_returns_checksummed_address_and_sets_httponly_cookies(
    server: RunningServer,
) -> None:
    user = new_user(server)
    response = await user.sign_in()
    assert response.json() == {"address": user.address, "chainId": 1, "expiresIn": 900}
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("accessToken=") and "HttpOnly" in c for c in cookies)
    assert any(c.startswith("refreshToken=") and "HttpOnly" in c for c in cookies)
    me = await user.http.get("/auth/me")
    assert me.status_code == 200 and me.json()["address"] == user.address
    await user.close()


async def test_a_nonce_works_once(server: RunningServer) -> None:
    user = new_user(server)
    message, signature = await user.sign_in_message()
    body = {"message": message, "signature": signature}
    assert (await user.http.post("/auth/siwe/verify", json=body)).status_code == 200
    again = await user.http.post("/auth/siwe/verify", json=body)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_nonce"
    await user.close()


async def test_a_nonce_the_server_never_issued_is_refused(server: RunningServer) -> None:
    user = new_user(server)
    message, signature = await user.sign_in_message(nonce="abcdefgh12345678")
    response = await user.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": signature}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_nonce"
    await user.close()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"domain": "evil.example"}, "domain_mismatch"),
        ({"uri": "http://evil.example/"}, "uri_mismatch"),
        ({"chain_id": 5}, "chain_not_allowed"),
        ({"issued_at": timedelta(minutes=-10)}, "issued_at_out_of_range"),
        ({"issued_at": timedelta(minutes=5)}, "issued_at_out_of_range"),
        ({"expiration_time": timedelta(seconds=-1)}, "message_expired"),
        ({"not_before": timedelta(minutes=1)}, "message_not_yet_valid"),
        ({"version": "2"}, "unsupported_version"),
    ],
)
async def test_each_failed_check_is_a_401_with_its_code(
    server: RunningServer, overrides: dict[str, object], code: str
) -> None:
    user = new_user(server)
    # Times are offsets from now, taken when the test runs (not when pytest collected it).
    fields: dict[str, Any] = {
        k: datetime.now(UTC) + v if isinstance(v, timedelta) else v for k, v in overrides.items()
    }
    message, signature = await user.sign_in_message(**fields)
    response = await user.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": signature}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    await user.close()


async def test_a_signature_by_another_wallet_is_refused(server: RunningServer) -> None:
    user, other = new_user(server), new_user(server)
    message, _ = await user.sign_in_message()
    _, foreign = await other.sign_in_message()
    from auth.siwe_wallet import sign

    response = await user.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": sign(other.account, message)}
    )
    assert response.status_code == 401
    assert foreign  # the other wallet's own message stays unused
    await user.close()
    await other.close()


async def test_a_lowercase_address_is_canonicalised(server: RunningServer) -> None:
    user = new_user(server)
    nonce = (await user.http.get("/auth/siwe/nonce")).json()["nonce"]
    from auth.siwe_wallet import build_message, sign

    message = build_message(
        user.address.lower(),
        domain=user.domain,
        uri=server.http_url,
        chain_id=1,
        nonce=nonce,
        issued_at=datetime.now(UTC),
    )
    response = await user.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": sign(user.account, message)}
    )
    assert response.status_code == 200
    assert response.json()["address"] == user.address
    await user.close()


async def test_a_message_over_2_kib_is_a_400_before_parsing(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.post(
            "/auth/siwe/verify", json={"message": "x" * 2049, "signature": "0x00"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "message_too_large"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"message": 5, "signature": "0x"}', b"[]"],
)
async def test_a_malformed_body_is_a_4xx_with_the_error_shape(
    server: RunningServer, body: bytes
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.post(
            "/auth/siwe/verify", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code in (400, 422)
    assert set(response.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_verify_body_not_declared_json_is_a_422_and_leaves_the_nonce_usable(
    server: RunningServer, content_type: str | None
) -> None:
    # A cross-site form can send text/plain without a preflight: only JSON media types are
    # read (FastAPI's strict rule, kept by the lean route), so such a body is never verified.
    user = new_user(server)
    message, signature = await user.sign_in_message()
    body = json.dumps({"message": message, "signature": signature}).encode()
    headers = {"content-type": content_type} if content_type else {}
    refused = await user.http.post("/auth/siwe/verify", content=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_error"
    accepted = await user.http.post(
        "/auth/siwe/verify", content=body, headers={"content-type": "application/json"}
    )
    assert accepted.status_code == 200
    await user.close()


async def test_garbage_message_text_is_a_401(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.post(
            "/auth/siwe/verify", json={"message": "hello", "signature": "0x" + "00" * 65}
        )
    assert response.status_code == 401


async def test_refresh_rotates_and_reuse_of_the_old_token_revokes_the_family(
    make_users: MakeUsers,
) -> None:
    (user,) = await make_users(1)
    old_refresh = user.http.cookies.get("refreshToken", path="/auth")
    assert old_refresh
    first = await user.http.post("/auth/refresh")
    assert first.status_code == 200
    new_access = user.http.cookies.get("accessToken")
    assert new_access and new_access != user.access_token
    # Replaying the rotated token is theft: 401, and the whole family dies.
    async with httpx.AsyncClient(base_url=user.http_url) as thief:
        replay = await thief.post(
            "/auth/refresh",
            headers={"Cookie": f"refreshToken={old_refresh}", "Origin": user.http_url},
        )
    assert replay.status_code == 401
    me = await user.http.get("/auth/me", headers={"Authorization": f"Bearer {new_access}"})
    assert me.status_code == 401


async def test_logout_revokes_the_access_token_for_http_and_websocket(
    make_users: MakeUsers,
) -> None:
    (user,) = await make_users(1)
    token = user.access_token
    assert (await user.http.post("/auth/logout")).status_code == 200
    me = await user.http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    with pytest.raises((InvalidStatus, ConnectionClosed)) as refused:
        async with connect(user.ws_url, additional_headers=user.bearer) as ws:
            await ws.recv()
    if isinstance(refused.value, ConnectionClosed):
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4001


async def test_me_without_a_token_is_401(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


async def test_a_refresh_token_is_not_an_access_token(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    refresh = user.http.cookies.get("refreshToken", path="/auth")
    me = await user.http.get("/auth/me", headers={"Authorization": f"Bearer {refresh}"})
    assert me.status_code == 401


async def test_the_header_wins_over_the_cookie(make_users: MakeUsers) -> None:
    alice, bob = await make_users(2)
    me = await alice.http.get("/auth/me", headers=bob.bearer)
    assert me.json()["address"] == bob.address


async def test_sign_in_requests_are_rate_limited_per_client(tmp_path: Path) -> None:
    with running_server(tmp_path, {"AUTH_RATE_BURST": "5", "AUTH_RATE_PER_SECOND": "0.1"}) as srv:
        async with httpx.AsyncClient(base_url=srv.http_url) as http:
            statuses = [(await http.get("/auth/siwe/nonce")).status_code for _ in range(7)]
            limited = await http.get("/auth/siwe/nonce")
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429, 429]
    assert limited.json()["error"]["code"] == "rate_limited"
