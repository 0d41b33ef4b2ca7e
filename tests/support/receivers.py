"""Real alert receivers on loopback: an HTTP webhook endpoint and an SMTP server (aiosmtpd)
with STARTTLS (a self-signed certificate made by ``openssl`` for the test) and AUTH."""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

__all__ = ["Mailbox", "Webhook", "running_smtp", "running_webhook", "self_signed"]


@dataclass
class Webhook:
    """What the receiver got: (headers, JSON body) per accepted POST."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0
    """Answer this many POSTs with 500 first (to exercise retries)."""
    refused: int = 0

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies()


@contextlib.contextmanager
def running_webhook() -> Iterator[Webhook]:
    """An HTTP server on 127.0.0.1 (free port) recording every POST."""
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if hook.fail_next > 0:
                hook.fail_next -= 1
                hook.refused += 1
                self.send_response(500)
            else:
                hook.received.append((dict(self.headers.items()), body))
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, made with openssl."""
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Mailbox:
    """Messages the SMTP server accepted, and who logged in."""

    port: int
    messages: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_sessions: int = 0

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Envelope]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


class _Recorder:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if session.ssl is not None:
            self.box.tls_sessions += 1
        self.box.messages.append(envelope)
        return "250 OK"


@contextlib.contextmanager
def running_smtp(directory: Path, port: int, user: str, password: str) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1:``port`` requiring STARTTLS, and AUTH with user/password."""
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(port)

    def authenticate(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        if ok:
            box.logins.append(user)
        return AuthResult(success=ok)

    controller = Controller(
        _Recorder(box),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
        auth_required=True,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
