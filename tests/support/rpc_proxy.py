"""A hosted-RPC look-alike on loopback: it demands an API key in the path or the query, as
providers do (``/v2/<key>``, ``?apikey=<key>``), forwards to a local node, and can be made to
fail (HTTP 503) to play a failing dependency."""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["KeyedRpcProxy", "running_proxy"]


class KeyedRpcProxy:
    """Forwards JSON-RPC POSTs carrying ``path_key`` or ``query_key`` to ``upstream``."""

    def __init__(self, upstream: str, *, path_key: str, query_key: str) -> None:
        self.upstream = upstream
        self.path_key = path_key
        self.query_key = query_key
        self.failing = False
        self.used: Counter[str] = Counter()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True

    @property
    def path_url(self) -> str:
        """The endpoint with the key as a path segment."""
        return f"http://127.0.0.1:{self.server.server_port}/v2/{self.path_key}"

    @property
    def query_url(self) -> str:
        """The endpoint with the key in the query string."""
        return f"http://127.0.0.1:{self.server.server_port}/rpc?apikey={self.query_key}"

    def which_key(self, target: str) -> str | None:
        """``"path"`` or ``"query"`` when ``target`` carries the right key, else None."""
        parts = urlsplit(target)
        if parts.path == f"/v2/{self.path_key}":
            return "path"
        if parse_qs(parts.query).get("apikey") == [self.query_key]:
            return "query"
        return None

    def forward(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.upstream, data=body, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            data: bytes = answer.read()
            return data


def _handler(proxy: KeyedRpcProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = proxy.which_key(self.path)
            if key is None:
                self._reply(401, b'{"error":"missing api key"}')
            elif proxy.failing:
                self._reply(503, b'{"error":"upstream down"}')
            else:
                proxy.used[key] += 1
                self._reply(200, proxy.forward(body))

        def _reply(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test process's stderr is not under test."""

    return Handler


@contextlib.contextmanager
def running_proxy(upstream: str, *, path_key: str, query_key: str) -> Iterator[KeyedRpcProxy]:
    """A proxy serving on a free loopback port until the block ends."""
    proxy = KeyedRpcProxy(upstream, path_key=path_key, query_key=query_key)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=5)
