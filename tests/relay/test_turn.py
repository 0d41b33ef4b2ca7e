"""TURN credentials (coturn REST scheme) against a real coturn running our deployed config."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roulette.relay.turn import TurnIssuer, turn_password
from support.coturn import Coturn, running_coturn
from support.turn import XOR_RELAYED_ADDRESS, TurnClient

SECRET = "turn-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    directory: Path = tmp_path_factory.mktemp("coturn")
    with running_coturn(directory, SECRET) as server:
        yield server


def _client(coturn: Coturn, username: str, password: str) -> TurnClient:
    return TurnClient(coturn.address, username, password)


def _issued(now: float, ttl: float = 600.0, subject: str = "s1:0xA") -> tuple[str, str]:
    issuer = TurnIssuer(SECRET, ("turn:127.0.0.1:3478",), ttl)
    creds = issuer.issue(subject, now=now)
    return creds.username, creds.credential


# ------------------------------------------------------------------ pure: the REST scheme


def test_the_password_is_base64_hmac_sha1_of_the_username() -> None:
    expected = base64.b64encode(hmac.new(b"k" * 16, b"99:x", hashlib.sha1).digest()).decode()
    assert turn_password("k" * 16, "99:x") == expected


def test_the_username_is_expiry_colon_an_opaque_id_that_hides_the_wallet() -> None:
    issuer = TurnIssuer(SECRET, ("turn:t.example",), 600.0)
    creds = issuer.issue("sess:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", now=1000.4)
    expiry, _, opaque = creds.username.partition(":")
    assert int(expiry) == creds.expires_at == 1600
    assert "0x" not in opaque and len(opaque) == 16
    assert creds.credential == turn_password(SECRET, creds.username)
    assert issuer.issue("other:0x5a", now=1000.4).username != creds.username
    server = creds.ice_server(("turn:t.example",))
    assert server == {
        "urls": ["turn:t.example"],
        "username": creds.username,
        "credential": creds.credential,
    }


# ------------------------------------------------------------------ against coturn


@pytest.mark.slow
def test_an_allocation_with_issued_credentials_succeeds(coturn: Coturn) -> None:
    with _client(coturn, *_issued(time.time())) as client:
        reply = client.allocate()
        assert reply.ok, (reply.error_code, coturn.log()[-2000:])
        host, port = reply.address(XOR_RELAYED_ADDRESS)
        assert host == "127.0.0.1" and port > 0


@pytest.mark.slow
def test_expired_credentials_are_refused(coturn: Coturn) -> None:
    username, password = _issued(time.time() - 3600, ttl=60)  # expired 59 minutes ago
    with _client(coturn, username, password) as client:
        reply = client.allocate()
    assert not reply.ok and reply.error_code == 401


@pytest.mark.slow
def test_forged_credentials_are_refused(coturn: Coturn) -> None:
    username, _ = _issued(time.time())
    forged = turn_password("not-the-secret-0123456789", username)
    with _client(coturn, username, forged) as client:
        reply = client.allocate()
    assert not reply.ok and reply.error_code == 401
    # The same username with a later expiry but the old password: the HMAC binds the expiry.
    expiry, _, opaque = username.partition(":")
    stretched = f"{int(expiry) + 86_400}:{opaque}"
    with _client(coturn, stretched, _issued(time.time())[1]) as client:
        reply = client.allocate()
    assert not reply.ok and reply.error_code == 401


@pytest.mark.slow
@pytest.mark.parametrize(
    "peer",
    [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
    ],
)
def test_a_relay_to_loopback_or_a_private_range_is_refused(coturn: Coturn, peer: str) -> None:
    with _client(coturn, *_issued(time.time(), subject=f"deny:{peer}")) as client:
        assert client.allocate().ok
        permission = client.create_permission(peer)
        channel = client.channel_bind(peer, 5000)
    assert (permission.ok, permission.error_code) == (False, 403)
    assert (channel.ok, channel.error_code) == (False, 403)


@pytest.mark.slow
def test_a_relay_to_a_public_address_is_permitted(coturn: Coturn) -> None:
    """The control for the test above: the 403 comes from the deny list, not from auth.

    CreatePermission only installs a permission in coturn; nothing is sent to that address.
    """
    with _client(coturn, *_issued(time.time(), subject="public")) as client:
        assert client.allocate().ok
        permission = client.create_permission("8.8.8.8")
    assert permission.ok, permission.error_code


@pytest.mark.slow
def test_one_user_of_one_session_gets_at_most_four_allocations(coturn: Coturn) -> None:
    """``user-quota=4``: a leaked credential cannot open relays without end (486)."""
    credentials = _issued(time.time(), subject="quota")
    clients = [_client(coturn, *credentials) for _ in range(5)]
    try:
        replies = [client.allocate() for client in clients]
    finally:
        for client in clients:
            client.close()
    assert [r.ok for r in replies] == [True] * 4 + [False]
    assert replies[4].error_code == 486  # RFC 8656 §18: Allocation Quota Reached
