"""Browser pages of the web client, each with an injected EIP-1193 wallet.

The wallet is a small ``window.ethereum`` that also announces itself over EIP-6963; its
``personal_sign`` is answered by a real eth-account key in this Python process (through
Playwright's ``expose_function``), so the service verifies a real signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "InjectedWallet", "OpenPage", "WalletPage"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake camera and microphone, allowed without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # Host candidates as plain addresses (no mDNS names to resolve), loopback included, so
    # the two pages connect on this machine without STUN.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
]
TIMEOUT_MS = 20_000

# Defines window.ethereum (the first wallet) and announces every wallet over EIP-6963.
_PROVIDER_JS = """
(() => {
  const wallets = __WALLETS__;
  const icon = "data:image/svg+xml," + encodeURIComponent(
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'>" +
    "<rect width='8' height='8' fill='#f5a524'/></svg>");
  const rpcError = (code, message) => Object.assign(new Error(message), { code });
  wallets.forEach((w, i) => {
    const provider = {
      isE2EWallet: true,
      async request({ method, params = [] }) {
        switch (method) {
          case "eth_requestAccounts":
          case "eth_accounts":
            return [w.address.toLowerCase()];  // wallets often answer in lower case
          case "eth_chainId":
            return "0x1";
          case "personal_sign":
            if (w.rejects) throw rpcError(4001, "User rejected the request.");
            return window[w.binding](params[0], params[1]);
          default:
            throw rpcError(4200, "Unsupported method " + method);
        }
      },
      on() {},
      removeListener() {},
    };
    const info = Object.freeze({
      uuid: "00000000-0000-4000-8000-00000000000" + i,
      name: w.name,
      icon,
      rdns: "org.example.e2e" + i,
    });
    const detail = Object.freeze({ info, provider });
    const announce = () =>
      window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
    if (i === 0) window.ethereum = provider;
  });
})();
"""

_DENY_CAMERA_JS = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
"""

# Keeps every WebSocket the page opens, so a test can drop one as a network failure would.
_KEEP_SOCKETS_JS = """
window.__e2eSockets = [];
window.WebSocket = class extends WebSocket {
  constructor(...args) {
    super(...args);
    window.__e2eSockets.push(this);
  }
};
"""

# Resolves with the number of remote video frames painted within `ms` (at most `want`).
_COUNT_FRAMES_JS = """
([want, ms]) => new Promise((resolve) => {
  const video = document.getElementById("remote-video");
  let frames = 0;
  const onFrame = () => {
    frames += 1;
    if (frames >= want) resolve(frames);
    else video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  setTimeout(() => resolve(frames), ms);
})
"""


@dataclass
class InjectedWallet:
    """One wallet in a page: a real key, or one that refuses to sign (EIP-1193 error 4001)."""

    name: str
    account: LocalAccount = field(default_factory=Account.create)
    rejects: bool = False
    signed: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def personal_sign(self, message_hex: str, address: str) -> str:
        assert address.lower() == self.address.lower(), address
        text = bytes.fromhex(message_hex.removeprefix("0x")).decode()
        self.signed.append(text)
        signed = Account.sign_message(encode_defunct(text=text), self.account.key)
        return "0x" + bytes(signed.signature).hex()


