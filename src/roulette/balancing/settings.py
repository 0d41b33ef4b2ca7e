"""The load-balancer settings (``LB_*`` and ``TRUSTED_PROXIES``), read once by ``config.py``.

Every error names the variable and its value (through :class:`~roulette.envvars.EnvReader`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from roulette.envvars import EnvReader, int_at_least, parse_bool, parse_port, positive, strings

__all__ = ["ALGORITHMS", "LbSettings", "Network", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALGORITHMS = ("round-robin", "least-connections", "weighted", "ip-hash", "consistent-hash")
"""The guide's algorithm names, in the order the README lists them."""


@dataclass(frozen=True, slots=True)
class LbSettings:
    """How ``roulette lb`` renders HAProxy and how a node presents itself to it.

    Attributes:
        algorithm: one of :data:`ALGORITHMS`.
        sticky: cookie affinity (HTTP and the WebSocket upgrade).
        host / port: where HAProxy's public frontend listens.
        stats_port / stats_user / stats_password: the stats page (off without a password).
        agent_port: the node's agent-check port (0: the kernel picks; the registry says which).
        advertise_host: the address HAProxy reaches this node at (default: ``HOST``).
        check_path: what HAProxy's HTTP check asks every node (``/health/live`` by default:
            readiness — draining, shedding — travels by the agent check, so a shared Redis
            outage that fails every node's ``/health/ready`` does not mark every server down
            and cut every live socket).
        check_interval_ms / fall / rise: health and agent check cadence.
        drain_seconds: on SIGTERM, how long a node answers ``drain`` before closing sockets.
        node_ttl_seconds: a registration not refreshed within this is gone.
        conn_per_ip / conn_rate_per_ip / http_rate_per_ip: stick-table limits per client IP
            (rates per ``rate_window_seconds``).
        maxconn: HAProxy's global connection cap.
        run_dir: configuration file, sockets and pid file of ``roulette lb run``.
        haproxy: the HAProxy executable.
        sync_seconds: how often ``lb run`` reconciles servers with the registry.
        shed_lag_ms / shed_socket_fraction: a node sheds new handshakes and sign-ins when its
            event loop lags more, or its sockets reach this fraction of capacity.
        shed_sign_in_lag_ms: a node holding ``shed_sign_in_min_sockets`` sockets or more sheds
            nonces and refreshes alone from this much loop lag on, so a sign-in storm cannot
            delay its sockets' heartbeats (a verify is spared: its user has already signed).
        breaker_threshold: failures in a row that open the Redis or the SQL circuit breaker.
    """

    algorithm: str = "round-robin"
    sticky: bool = False
    host: str = "0.0.0.0"
    port: int = 8000
    stats_port: int = 8080
    stats_user: str = "admin"
    stats_password: str | None = None
    agent_port: int = 0
    advertise_host: str | None = None
    check_path: str = "/health/live"
    check_interval_ms: int = 2000
    fall: int = 2
    rise: int = 2
    drain_seconds: float = 3.0
    node_ttl_seconds: float = 10.0
    conn_per_ip: int = 200
    conn_rate_per_ip: int = 200
    http_rate_per_ip: int = 500
    rate_window_seconds: int = 10
    maxconn: int = 9000
    run_dir: Path = Path("data/haproxy")
    haproxy: str = "haproxy"
    sync_seconds: float = 1.0
    shed_lag_ms: int = 500
    shed_socket_fraction: float = 0.95
    shed_sign_in_lag_ms: int = 50
    shed_sign_in_min_sockets: int = 1000
    breaker_threshold: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, data_dir: Path) -> LbSettings:
        """Read the ``LB_*`` variables from ``env``.

        Raises:
            ConfigError: a variable is malformed; the message names it and its value.
        """
        e = EnvReader(env)
        return cls(
            algorithm=e.get("LB_ALGORITHM", _algorithm, "round-robin"),
            sticky=e.get("LB_STICKY_SESSION_ENABLED", parse_bool, False),
            host=e.get("LB_HOST", str, "0.0.0.0"),
            port=e.get("LB_PORT", parse_port, 8000),
            stats_port=e.get("LB_STATS_PORT", parse_port, 8080),
            stats_user=e.get("LB_STATS_USER", _token, "admin"),
            stats_password=e.get("LB_STATS_PASSWORD", _password, None),
            agent_port=e.get("LB_AGENT_PORT", parse_port, 0),
            advertise_host=e.get("LB_ADVERTISE_HOST", str, None),
            check_path=e.get("LB_CHECK_PATH", _path, "/health/live"),
            check_interval_ms=e.get("LB_CHECK_INTERVAL_MS", int_at_least(100), 2000),
            fall=e.get("LB_CHECK_FALL", int_at_least(1), 2),
            rise=e.get("LB_CHECK_RISE", int_at_least(1), 2),
            drain_seconds=e.get("LB_DRAIN_SECONDS", float, 3.0),
            node_ttl_seconds=e.get("LB_NODE_TTL_SECONDS", positive, 10.0),
            conn_per_ip=e.get("LB_CONN_PER_IP", int_at_least(1), 200),
            conn_rate_per_ip=e.get("LB_CONN_RATE_PER_IP", int_at_least(1), 200),
            http_rate_per_ip=e.get("LB_HTTP_RATE_PER_IP", int_at_least(1), 500),
            rate_window_seconds=e.get("LB_RATE_WINDOW_SECONDS", int_at_least(1), 10),
            maxconn=e.get("LB_MAXCONN", int_at_least(1), 9000),
            run_dir=e.get("LB_RUN_DIR", Path, data_dir / "haproxy"),
            haproxy=e.get("LB_HAPROXY", str, "haproxy"),
            sync_seconds=e.get("LB_SYNC_SECONDS", positive, 1.0),
            shed_lag_ms=e.get("SHED_LAG_MS", int_at_least(1), 500),
            shed_socket_fraction=e.get("SHED_SOCKET_FRACTION", _fraction, 0.95),
            shed_sign_in_lag_ms=e.get("SHED_SIGNIN_LAG_MS", int_at_least(1), 50),
            shed_sign_in_min_sockets=e.get("SHED_SIGNIN_MIN_SOCKETS", int_at_least(0), 1000),
            breaker_threshold=e.get("BREAKER_THRESHOLD", int_at_least(1), 5),
        )


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES``: comma-separated CIDRs (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(part, strict=False) for part in strings(raw))


def _algorithm(raw: str) -> str:
    if raw not in ALGORITHMS:
        raise ValueError(f"one of {', '.join(ALGORITHMS)}")
    return raw


def _token(raw: str) -> str:
    # The value lands in an HAProxy configuration line: no spaces, quotes or comment marks.
    if not raw or any(c.isspace() or c in "\"'#\\" for c in raw):
        raise ValueError("no spaces, quotes, backslashes or '#'")
    return raw


def _password(raw: str) -> str:
    if len(raw) < 12:
        raise ValueError("at least 12 characters")
    return _token(raw)


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 1:
        raise ValueError("a fraction in (0, 1]")
    return value


def _path(raw: str) -> str:
    if not raw.startswith("/"):
        raise ValueError("a path starting with '/'")
    return _token(raw)
