"""The web client in headless Chromium against a real server: sign-in, matching, video, chat,
Next, Block, Report, and the messages a person sees when something goes wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from e2e.conftest import Deployment
from e2e.wallet_pages import InjectedWallet, OpenPage, WalletPage

pytestmark = pytest.mark.browser


def wallet(name: str) -> InjectedWallet:
    return InjectedWallet(name)


@pytest.mark.timeout(150)
def test_two_wallets_meet_talk_skip_block_and_report(open_page: OpenPage, artifacts: Path) -> None:
    """The whole product in four browser contexts (four cookie jars, four wallets).

    Alice and Bob meet, see each other's video and chat; Alice reports Bob. Bob presses Next
    and meets Carol. Carol blocks Bob; both go back to the queue and are never paired, while
    Dave, the third wallet, is paired with each of them in turn.
    """
    alice, bob = open_page(wallet("Alice")), open_page(wallet("Bob"))
    for page in (alice, bob):
        page.sign_in()
    siwe = alice.wallets[0].signed[0]
    assert siwe.startswith(f"{alice.page.url.split('/')[2]} wants you to sign in")
    assert f"\n{alice.address}\n" in siwe  # EIP-55, though the wallet answered in lower case

    alice.join()
    bob.join()
    alice.expect_matched_with(bob)
    bob.expect_matched_with(alice)
    alice.expect_media_flowing()
    bob.expect_media_flowing()

    alice.send_chat("gm from Alice")
    bob.expect_chat_from_peer("gm from Alice")
    bob.send_chat("gm Alice, Bob here")
    alice.expect_chat_from_peer("gm Alice, Bob here")
    alice.screenshot(artifacts / "call.png")

    report = alice.report_peer("spam", "kept posting a token link")
    assert report["targetAddr"] == bob.address
    assert report["reason"] == "spam"
    assert report["sessionId"]

    bob.press_next()
    # Next: Bob goes back to the queue, Alice is told and is not re-queued.
    expect(alice.page.locator("#view-lobby")).to_be_visible()
    expect(alice.page.locator("#last-call-text")).to_have_text(
        "Your partner moved on to someone new."
    )
    expect(alice.page.locator("body")).to_have_attribute("data-queue", "idle")
    alice.close()

    carol = open_page(wallet("Carol"))
    carol.sign_in()
    carol.join()
    carol.expect_matched_with(bob)
    bob.expect_matched_with(carol)
    bob.expect_media_flowing()

    # Block: Carol blocks Bob and is re-queued; Bob rejoins; they must never be paired.
    carol.block_peer()
    expect(bob.page.locator("#view-lobby")).to_be_visible()
    bob.join()
    bob.expect_queued()
    carol.expect_queued()
    time.sleep(1.0)  # both queued on one chain, no interests: anyone else would pair at once
    expect(bob.page.locator("#view-lobby")).to_be_visible()
    expect(carol.page.locator("#view-lobby")).to_be_visible()

    dave = open_page(wallet("Dave"))
    dave.sign_in()
    dave.join()
    first = dave.peer_address()
    assert first in (bob.address, carol.address)
    first_page, second_page = (bob, carol) if first == bob.address else (carol, bob)
    first_page.expect_matched_with(dave)
    dave.page.click("#next-btn")  # back to the queue, where the other one waits
    dave.expect_matched_with(second_page)
    second_page.expect_matched_with(dave)

    # Every pairing, as the server announced it (match-found frames): Bob and Carol met once,
    # before the block, and never after it.
    assert bob.matches == [alice.address, carol.address, dave.address]
    assert carol.matches == [bob.address, dave.address]
    assert dave.matches == [first, second_page.address]

    # A partner who closes the window: the other side is told at once, waits for a resume
    # during the server's grace period (2 s here), then learns that the partner left.
    dave.close()
    expect(second_page.page.locator("#call-banner")).to_contain_text("connection dropped")
    expect(second_page.page.locator("#view-lobby")).to_be_visible()
    expect(second_page.page.locator("#last-call-text")).to_have_text(
        "Your partner left: their connection dropped."
    )


def test_a_dropped_socket_reconnects_and_resumes_the_call(open_page: OpenPage) -> None:
    """The client reconnects and sends ``reconnect`` with its resume token; the call goes on."""
    erin, frank = open_page(wallet("Erin"), keep_sockets=True), open_page(wallet("Frank"))
    erin.sign_in()
    frank.sign_in()
    erin.join()
    frank.join()
    erin.expect_matched_with(frank)
    frank.expect_matched_with(erin)

    erin.drop_socket()
    # The banner ("connection dropped") may come and go faster than a check can see it: the
    # messages Frank received tell the story instead.
    expect(frank.page.locator(".toast", has_text="Your partner is back")).to_be_visible()
    assert "peer-disconnected" in frank.received, frank.received
    expect(frank.page.locator("#call-banner")).to_be_hidden()
    frank.send_chat("still there?")
    erin.expect_chat_from_peer("still there?")
    assert "session-resumed" in erin.received, erin.received
    erin.expect_media_flowing()


def advertise_chain(chain_id: int) -> Callable[[Route], None]:
    """A ``/config`` route answering the server's own config with one more chain in it."""

    def handle(route: Route) -> None:
        response = route.fetch()
        config = response.json()
        config["chainIds"] = [*config["chainIds"], chain_id]
        route.fulfill(response=response, json=config)

    return handle


