"""One typed settings object, built once at start-up from the environment and passed down.

This is the only module that reads ``os.environ``. The variable names of the guide we implement
(``CLUSTER_WORKERS``, ``REDIS_CLUSTER_NODES``, ``LB_ALGORITHM``, …) keep working.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from roulette.balancing.settings import LbSettings, Network, parse_networks
from roulette.chain.settings import ChainSettings
from roulette.envvars import (
    EnvReader,
    int_at_least,
    nonnegative,
    parse_bool,
    parse_port,
    positive,
    strings,
)
from roulette.errors import ConfigError
from roulette.hardening import HardeningSettings
from roulette.monitor_settings import MonitorSettings
from roulette.redaction import masked_repr
from roulette.safety import SafetySettings

__all__ = ["AutoScalingSettings", "Config", "Limits", "RedisSettings"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """Every explicit limit of the service (sizes in bytes, rates per second)."""

    max_message_bytes: int = 65_536
    siwe_max_bytes: int = 2048
    rate_burst: int = 60
    rate_per_second: float = 20.0
    next_interval_seconds: float = 2.0
    outbound_buffer_bytes: int = 1_048_576
    max_connections: int = 19_000
    read_buffer_bytes: int = 2048  # picows grows it on demand; idle sockets stay small
    ping_after_seconds: float = 20.0
    max_body_bytes: int = 16_384
    auth_burst: int = 30
    auth_per_second: float = 5.0
    reports_burst: int = 10
    reports_per_second: float = 1 / 60


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where shared state lives: standalone URL, Sentinel, or Redis Cluster."""

    url: str | None = None
    cluster_enabled: bool = False
    cluster_nodes: tuple[tuple[str, int], ...] = ()
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_master: str = "mymaster"
    # The lobby's batching (storage/redis/batch.py): operations per script call, operations
    # waiting for one (beyond: 503 state_unavailable), script calls in flight per process.
    lobby_batch_ops: int = 128
    lobby_batch_pending: int = 10_000
    lobby_batch_in_flight: int = 2
    # Relayed frames one cross-worker envelope carries (gateway/bridge.py); 1 during a roll
    # from a release before grouped envelopes, whose workers read only an envelope's first.
    relay_frames_per_envelope: int = 64

    @property
    def enabled(self) -> bool:
        """True when any Redis mode is configured."""
        return bool(self.url or self.cluster_enabled or self.sentinels)

    def __repr__(self) -> str:
        """The settings, the URL's password masked (``redis://***@host``)."""
        return masked_repr(self)


@dataclass(frozen=True, slots=True)
class AutoScalingSettings:
    """The autoscaler of ``roulette cluster`` (guide section 4 names; see docs/scaling.md)."""

    enabled: bool = False
    min_instances: int = 1
    max_instances: int = 10
    rules_file: Path | None = None
    interval_seconds: float = 15.0
    hook: str | None = None

    @classmethod
    def from_env(cls, e: EnvReader) -> AutoScalingSettings:
        """Read ``AUTO_SCALING_ENABLED``, ``MIN_INSTANCES``, ``MAX_INSTANCES``, ``SCALING_*``.

        Raises:
            ConfigError: a malformed value, or MIN_INSTANCES > MAX_INSTANCES.
        """
        settings = cls(
            enabled=e.get("AUTO_SCALING_ENABLED", parse_bool, False),
            min_instances=e.get("MIN_INSTANCES", int_at_least(1), 1),
            max_instances=e.get("MAX_INSTANCES", int_at_least(1), 10),
            rules_file=e.get("SCALING_RULES_FILE", Path, None),
            interval_seconds=e.get("SCALING_INTERVAL_SECONDS", positive, 15.0),
            hook=e.get("SCALING_HOOK", str, None) or None,
        )
        if settings.min_instances > settings.max_instances:
            raise ConfigError(
                f"MIN_INSTANCES={settings.min_instances} is above "
                f"MAX_INSTANCES={settings.max_instances}"
            )
        return settings