class WalletPage:
    """The client open in its own browser context (own cookies), driven like a person would."""

    def __init__(self, context: BrowserContext, page: Page, wallets: list[InjectedWallet]) -> None:
        self.context = context
        self.page = page
        self.wallets = wallets
        self.matches: list[str] = []  # peerId of every match-found, in order
        self.received: list[str] = []  # type of every server message, for failure reports
        self.errors: list[str] = []
        page.on("websocket", self._watch_socket)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    @classmethod
    def open(
        cls,
        browser: Browser,
        base_url: str,
        wallets: list[InjectedWallet],
        *,
        deny_camera: bool = False,
        keep_sockets: bool = False,
    ) -> WalletPage:
        """A new context on ``base_url`` with ``wallets`` injected (none: no wallet at all)."""
        context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 720})
        context.set_default_timeout(TIMEOUT_MS)
        described = []
        for i, wallet in enumerate(wallets):
            binding = f"__e2eSign{i}"
            context.expose_function(binding, wallet.personal_sign)
            described.append(
                {
                    "name": wallet.name,
                    "address": wallet.address,
                    "rejects": wallet.rejects,
                    "binding": binding,
                }
            )
        if wallets:
            context.add_init_script(_PROVIDER_JS.replace("__WALLETS__", json.dumps(described)))
        if deny_camera:
            context.add_init_script(_DENY_CAMERA_JS)
        if keep_sockets:
            context.add_init_script(_KEEP_SOCKETS_JS)
        page = context.new_page()
        self = cls(context, page, wallets)
        page.goto("/")
        expect(page.locator("body")).not_to_have_attribute("data-view", "loading")
        return self

    @property
    def address(self) -> str:
        return self.wallets[0].address

    def _why(self, what: str) -> str:
        """A failure message with this page's wallet and the server messages it received."""
        name = self.wallets[0].name if self.wallets else "no wallet"
        return f"{name}: {what}; server messages so far: {self.received}"

    def _watch_socket(self, ws: WebSocket) -> None:
        ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: str | bytes) -> None:
        try:
            msg: Any = json.loads(payload)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        self.received.append(
            str(msg.get("type")) + (f":{msg['reason']}" if "reason" in msg else "")
        )
        if msg.get("type") == "match-found":
            self.matches.append(msg["peerId"])

    # ------------------------------------------------------------ sign-in and lobby

    def sign_in(self, wallet_name: str | None = None) -> None:
        """Connect (picking ``wallet_name`` when several announce) and wait for the lobby."""
        self.page.click("#connect-btn")
        if wallet_name is not None:
            self.page.locator("#wallet-list button", has_text=wallet_name).click()
        self.expect_lobby()

    def expect_lobby(self) -> None:
        expect(self.page.locator("#view-lobby")).to_be_visible()
        expect(self.page.locator("#me-address")).to_have_text(self.address)

    def join(self) -> None:
        """Press Start chatting (accepting the safety notice the first time)."""
        self.page.click("#join-btn")
        dialog = self.page.locator("#safety-dialog")
        if dialog.is_visible():
            self.page.check("#safety-check")
            self.page.click("#safety-accept")
        # Queued, or already paired with someone who was waiting.
        self.page.wait_for_function(
            "document.body.dataset.queue !== 'idle' || document.body.dataset.view === 'call'"
        )

    def expect_queued(self) -> None:
        expect(self.page.locator("body"), self._why("not queued")).to_have_attribute(
            "data-queue", "queued"
        )
        expect(self.page.locator("#queue-position")).to_contain_text("Position")

    # ------------------------------------------------------------ the call

    def expect_matched_with(self, peer: WalletPage) -> None:
        expect(self.page.locator("#view-call"), self._why("not in a call")).to_be_visible()
        expect(
            self.page.locator("#peer-label"), self._why(f"not matched with {peer.address}")
        ).to_have_attribute("title", peer.address)

    def peer_address(self) -> str:
        expect(self.page.locator("#view-call")).to_be_visible()
        return self.page.locator("#peer-label").get_attribute("title") or ""

    def expect_media_flowing(self) -> None:
        """RTCPeerConnection connected, and remote video frames decoded and painted."""
        expect(
            self.page.locator("body"), self._why("RTCPeerConnection not connected")
        ).to_have_attribute("data-pc-state", "connected")
        self.page.wait_for_function(
            "Number(document.getElementById('quality').dataset.framesDecoded) > 0"
        )
        painted = self.page.evaluate(_COUNT_FRAMES_JS, [5, 10_000])
        assert painted >= 5, f"only {painted} remote video frames painted"

    def send_chat(self, text: str) -> None:
        self.page.fill("#chat-input", text)
        self.page.press("#chat-input", "Enter")
        expect(self.page.locator(".msg.me").last).to_have_text(text)

    def expect_chat_from_peer(self, text: str) -> None:
        expect(self.page.locator(".msg.peer", has_text=text)).to_be_visible()

    def press_next(self) -> None:
        self.page.click("#next-btn")
        expect(self.page.locator("#view-lobby"), self._why("still in the call")).to_be_visible()
        self.expect_queued()

    def block_peer(self) -> None:
        """Block → confirm: POST /blocks answers 201, then the client skips to the queue."""
        self.page.click("#block-btn")
        with self.page.expect_response(_post_to("/blocks")) as answer:
            self.page.click("#block-confirm")
        assert answer.value.status == 201, answer.value.text()
        expect(self.page.locator("#last-call-text")).to_contain_text("You blocked")
        self.expect_queued()

    def report_peer(self, reason: str, notes: str) -> dict[str, Any]:
        """Report with a reason; returns the request body after a 201 and the confirmation."""
        self.page.click("#report-btn")
        self.page.check(f"#report-form input[name=reason][value={reason}]")
        self.page.fill("#report-notes", notes)
        with self.page.expect_response(_post_to("/reports")) as answer:
            self.page.click("#report-send")
        response = answer.value
        assert response.status == 201, response.text()
        expect(self.page.locator(".toast", has_text="Report sent")).to_be_visible()
        expect(self.page.locator("#report-dialog")).to_be_hidden()
        body = response.request.post_data_json
        assert isinstance(body, dict), body
        return body

    def drop_socket(self) -> None:
        """Close the page's WebSocket under it (needs ``keep_sockets=True``)."""
        self.page.evaluate("window.__e2eSockets.at(-1).close(4000, 'dropped by the test')")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))

    def close(self) -> None:
        self.context.close()


# The ``open_page`` fixture: ``open_page(*wallets, deny_camera=False) -> WalletPage``.
OpenPage = Callable[..., "WalletPage"]


def _post_to(path: str) -> Any:
    return lambda r: r.url.endswith(path) and r.request.method == "POST"