def test_a_refused_rejoin_after_a_reconnect_returns_to_the_lobby_with_the_reason(
    open_page: OpenPage,
) -> None:
    """Issue 9: the re-join a reconnect sends is refused; the page says so in the lobby.

    The page was loaded when the service still offered chain 999 (the route stands in for a
    redeploy that dropped it): the user waits on chain 1, picks 999 meanwhile, and the socket
    drops. The re-join after the reconnect asks for 999, which the real server refuses
    (``chain_not_allowed``); the page must not go on showing a queue position.
    """
    grace = open_page(wallet("Grace"), keep_sockets=True)
    grace.page.route("**/config", advertise_chain(999))
    grace.page.reload()
    grace.sign_in()
    grace.join()
    grace.expect_queued()
    grace.page.select_option("#chain-select", "999")

    grace.drop_socket()
    # The first reconnect try is 0.5 s after the drop; a loaded machine may need far longer.
    expect(grace.page.locator("#notice")).to_contain_text(
        "Could not join the queue: chain 999 is not served here", timeout=20_000
    )
    expect(grace.page.locator("body")).to_have_attribute("data-queue", "idle")
    expect(grace.page.locator("#join-btn")).to_be_visible()
    assert "error" in grace.received, grace.received  # the server's answer, not the page's own


def test_the_page_explains_a_missing_wallet(open_page: OpenPage) -> None:
    page = open_page()
    page.page.click("#connect-btn")
    expect(page.page.locator("#notice")).to_contain_text("No Ethereum wallet found")
    expect(page.page.locator("#view-welcome")).to_be_visible()


def test_the_user_picks_among_several_wallets_and_may_decline_to_sign(
    open_page: OpenPage,
) -> None:
    """EIP-6963: two wallets announce; declining in one (4001) is explained, the other works."""
    real = wallet("Honest Wallet")
    page = open_page(real, InjectedWallet("Decoy Wallet", rejects=True))
    page.page.click("#connect-btn")
    buttons = page.page.locator("#wallet-list button")
    expect(buttons).to_have_count(2)
    buttons.filter(has_text="Decoy Wallet").click()
    expect(page.page.locator("#notice")).to_contain_text("You declined the signature request")
    expect(page.page.locator("#view-welcome")).to_be_visible()

    buttons.filter(has_text="Honest Wallet").click()
    page.expect_lobby()
    assert len(real.signed) == 1


def test_a_denied_camera_is_explained_and_joining_still_works(open_page: OpenPage) -> None:
    page = open_page(wallet("Camera-shy"), deny_camera=True)
    page.sign_in()
    expect(page.page.locator("#camera-status")).to_contain_text("access was denied")
    expect(page.page.locator("#camera-status")).to_contain_text("You can still join")
    page.join()
    page.expect_queued()
    page.page.click("#cancel-btn")
    expect(page.page.locator("#join-btn")).to_be_visible()
    expect(page.page.locator("body")).to_have_attribute("data-queue", "idle")


def test_the_throwaway_test_wallet_signs_in_with_a_real_signature(open_page: OpenPage) -> None:
    """With testWalletMode on, the in-page secp256k1 wallet's signature passes the server."""
    page: WalletPage = open_page()
    page.page.click("#test-wallet-btn")
    expect(page.page.locator("#view-lobby")).to_be_visible()
    shown = page.page.locator("#me-address").inner_text()
    me = page.page.evaluate("fetch('/auth/me').then((r) => r.json())")
    assert me["address"] == shown
    assert shown.startswith("0x")
    assert len(shown) == 42


def test_a_first_visit_makes_no_failing_request(browser: Browser, web_server: Deployment) -> None:
    """No ``GET /auth/me`` 401 in the console of someone who never signed in here."""
    context = browser.new_context(base_url=web_server.http_url)
    try:
        page = context.new_page()
        failed: list[str] = []
        page.on(
            "response",
            lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.goto("/")
        expect(page.locator("#view-welcome")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert failed == []
    finally:
        context.close()