@dataclass(frozen=True, slots=True)
class Config:
    """All settings of one node. Build it with :meth:`from_env`."""

    host: str = "127.0.0.1"
    port: int = 3001
    ws_port: int = 3002
    public_ws_url: str | None = None
    data_dir: Path = Path("data")
    database_url: str | None = None
    siwe_domain: str = "localhost:3001"
    chain_ids: tuple[int, ...] = (1,)
    allowed_origins: tuple[str, ...] = ("http://localhost:3001", "https://localhost:3001")
    jwt_access_secret: str | None = None
    jwt_refresh_secret: str | None = None
    access_ttl_seconds: int = 900
    refresh_ttl_seconds: int = 7 * 24 * 3600
    nonce_ttl_seconds: int = 300
    admin_token: str | None = None
    stun_servers: tuple[str, ...] = ("stun:stun.l.google.com:19302",)
    interest_wait_seconds: float = 10.0
    session_max_seconds: float = 1800.0
    idle_timeout_seconds: float = 300.0
    reconnect_grace_seconds: float = 30.0
    shutdown_timeout_seconds: float = 10.0
    cookie_secure: bool = False
    test_wallet_mode: bool = False
    log_level: str = "info"
    limits: Limits = field(default_factory=Limits)
    redis: RedisSettings = field(default_factory=RedisSettings)
    cluster_workers: int = 0
    cluster_fork_server: bool = sys.platform == "linux"
    """``roulette cluster`` forks workers from a warm zygote (``CLUSTER_FORK_SERVER``; Linux:
    it needs ``PR_SET_CHILD_SUBREAPER``); off, each worker is a fresh ``exec``."""
    management_port: int = 9001
    management_token: str | None = None
    lb_algorithm: str = "round-robin"
    prometheus_multiproc_dir: Path | None = None
    chain: ChainSettings = field(default_factory=ChainSettings)
    scaling: AutoScalingSettings = field(default_factory=AutoScalingSettings)
    lb: LbSettings = field(default_factory=LbSettings)
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose ``X-Forwarded-For`` is believed (``TRUSTED_PROXIES``; none by default)."""
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    hardening: HardeningSettings = field(default_factory=HardeningSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    lab_dir: Path = Path("data/lab")
    """Where ``roulette lab`` keeps its state, logs and data (``LAB_DIR``)."""
    environment: tuple[tuple[str, str], ...] = ()
    """The raw environment this config came from: what child processes (workers) inherit."""

    def __repr__(self) -> str:
        """The settings with every secret shown as ``***`` (logs and tracebacks show reprs)."""
        return masked_repr(self, _SECRET_FIELDS)

    def child_environment(self, **extra: str) -> dict[str, str]:
        """The environment for a worker process: ours, plus ``extra``."""
        return {**dict(self.environment), **extra}

    @property
    def sql_url(self) -> str:
        """The SQLAlchemy URL: ``DATABASE_URL`` or the embedded SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'roulette.db'}"

    @property
    def websocket_url(self) -> str:
        """The gateway's own URL, for ``GET /config`` when neither ``PUBLIC_WS_URL`` nor the
        request's (allowed) host can say better."""
        if self.public_ws_url:
            return self.public_ws_url
        return f"ws://{_url_host(self.host)}:{self.ws_port}/ws"

    def with_ports(self, port: int, ws_port: int) -> Config:
        """A copy listening on the bound ports (``PORT=0`` binds any free one).

        A ``SIWE_DOMAIN`` or ``ALLOWED_ORIGINS`` entry naming port 0 (``127.0.0.1:0``) then
        names the bound HTTP port, so a server on port 0 (tests) accepts its own sign-ins.
        """

        def bound(value: str) -> str:
            return f"{value[:-2]}:{port}" if value.endswith(":0") else value

        return replace(
            self,
            port=port,
            ws_port=ws_port,
            siwe_domain=bound(self.siwe_domain),
            allowed_origins=tuple(bound(origin) for origin in self.allowed_origins),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Build the settings from ``env`` (default: the process environment).

        Raises:
            ConfigError: a variable is malformed; the message names it and its value.
        """
        e = EnvReader(os.environ if env is None else env)
        port = e.get("PORT", parse_port, 3001)
        domain = e.get("SIWE_DOMAIN", str, "localhost:3001")
        default_origins = (f"http://{domain}", f"https://{domain}")
        chain = ChainSettings.from_env(e.env)
        return cls(
            host=e.get("HOST", str, "127.0.0.1"),
            port=port,
            ws_port=e.get("WS_PORT", parse_port, port + 1 if port else 0),
            public_ws_url=e.get("PUBLIC_WS_URL", str, None),
            data_dir=e.get("DATA_DIR", Path, Path("data")),
            database_url=e.get("DATABASE_URL", _database_url, None),
            siwe_domain=domain,
            chain_ids=e.get("CHAIN_IDS", _ints, (1,)),
            allowed_origins=e.get("ALLOWED_ORIGINS", _origins, default_origins),
            jwt_access_secret=e.get("JWT_ACCESS_SECRET", _secret, None),
            jwt_refresh_secret=e.get("JWT_REFRESH_SECRET", _secret, None),
            admin_token=e.get("ADMIN_TOKEN", _secret, None),
            stun_servers=e.get("STUN_SERVERS", strings, ("stun:stun.l.google.com:19302",)),
            interest_wait_seconds=e.get("INTEREST_WAIT_SECONDS", nonnegative, 10.0),
            session_max_seconds=e.get("SESSION_MAX_SECONDS", positive, 1800.0),
            idle_timeout_seconds=e.get("IDLE_TIMEOUT_SECONDS", positive, 300.0),
            reconnect_grace_seconds=e.get("RECONNECT_GRACE_SECONDS", nonnegative, 30.0),
            shutdown_timeout_seconds=e.get("SHUTDOWN_TIMEOUT_SECONDS", nonnegative, 10.0),
            cookie_secure=e.get("COOKIE_SECURE", parse_bool, False),
            test_wallet_mode=e.get("TEST_WALLET_MODE", parse_bool, False),
            log_level=e.get("LOG_LEVEL", _log_level, "info"),
            limits=Limits(
                max_connections=e.get("MAX_CONNECTIONS", int_at_least(1), 19_000),
                rate_burst=e.get("WS_RATE_BURST", int_at_least(1), 60),
                rate_per_second=e.get("WS_RATE_PER_SECOND", positive, 20.0),
                outbound_buffer_bytes=e.get("WS_OUTBOUND_BUFFER_BYTES", int_at_least(1), 1_048_576),
                auth_burst=e.get("AUTH_RATE_BURST", int_at_least(1), 30),
                ping_after_seconds=e.get("WS_PING_SECONDS", positive, 20.0),
                auth_per_second=e.get("AUTH_RATE_PER_SECOND", positive, 5.0),
            ),
            redis=RedisSettings(
                url=e.get("REDIS_URL", str, None),
                cluster_enabled=e.get("REDIS_CLUSTER_ENABLED", parse_bool, False),
                cluster_nodes=e.get("REDIS_CLUSTER_NODES", _hostports, ()),
                sentinels=e.get("REDIS_SENTINELS", _hostports, ()),
                sentinel_master=e.get("REDIS_SENTINEL_MASTER", str, "mymaster"),
                lobby_batch_ops=e.get("REDIS_LOBBY_BATCH_OPS", int_at_least(1), 128),
                lobby_batch_pending=e.get("REDIS_LOBBY_BATCH_PENDING", int_at_least(1), 10_000),
                lobby_batch_in_flight=e.get("REDIS_LOBBY_BATCH_IN_FLIGHT", int_at_least(1), 2),
                relay_frames_per_envelope=e.get("BRIDGE_FRAMES_PER_ENVELOPE", int_at_least(1), 64),
            ),
            cluster_workers=e.get("CLUSTER_WORKERS", int_at_least(0), 0),
            cluster_fork_server=e.get("CLUSTER_FORK_SERVER", parse_bool, sys.platform == "linux"),
            management_port=e.get("MANAGEMENT_PORT", parse_port, 9001),
            management_token=e.get("MANAGEMENT_TOKEN", _secret, None),
            lb_algorithm=e.get("LB_ALGORITHM", _lb_algorithm, "round-robin"),
            prometheus_multiproc_dir=e.get("PROMETHEUS_MULTIPROC_DIR", Path, None),
            chain=chain,
            safety=SafetySettings.from_env(e.env, chain),
            scaling=AutoScalingSettings.from_env(e),
            lb=LbSettings.from_env(e.env, data_dir=e.get("DATA_DIR", Path, Path("data"))),
            trusted_proxies=e.get("TRUSTED_PROXIES", parse_networks, ()),
            monitor=MonitorSettings.from_env(e.env),
            hardening=HardeningSettings.from_env(e.env),
            lab_dir=e.get("LAB_DIR", Path, Path("data/lab")),
            environment=tuple(e.env.items()),
        )


_SECRET_FIELDS = ("jwt_access_secret", "jwt_refresh_secret", "admin_token", "management_token")
"""Fields of :class:`Config` never shown; URLs (``database_url``) are shown without credentials."""


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::", ""}:
        return "localhost"
    return f"[{host}]" if ":" in host else host


_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_level(raw: str) -> str:
    level = raw.strip().lower()
    if level not in _LOG_LEVELS:
        raise ValueError(f"one of {', '.join(_LOG_LEVELS)}")
    return level


def _ints(raw: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in strings(raw))
    if not values or any(v <= 0 for v in values):
        raise ValueError("expected a comma-separated list of positive chain ids")
    return values


def _secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("a secret must be at least 16 characters")
    return raw


def _origins(raw: str) -> tuple[str, ...]:
    origins = strings(raw)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ValueError(f"{origin!r} is not an origin like https://example.org")
    return origins


def _hostports(raw: str) -> tuple[tuple[str, int], ...]:
    result = []
    for part in strings(raw):
        host, sep, port = part.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{part!r} is not host:port")
        result.append((host.strip("[]"), parse_port(port)))
    return tuple(result)


def _database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0]
    if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        raise ValueError("use postgresql+asyncpg://… or sqlite+aiosqlite:///…")
    return raw


_LB_ALGORITHMS = {"round-robin", "least-connections", "weighted", "ip-hash", "consistent-hash"}


def _lb_algorithm(raw: str) -> str:
    if raw not in _LB_ALGORITHMS:
        raise ValueError(f"one of {', '.join(sorted(_LB_ALGORITHMS))}")
    return raw
