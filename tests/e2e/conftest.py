"""Fixtures of the browser tests: a real server (one per launcher) and Debian's Chromium.

Each launcher starts one deployment shape and yields something with an ``http_url``. The tests
run once per launcher, so a ``roulette cluster`` launcher (pages on different workers) is one
more entry in ``SERVER_LAUNCHERS``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import Browser, sync_playwright

from cluster.running import running_cluster
from e2e.wallet_pages import CHROMIUM, CHROMIUM_ARGS, InjectedWallet, OpenPage, WalletPage
from storage.redis_fixtures import running_server as running_redis
from support.server import running_server

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"

# What every browser test server needs: no external STUN (host candidates suffice on one
# machine), matching without the interest wait, the throwaway test wallet offered, and a
# short reconnect grace so a partner who left is given up on quickly.
E2E_ENV = {
    "STUN_SERVERS": "",
    "INTEREST_WAIT_SECONDS": "0",
    "TEST_WALLET_MODE": "1",
    "RECONNECT_GRACE_SECONDS": "2",
}


class Deployment(Protocol):
    """A running service as the browser sees it."""

    @property
    def http_url(self) -> str: ...


Launcher = Callable[[Path, Mapping[str, str]], AbstractContextManager[Deployment]]


def launch_serve(data_dir: Path, env: Mapping[str, str]) -> AbstractContextManager[Deployment]:
    """``roulette serve``: one process, in-process state, SQLite in ``data_dir``."""
    started: AbstractContextManager[Deployment] = running_server(data_dir, env)
    return started


@contextlib.contextmanager
def launch_cluster(data_dir: Path, env: Mapping[str, str]) -> Iterator[Deployment]:
    """``roulette cluster``: a supervisor and two workers sharing one redis-server."""
    with running_redis(data_dir / "redis") as redis:
        cluster_env = {
            **env,
            "REDIS_URL": redis.url,
            "CLUSTER_WORKERS": "2",
            "AUTH_RATE_BURST": "100000",
            "WS_HANDSHAKE_IP_BURST": "100000",
        }
        with running_cluster(data_dir, cluster_env) as cluster:
            yield cluster


SERVER_LAUNCHERS = [
    pytest.param(launch_serve, id="serve"),
    pytest.param(launch_cluster, id="cluster"),
]


@pytest.fixture(scope="module", params=SERVER_LAUNCHERS)
def web_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The service under test, started by each launcher in turn."""
    launcher: Launcher = request.param
    with launcher(tmp_path_factory.mktemp("e2e-node"), E2E_ENV) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fake camera and microphone.

    Module-scoped on purpose: Playwright's sync API runs an event loop in the main thread while
    it is open, and the async tests of later modules need that thread's loop free.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/bootstrap --system installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser, web_server: Deployment) -> Iterator[OpenPage]:
    """Open the client in a fresh browser context; all contexts close after the test.

    ``open_page(*wallets, deny_camera=False, keep_sockets=False)``: with no wallet, the page
    has no ``window.ethereum`` at all.
    """
    opened: list[WalletPage] = []

    def open_(
        *wallets: InjectedWallet, deny_camera: bool = False, keep_sockets: bool = False
    ) -> WalletPage:
        page = WalletPage.open(
            browser,
            web_server.http_url,
            list(wallets),
            deny_camera=deny_camera,
            keep_sockets=keep_sockets,
        )
        opened.append(page)
        return page

    yield open_
    for page in opened:
        page.close()
    errors = [e for page in opened for e in page.errors]
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def artifacts() -> Path:
    """``.artifacts/`` at the repository root (git-ignored; CI keeps it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
