"""Two browsers on two different workers of ``roulette cluster`` meet and see each other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from cluster.running import RunningCluster
from e2e.conftest import E2E_ENV, launch_cluster
from e2e.test_web_client import wallet
from e2e.wallet_pages import WalletPage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    env = {**E2E_ENV, "CHAIN_IDS": "1,10"}
    with launch_cluster(tmp_path_factory.mktemp("e2e-cluster"), env) as running:
        assert isinstance(running, RunningCluster)
        yield running


def sockets_by_worker(cluster: RunningCluster, total: int) -> list[int]:
    """Per-worker socket counts once they add up to ``total`` (heartbeats carry them)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        counts = [w["connections"] for w in cluster.status()["workers"]]
        if sum(counts) == total:
            return counts
        time.sleep(0.2)
    raise AssertionError(f"sockets never added up to {total}: {counts}")


def parked_on_the_other_worker(browser: Browser, cluster: RunningCluster, name: str) -> WalletPage:
    """A signed-in page whose socket is on the worker that does not hold the first page.

    The kernel spreads connections over the workers; a page queued alone on another chain
    holds a socket without meeting anyone, so we can look where it landed and retry.
    """
    for _ in range(12):
        page = WalletPage.open(browser, cluster.http_url, [wallet(name)])
        page.sign_in()
        page.page.select_option("#chain-select", "10")
        page.join()
        page.expect_queued()
        if sorted(sockets_by_worker(cluster, 2)) == [1, 1]:
            page.page.click("#cancel-btn")
            expect(page.page.locator("body")).to_have_attribute("data-queue", "idle")
            page.page.select_option("#chain-select", "1")
            return page
        page.close()
        sockets_by_worker(cluster, 1)
    raise AssertionError("the kernel never gave the second page to the other worker")


def test_two_pages_on_different_workers_meet_with_video_and_chat(
    browser: Browser, cluster: RunningCluster, tmp_path: Path
) -> None:
    alice = WalletPage.open(browser, cluster.http_url, [wallet("Alice")])
    alice.sign_in()
    alice.join()
    sockets_by_worker(cluster, 1)
    bob = parked_on_the_other_worker(browser, cluster, "Bob")
    try:
        bob.join()
        alice.expect_matched_with(bob)
        bob.expect_matched_with(alice)
        alice.expect_media_flowing()
        bob.expect_media_flowing()
        alice.send_chat("across workers")
        bob.expect_chat_from_peer("across workers")
        bob.screenshot(tmp_path / "cluster-call.png")
    finally:
        alice.close()
        bob.close()
