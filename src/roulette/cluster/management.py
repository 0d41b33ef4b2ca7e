"""The management HTTP API of ``roulette cluster`` (``MANAGEMENT_PORT``, bearer token required).

It runs in its own thread (``http.server.ThreadingHTTPServer``) and owns no state: each request
becomes a command for the reconcile loop, which answers it (see :mod:`roulette.cluster.channel`).

    GET  /cluster/status                 200 {"desired", "workers": [...], ...}
    GET  /dashboard                      the dashboard page (no token: it holds no data)
    GET  /dashboard/data                 all workers' sampled figures, merged, plus the status
    POST /cluster/workers {"count": n}   200 the status after the change (n in 1..64)
    GET  /scaling/status                 200 the autoscaler's state (docs/scaling.md)
    POST /scaling/manual {"instances", "reason", "ttlSeconds"?, "by"?}
                                         200 the status; 422 outside MIN..MAX_INSTANCES
    DELETE /scaling/manual               200 the status, ``cleared`` true if one was set

Errors are ``{"error": {"code", "message"}}``: 401 without a bearer token, 403 with a wrong
one, 400 for a bad body, 404/405 for other routes, 409 while draining, 503 if the loop is stuck.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from roulette.cluster import dashboard, policy
from roulette.cluster.channel import (
    Command,
    Reply,
    ScalingRequest,
    SetCount,
    StatusRequest,
    WakePipe,
)

__all__ = ["MAX_BODY_BYTES", "REPLY_TIMEOUT", "ManagementServer"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024
MAX_ACTOR_CHARS = 64
REPLY_TIMEOUT = 5.0
"""Seconds a request waits for the loop; a pass takes milliseconds, so more means it is stuck."""


class ManagementServer(ThreadingHTTPServer):
    """The management API, bound at construction and served from a daemon thread.

    Args:
        host: address to listen on.
        port: port to listen on (0 = any free port).
        token: the bearer token every request must carry.
        commands: the reconcile loop's command queue.
        wake: the loop's wake-up pipe.

    Raises:
        OSError: the port is taken.
    """

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        token: str,
        commands: queue.Queue[Command],
        wake: WakePipe,
        workers_url: str | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.token = token
        self.commands = commands
        self.wake = wake
        self.workers_url = workers_url
        """The workers' shared HTTP address, where the dashboard's figures come from."""
        self._thread = threading.Thread(target=self.serve_forever, name="management", daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server_address[1])

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()

    def ask(self, command: Command) -> Reply:
        """Hand ``command`` to the loop and wait for its reply."""
        try:
            self.commands.put(command, timeout=REPLY_TIMEOUT)
            self.wake.wake()
            return command.reply.get(timeout=REPLY_TIMEOUT)
        except (queue.Full, queue.Empty):
            return Reply.error(503, "unavailable", "the supervisor did not answer in time")


class _Handler(BaseHTTPRequestHandler):
    server: ManagementServer
    protocol_version = "HTTP/1.1"
    server_version = "roulette-cluster"
    sys_version = ""  # no Python version in the Server header

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/dashboard":
            self._send_page()
            return
        if not self._authorized():
            return
        route = self.path.split("?", 1)[0]
        if route == "/dashboard/data":
            self._send(self._dashboard_data())
        elif route == "/scaling/status":
            self._send(self.server.ask(ScalingRequest("status", {}, self._actor({}))))
        elif route == "/scaling/manual":
            self._send(Reply.error(405, "method_not_allowed", "use POST or DELETE"))
        elif route == "/cluster/status":
            self._send(self.server.ask(StatusRequest()))
        elif route == "/cluster/workers":
            self._send(Reply.error(405, "method_not_allowed", "use POST /cluster/workers"))
        else:
            self._send(Reply.error(404, "not_found", "no such route"))

    def do_POST(self) -> None:
        if not self._authorized():
            return
        route = self.path.split("?", 1)[0]
        if route == "/scaling/manual":
            body = self._body()
            if isinstance(body, Reply):
                self._send(body)
            elif not isinstance(body, dict):
                self._send(Reply.error(400, "bad_request", "the body must be a JSON object"))
            else:
                self._send(self.server.ask(ScalingRequest("manual", body, self._actor(body))))
            return
        if route != "/cluster/workers":
            self._send(Reply.error(404, "not_found", "no such route"))
            return
        count = self._count()
        if isinstance(count, Reply):
            self._send(count)
        else:
            self._send(self.server.ask(SetCount(count)))

    def do_DELETE(self) -> None:
        if not self._authorized():
            return
        if self.path.split("?", 1)[0] != "/scaling/manual":
            self._send(Reply.error(404, "not_found", "no such route"))
            return
        body = self._body()  # read, so an unexpected body is not taken for the next request
        if isinstance(body, Reply):
            self._send(body)
            return
        actor = self._actor(body if isinstance(body, dict) else {})
        self._send(self.server.ask(ScalingRequest("clear", {}, actor)))

    def _actor(self, body: dict[str, Any]) -> str:
        """Who asked, for the audit log: the body's ``by`` (if any) and the client address."""
        by = body.get("by")
        name = by[:MAX_ACTOR_CHARS] if isinstance(by, str) and by.strip() else "management-api"
        return f"{name.strip()} ({self.client_address[0]})"

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            self.close_connection = True  # an unread body must not pass for the next request
            self._send(Reply.error(401, "unauthenticated", "send Authorization: Bearer <token>"))
            return False
        # Constant-time comparison: the token is the only thing guarding the worker count.
        if not hmac.compare_digest(token.strip().encode(), self.server.token.encode()):
            self.close_connection = True
            self._send(Reply.error(403, "forbidden", "wrong management token"))
            return False
        return True

    def _count(self) -> int | Reply:
        body = self._body()
        if isinstance(body, Reply):
            return body
        count = body.get("count") if isinstance(body, dict) else None
        if not policy.is_valid_count(count):
            message = f"count must be an integer {policy.MIN_WORKERS}..{policy.MAX_WORKERS}"
            return Reply.error(400, "bad_request", message)
        assert isinstance(count, int)
        return count

    def _body(self) -> object:
        """The JSON body (None when empty), or the error reply."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return Reply.error(400, "bad_request", "Content-Length must be a number")
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            return Reply.error(
                413, "payload_too_large", f"the body is limited to {MAX_BODY_BYTES} B"
            )
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return Reply.error(400, "bad_request", "the body must be JSON")

    def _dashboard_data(self) -> Reply:
        if self.server.workers_url is None:
            return Reply.error(404, "not_found", "no dashboard on this supervisor")
        query = self.path.partition("?")[2]
        cluster = self.server.ask(StatusRequest()).body
        ready = [w["workerId"] for w in cluster.get("workers", []) if w.get("state") == "ready"]
        url, token = self.server.workers_url, self.server.token
        status, body = dashboard.node_data(url, token, query, ready)
        if status == 200:
            body["cluster"] = cluster
        return Reply(status, body)

    def _send_page(self) -> None:
        data = dashboard.page()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _send(self, reply: Reply) -> None:
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if reply.status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="roulette-cluster"')
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("management_request %s", format % args)
