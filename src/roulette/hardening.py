"""The abuse limits of issue 10: handshake budgets, the HTTP request deadline and cap on
unfinished requests, ban propagation.

Built once by :meth:`HardeningSettings.from_env` (``config.py`` hands it the environment);
every error names the variable and its value. Defaults are set so an honest user never meets
them (a page reload, a dropped network, a normal call's ICE burst), only a loop does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from roulette.envvars import EnvReader, int_at_least, positive

__all__ = ["HardeningSettings"]


@dataclass(frozen=True, slots=True)
class HardeningSettings:
    """Limits against floods that per-socket limits cannot see.

    Attributes:
        handshake_wallet_burst: WebSocket handshakes one wallet may make at once.
        handshake_wallet_per_second: … and sustained (default one per 2 s).
        handshake_ip_burst: handshakes one client IP may make at once (all its wallets).
        handshake_ip_per_second: … and sustained.
        http_request_seconds: an HTTP connection must deliver a complete request (headers
            and body) this long after it connected or its previous response ended, else it
            gets 408 and is closed (a slowloris client holds a file descriptor for nothing).
        ban_poll_seconds: how often each node reads new bans from SQL (a ban made by the CLI,
            or on another node, closes the banned wallet's sockets within this).
        http_max_incomplete_requests: connections of one process that may wait for a complete
            request at once; at the cap the oldest waiting one gets 503 and is closed, so
            slow clients cannot hold the port (an honest request finishes in milliseconds).
    """

    handshake_wallet_burst: int = 10
    handshake_wallet_per_second: float = 0.5
    handshake_ip_burst: int = 500
    handshake_ip_per_second: float = 50.0
    http_request_seconds: float = 10.0
    ban_poll_seconds: float = 0.5
    http_max_incomplete_requests: int = 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HardeningSettings:
        """Read ``WS_HANDSHAKE_*``, ``HTTP_REQUEST_TIMEOUT_SECONDS``,
        ``HTTP_MAX_INCOMPLETE_REQUESTS`` and ``BAN_POLL_SECONDS``.

        Raises:
            ConfigError: a value does not parse or is out of range.
        """
        e = EnvReader(env)
        return cls(
            handshake_wallet_burst=e.get("WS_HANDSHAKE_WALLET_BURST", int_at_least(1), 10),
            handshake_wallet_per_second=e.get("WS_HANDSHAKE_WALLET_PER_SECOND", positive, 0.5),
            handshake_ip_burst=e.get("WS_HANDSHAKE_IP_BURST", int_at_least(1), 500),
            handshake_ip_per_second=e.get("WS_HANDSHAKE_IP_PER_SECOND", positive, 50.0),
            http_request_seconds=e.get("HTTP_REQUEST_TIMEOUT_SECONDS", positive, 10.0),
            ban_poll_seconds=e.get("BAN_POLL_SECONDS", positive, 0.5),
            http_max_incomplete_requests=e.get(
                "HTTP_MAX_INCOMPLETE_REQUESTS", int_at_least(1), 1024
            ),
        )
