"""A test user: a real eth-account wallet that signs in over HTTP and talks over a WebSocket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage

from auth.siwe_wallet import build_message, sign

__all__ = ["User", "signed_in_users"]


@dataclass
class User:
    """One wallet holder against one server."""

    http_url: str
    ws_url: str
    domain: str
    account: LocalAccount = field(default_factory=Account.create)
    http: httpx.AsyncClient = field(init=False)
    ws: ClientConnection | None = None
    access_token: str | None = None

    def __post_init__(self) -> None:
        # A browser names the page's origin on every POST (Fetch §3.1); the API's CSRF check
        # refuses cookie-authenticated writes without an allowed one.
        self.http = httpx.AsyncClient(
            base_url=self.http_url, timeout=10.0, headers={"Origin": self.http_url}
        )

    @property
    def address(self) -> str:
        return str(self.account.address)

    async def sign_in_message(self, *, chain_id: int = 1, **overrides: Any) -> tuple[str, str]:
        """A fresh nonce from the server, and the signed EIP-4361 message using it."""
        nonce = (await self.http.get("/auth/siwe/nonce")).json()["nonce"]
        fields: dict[str, Any] = {
            "domain": self.domain,
            "uri": self.http_url,
            "chain_id": chain_id,
            "nonce": nonce,
            "issued_at": datetime.now(UTC),
        }
        fields.update(overrides)
        message = build_message(self.address, **fields)
        return message, sign(self.account, message)

    async def sign_in(self, *, chain_id: int = 1) -> httpx.Response:
        """Sign in with EIP-4361; keeps the cookies and the access token."""
        message, signature = await self.sign_in_message(chain_id=chain_id)
        response = await self.http.post(
            "/auth/siwe/verify", json={"message": message, "signature": signature}
        )
        response.raise_for_status()
        self.access_token = self.http.cookies.get("accessToken")
        return response

    @property
    def bearer(self) -> dict[str, str]:
        assert self.access_token is not None, "sign in first"
        return {"Authorization": f"Bearer {self.access_token}"}

    async def connect(self, **kwargs: Any) -> ClientConnection:
        """Open the WebSocket with the bearer token and wait for ``connected``."""
        self.ws = await connect(self.ws_url, additional_headers=self.bearer, **kwargs)
        connected = await self.expect("connected")
        assert connected["address"] == self.address
        return self.ws

    async def connect_after_a_crash(self, timeout: float = 20.0) -> ClientConnection:
        """:meth:`connect`, retried while the connection itself fails, as a real client does.

        Each ``roulette cluster`` worker listens on its own ``SO_REUSEPORT`` socket: a connect
        the kernel queued on a worker that was just killed is reset (docs/cluster.md), and
        the client's reconnect loop tries again; a refusal by the service is not retried.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                return await self.connect()
            except (OSError, InvalidMessage, ConnectionClosed, EOFError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)

    @property
    def worker(self) -> str:
        """The worker that took this user's socket (the handshake's X-Roulette-Worker)."""
        assert self.ws is not None and self.ws.response is not None
        return str(self.ws.response.headers["X-Roulette-Worker"])

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.ws is not None
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message, which must be of type ``kind``."""
        message = await self.recv(timeout)
        assert message["type"] == kind, f"expected {kind}, got {message}"
        return message

    async def join(self, chain_id: int = 1, interests: list[str] | None = None) -> dict[str, Any]:
        await self.send(
            {
                "type": "join-queue",
                "chainId": chain_id,
                "preferences": {"interests": interests or []},
            }
        )
        return await self.expect("queue-joined")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()


async def signed_in_users(server: Any, count: int) -> list[User]:
    """``count`` users, each signed in with its own fresh wallet."""
    users = [User(server.http_url, server.ws_url, f"127.0.0.1:{server.port}") for _ in range(count)]
    await asyncio.gather(*(u.sign_in() for u in users))
    return users
