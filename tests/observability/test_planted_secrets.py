"""No secret in any log line, error body or ``/metrics``: distinctive values are planted in
every secret-bearing setting, then a real ``roulette serve`` and a real ``roulette cluster``
run through sign-in, refresh, matching, relay, a resume, balances, a tip, an admin ban and a
failing RPC provider at ``LOG_LEVEL=debug``. The tokens, resume tokens and SIWE signatures
seen on the way get the same check.

The credentials are really used: PostgreSQL gets a role with a password, Redis runs with
``requirepass``, and the RPC endpoints are a proxy that refuses calls without its key (one in
the URL's path, one in its query) — so a wrong redaction cannot pass by leaving them unused.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from eth_account import Account

import chain.conftest as chain_fixtures
from auth.siwe_wallet import sign
from chain.conftest import CHAIN, ETHER, OTHER_CHAIN, World, chain_env
from cluster.running import TOKEN, RunningCluster, cluster_env, launch_cluster
from roulette.identity import Address
from storage.redis_fixtures import RedisServer
from storage.redis_fixtures import free_port as redis_port
from support.postgres import psql
from support.rpc_proxy import KeyedRpcProxy, running_proxy
from support.server import running_server
from support.users import User

# The chain tests' local EVM nodes and contracts, borrowed by name.
anvil_bin = chain_fixtures.anvil_bin
evm = chain_fixtures.evm
other_evm = chain_fixtures.other_evm
world = chain_fixtures.world

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

RUN = uuid.uuid4().hex[:10]


def _planted(name: str) -> str:
    return f"planted-{name}-{RUN}"


PLANTED = {
    "JWT_ACCESS_SECRET": _planted("jwt-access"),
    "JWT_REFRESH_SECRET": _planted("jwt-refresh"),
    "ADMIN_TOKEN": _planted("admin-token"),
    # Secrets other features read (TURN credentials, HAProxy stats, alert channels): planted
    # whether or not this version reads them, since unknown variables are ignored.
    "TURN_SECRET": _planted("turn-secret"),
    "LB_STATS_PASSWORD": _planted("lb-stats-password"),
    "SMTP_PASSWORD": _planted("smtp-password"),
    "ALERT_WEBHOOK_SECRET": _planted("alert-webhook-secret"),
}
PG_PASSWORD = _planted("pg-password")
REDIS_PASSWORD = _planted("redis-password")
PATH_KEY = _planted("rpc-path-key")
QUERY_KEY = _planted("rpc-query-key")
SECRETS = [*PLANTED.values(), PG_PASSWORD, REDIS_PASSWORD, PATH_KEY, QUERY_KEY, TOKEN]
"""Every planted value (TOKEN is the management token the cluster helpers use)."""


@dataclass
class PasswordRedis(RedisServer):
    """A ``redis-server`` that demands a password (``requirepass``)."""

    password: str = ""

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=2)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A role with a password owning a fresh database; the URL carries the password."""
    role = f"planted_{RUN}"
    try:
        psql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{PG_PASSWORD}'")
        psql(f'CREATE DATABASE "{role}" OWNER "{role}"')
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    yield f"postgresql+asyncpg://{role}:{PG_PASSWORD}@127.0.0.1:5432/{role}"
    psql(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)')
    psql(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A password-protected Redis; the URL carries the password."""
    server = PasswordRedis(
        redis_port(),
        tmp_path_factory.mktemp("planted-redis"),
        extra=("--requirepass", REDIS_PASSWORD),
        password=REDIS_PASSWORD,
    )
    server.start()
    yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{server.port}/0"
    server.stop()


@pytest.fixture(scope="module")
def proxies(world: World) -> Iterator[tuple[KeyedRpcProxy, KeyedRpcProxy]]:
    """The main chain behind a path key, the other chain behind a query key."""
    with (
        running_proxy(world.evm.url, path_key=PATH_KEY, query_key=QUERY_KEY) as main,
        running_proxy(world.other.url, path_key=PATH_KEY, query_key=QUERY_KEY) as other,
    ):
        yield main, other


@pytest.fixture
def planted_env(
    world: World,
    database_url: str,
    redis_url: str,
    proxies: tuple[KeyedRpcProxy, KeyedRpcProxy],
) -> dict[str, str]:
    main, other = proxies
    for proxy in proxies:
        proxy.failing = False
    return chain_env(
        world,
        **PLANTED,
        TURN_URLS="turn:127.0.0.1:3478",  # TURN on: match-found carries credentials made from it
        MANAGEMENT_TOKEN=TOKEN,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        RPC_URLS=f"{CHAIN}={main.path_url},{OTHER_CHAIN}={other.query_url}",
        CHAIN_IDS=f"{CHAIN},{OTHER_CHAIN}",
        BALANCE_CACHE_SECONDS="0",
        LOG_LEVEL="debug",
    )


@dataclass
class Seen:
    """What the clients saw: credentials issued to them, and every error body."""

    credentials: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def user(self, target: Target) -> User:
        """A fresh wallet against ``target`` whose error responses are recorded."""
        user = User(target.http_url, target.ws_url, f"127.0.0.1:{target.port}")

        async def record(response: httpx.Response) -> None:
            if response.status_code >= 400:
                await response.aread()
                self.errors.append(response.text)

        user.http.event_hooks["response"].append(record)
        return user

    def keep_cookies(self, user: User) -> None:
        for name in ("accessToken", "refreshToken"):
            value = user.http.cookies.get(name)
            if value:
                self.credentials.append(value)


@dataclass
class Target:
    http_url: str
    ws_url: str
    port: int


async def _sign_in(seen: Seen, user: User, chain_id: int = CHAIN) -> httpx.Response:
    message, signature = await user.sign_in_message(chain_id=chain_id)
    seen.credentials += [signature, signature.removeprefix("0x")]
    response = await user.http.post(
        "/auth/siwe/verify", json={"message": message, "signature": signature}
    )
    user.access_token = user.http.cookies.get("accessToken")
    seen.keep_cookies(user)
    return response


async def _matched(seen: Seen, a: User, b: User) -> tuple[str, str]:
    for user in (a, b):
        await user.connect()
        await user.join(chain_id=CHAIN)
    found = [await user.expect("match-found", timeout=15) for user in (a, b)]
    seen.credentials += [f["resumeToken"] for f in found]
    return found[0]["sessionId"], found[0]["resumeToken"]


async def _relay_and_resume(a: User, b: User, session: str, resume_token: str) -> None:
    await a.send({"type": "offer", "sessionId": session, "data": {"sdp": "v=0 offer"}})
    assert (await b.expect("offer"))["data"] == {"sdp": "v=0 offer"}
    await b.send({"type": "answer", "sessionId": session, "data": {"sdp": "v=0 answer"}})
    await a.expect("answer")
    await b.send({"type": "ice-candidate", "sessionId": session, "data": {"candidate": "c"}})
    await a.expect("ice-candidate")
    await a.send({"type": "chat", "sessionId": session, "text": "hello"})
    assert (await b.expect("chat"))["text"] == "hello"
    assert a.ws is not None
    await a.ws.close()
    await b.expect("peer-disconnected")
    await a.connect()
    await a.send({"type": "reconnect", "sessionId": session, "resumeToken": resume_token})
    await a.expect("session-resumed")
    await b.expect("session-resumed")


async def _tip(world: World, a: User, b: User, session: str) -> None:
    world.evm.rpc("anvil_setBalance", [a.address, hex(ETHER)])
    world.evm.rpc("anvil_impersonateAccount", [a.address])
    tx = world.evm.send(Address(a.address), Address(b.address), value=ETHER // 100)
    response = await a.http.post(
        "/tips", json={"sessionId": session, "chainId": CHAIN, "txHash": tx}
    )
    assert response.status_code in {201, 202}, response.text
    # (Not waiting for b's tip-received: under the cluster the request may land on a worker
    # other than b's socket, and that notice is only sent locally today.)


async def _provoke_errors(seen: Seen, a: User, c: User) -> None:
    """Requests that carry planted values where they do not belong."""
    http = a.http
    me = await http.get("/auth/me", headers={"Authorization": f"Bearer {PLANTED['ADMIN_TOKEN']}"})
    assert me.status_code == 401
    wrong = {"Authorization": f"Bearer {PLANTED['JWT_ACCESS_SECRET']}"}
    ban = await http.post("/admin/bans", json={"address": c.address, "reason": "x"}, headers=wrong)
    assert ban.status_code == 403
    queried = await http.get("/balances", params={"chainId": CHAIN, "apikey": QUERY_KEY})
    assert queried.status_code == 200
    # A valid message signed by the wrong wallet: the signature must not be echoed or logged.
    message, _ = await c.sign_in_message(chain_id=CHAIN)
    forged = sign(Account.create(), message)
    seen.credentials += [forged, forged.removeprefix("0x")]
    refused = await c.http.post("/auth/siwe/verify", json={"message": message, "signature": forged})
    assert refused.status_code == 401


async def _scenario(
    seen: Seen, target: Target, world: World, proxies: tuple[KeyedRpcProxy, ...]
) -> str:
    """The whole run; returns the ``/metrics`` text."""
    a, b, c = seen.user(target), seen.user(target), seen.user(target)
    try:
        for user in (a, b, c):
            assert (await _sign_in(seen, user)).status_code == 200
        assert (await a.http.post("/auth/refresh")).status_code == 200
        seen.keep_cookies(a)
        a.access_token = a.http.cookies.get("accessToken")
        for chain_id in (CHAIN, OTHER_CHAIN):
            balances = await a.http.get("/balances", params={"chainId": chain_id})
            assert balances.status_code == 200, balances.text
        session, resume_token = await _matched(seen, a, b)
        await _relay_and_resume(a, b, session, resume_token)
        await _tip(world, a, b, session)
        await _provoke_errors(seen, a, c)
        admin = {"Authorization": f"Bearer {PLANTED['ADMIN_TOKEN']}"}
        banned = await a.http.post(
            "/admin/bans", json={"address": b.address, "reason": "planted test"}, headers=admin
        )
        assert banned.status_code == 201, banned.text
        assert (await _sign_in(seen, b)).status_code == 403
        for proxy in proxies:
            proxy.failing = True
        for chain_id in (CHAIN, OTHER_CHAIN):
            down = await a.http.get("/balances", params={"chainId": chain_id})
            assert down.status_code == 503, down.text
        metrics = await a.http.get("/metrics")
        assert metrics.status_code == 200
        assert (await a.http.post("/auth/logout")).status_code == 200
        return metrics.text
    finally:
        for user in (a, b, c):
            with contextlib.suppress(Exception):
                await user.close()


def _assert_nothing_leaked(seen: Seen, log: str, metrics: str) -> None:
    assert "DEBUG" in log or "WARNING" in log, "the log is empty: nothing was checked"
    assert "rpc_endpoint_failed" in log, "the failing provider left no trace"
    issued = seen.credentials
    assert sum(c.startswith("eyJ") for c in issued) >= 6, "access and refresh tokens were seen"
    assert sum(len(c) == 132 and c.startswith("0x") for c in issued) >= 4, "signatures were seen"
    for where, text in (
        ("log", log),
        ("/metrics", metrics),
        ("error bodies", "\n".join(seen.errors)),
    ):
        leaked = [value for value in [*SECRETS, *seen.credentials] if value and value in text]
        assert not leaked, f"{where} carries planted or issued secrets: {leaked}\n{text[-4000:]}"


@pytest.fixture
def planted_cluster(tmp_path: Path, planted_env: dict[str, str]) -> Iterator[RunningCluster]:
    """A real ``roulette cluster`` (two workers) on the planted environment."""
    env = cluster_env(tmp_path, {**planted_env, "CLUSTER_WORKERS": "2"})
    cluster = launch_cluster(tmp_path, env, [sys.executable, "-m", "roulette", "cluster"])
    try:
        cluster.wait_ready(2)
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.timeout(240)
async def test_roulette_serve_logs_no_planted_secret(
    tmp_path: Path,
    world: World,
    planted_env: dict[str, str],
    proxies: tuple[KeyedRpcProxy, KeyedRpcProxy],
) -> None:
    seen = Seen()
    with running_server(tmp_path / "serve", planted_env) as server:
        target = Target(server.http_url, server.ws_url, server.port)
        metrics = await _scenario(seen, target, world, proxies)
    assert proxies[0].used["path"] > 0 and proxies[1].used["query"] > 0, "the keys went unused"
    _assert_nothing_leaked(seen, server.log(), metrics)


@pytest.mark.timeout(300)
async def test_roulette_cluster_logs_no_planted_secret(
    planted_cluster: RunningCluster,
    world: World,
    proxies: tuple[KeyedRpcProxy, KeyedRpcProxy],
) -> None:
    seen = Seen()
    cluster = planted_cluster
    target = Target(cluster.http_url, cluster.ws_url, cluster.port)
    metrics = await _scenario(seen, target, world, proxies)
    async with httpx.AsyncClient(base_url=cluster.management_url) as management:
        asked = await management.get("/cluster/status", params={"token": TOKEN})
        assert asked.status_code == 401
        seen.errors.append(asked.text)
        status = await management.get(
            "/cluster/status", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        metrics += "\n" + status.text
    cluster.stop()
    assert proxies[0].used["path"] > 0 and proxies[1].used["query"] > 0, "the keys went unused"
    assert "management_request" in cluster.log(), "LOG_LEVEL=debug did not reach the supervisor"
    _assert_nothing_leaked(seen, cluster.log(), metrics)


def test_a_malformed_secret_is_not_echoed_in_the_start_up_error(tmp_path: Path) -> None:
    env = {
        "DATA_DIR": str(tmp_path),
        "ADMIN_TOKEN": "short-planted",  # too short: refused, and must not be echoed
        "PATH": "/usr/bin:/bin",
    }
    command = [sys.executable, "-m", "roulette", "db", "current"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "ADMIN_TOKEN" in refused.stderr and "short-planted" not in refused.stderr
    env |= {"ADMIN_TOKEN": PLANTED["ADMIN_TOKEN"], "DATABASE_URL": f"mysql://u:{PG_PASSWORD}@h/db"}
    refused = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "DATABASE_URL" in refused.stderr and PG_PASSWORD not in refused.stderr
