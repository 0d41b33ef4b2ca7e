"""Render an HAProxy 2.6 configuration from the settings and the registered nodes. Pure.

One public frontend sends ``/ws`` to the gateway listeners (backend ``ws``) and everything
else to the HTTP API (backend ``http``); every node is one server in each backend. Servers
are health-checked with ``GET /health/ready`` on the node's HTTP port and agent-checked on
its agent port (HAProxy configuration manual, "agent-check"), so a node that is full,
draining or stopping says so itself. Per-client-IP limits live in a stick table on the
frontend and answer 429 (RFC 6585 section 4).

``roulette lb run`` adds and removes servers at run time with the same arguments
(:func:`server_arguments`), and rewrites this file so that a reload keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roulette.balancing.nodes import NodeRecord, server_weight
from roulette.balancing.settings import LbSettings

__all__ = [
    "BACKENDS",
    "READY_PATH",
    "Backend",
    "balance_lines",
    "is_dynamic",
    "render",
    "server_arguments",
]

READY_PATH = "/health/ready"
"""The readiness endpoint HAProxy's HTTP check asks on every node's HTTP port."""

AFFINITY_KEY = "roulette-affinity"
"""Seeds HAProxy's dynamic cookies (a hash of key, server address and port): the cookie names a
server without showing its address; it is not a secret."""

_BALANCE = {
    "round-robin": ("balance roundrobin",),
    "least-connections": ("balance leastconn",),
    "weighted": ("balance roundrobin",),
    # HAProxy's default hash for "balance source" is map-based: static, so servers cannot be
    # added at run time; `roulette lb run` reloads HAProxy for membership changes instead.
    "ip-hash": ("balance source", "hash-type map-based"),
    "consistent-hash": ("balance source", "hash-type consistent"),
}


@dataclass(frozen=True, slots=True)
class Backend:
    """One of the two backends: its name, its affinity cookie and which node port it uses."""

    name: str
    cookie: str
    websocket: bool


BACKENDS = (Backend("http", "RLB_HTTP", websocket=False), Backend("ws", "RLB_WS", websocket=True))


def is_dynamic(algorithm: str) -> bool:
    """Whether HAProxy accepts ``add server`` / ``del server`` under this algorithm."""
    return algorithm != "ip-hash"


def balance_lines(algorithm: str) -> tuple[str, ...]:
    """The ``balance`` (and ``hash-type``) lines of an algorithm."""
    return _BALANCE[algorithm]


def server_arguments(settings: LbSettings, node: NodeRecord, backend: Backend) -> str:
    """The address and keywords of ``node`` in ``backend``: the same for a ``server`` line and
    for ``add server`` (which ignores ``default-server``, so nothing may rely on it)."""
    port = node.ws_port if backend.websocket else node.http_port
    interval = settings.check_interval_ms
    # "weighted" lets the agent scale the static weight by the node's free capacity; the other
    # algorithms take only the agent's state (ready/drain/down), so their spread stays even.
    agent_send = "weight" if settings.algorithm == "weighted" else "state"
    weight = server_weight(node.capacity) if settings.algorithm == "weighted" else 1
    parts = [
        f"{node.host}:{port}",
        f"id {node.server_id}",
        f"weight {weight}",
        f"maxconn {max(1, node.capacity)}",
        f"check port {node.http_port} inter {interval} fall {settings.fall} rise {settings.rise}",
        f"agent-check agent-port {node.agent_port} agent-inter {interval} agent-send {agent_send}",
        # A dead node's sockets would otherwise hang until TCP gives up; cut them so clients
        # reconnect (and resume) on another node at once.
        "on-marked-down shutdown-sessions",
    ]
    return " ".join(parts)


def render(settings: LbSettings, nodes: Sequence[NodeRecord]) -> str:
    """The whole configuration for ``settings`` with ``nodes`` as static servers."""
    lines = [*_global(settings), *_defaults(settings), *_frontend(settings)]
    for backend in BACKENDS:
        lines += _backend(settings, backend, nodes)
    if settings.stats_password:
        lines += _stats(settings)
    return "\n".join(lines) + "\n"


def _global(settings: LbSettings) -> list[str]:
    run_dir = Path(settings.run_dir).resolve()
    return [
        "# Rendered by `roulette lb render`; `roulette lb run` keeps the servers current.",
        "global",
        f"    maxconn {settings.maxconn}",
        f"    stats socket {run_dir / 'admin.sock'} mode 600 level admin expose-fd listeners",
        "    stats timeout 10s",
        "",
    ]


def _defaults(settings: LbSettings) -> list[str]:
    timeout_check = max(100, settings.check_interval_ms // 2)
    return [
        "defaults",
        "    mode http",
        "    option forwardfor",
        "    option redispatch",
        "    retries 2",
        "    timeout connect 5s",
        "    timeout client 50s",
        "    timeout server 50s",
        "    timeout http-request 10s",
        "    timeout client-fin 5s",
        # After the WebSocket upgrade only `timeout tunnel` applies; the gateway pings every
        # WS_PING_SECONDS, so an hour of silence means a dead peer.
        "    timeout tunnel 1h",
        f"    timeout check {timeout_check}ms",
        "",
    ]


def _frontend(settings: LbSettings) -> list[str]:
    window = settings.rate_window_seconds
    return [
        "frontend public",
        f"    bind {settings.host}:{settings.port}",
        f"    maxconn {settings.maxconn}",
        f"    stick-table type ipv6 size 1m expire {max(window, 30)}s"
        f" store conn_cur,conn_rate({window}s),http_req_rate({window}s)",
        "    tcp-request connection track-sc0 src",
        f"    acl too_many_conns sc0_conn_cur gt {settings.conn_per_ip}",
        f"    acl too_many_conn_rate sc0_conn_rate gt {settings.conn_rate_per_ip}",
        f"    acl too_many_requests sc0_http_req_rate gt {settings.http_rate_per_ip}",
        "    http-request deny deny_status 429 if too_many_conns || too_many_conn_rate"
        " || too_many_requests",
        "    acl websocket path /ws",
        "    use_backend ws if websocket",
        "    default_backend http",
        "",
    ]


def _backend(settings: LbSettings, backend: Backend, nodes: Sequence[NodeRecord]) -> list[str]:
    lines = [f"backend {backend.name}", *(f"    {line}" for line in _BALANCE[settings.algorithm])]
    lines += [
        "    option httpchk",
        f"    http-check send meth GET uri {READY_PATH}",
        "    http-check expect status 200",
    ]
    if settings.sticky:
        lines += [
            f"    cookie {backend.cookie} insert indirect nocache httponly dynamic",
            f"    dynamic-cookie-key {AFFINITY_KEY}",
        ]
    for node in sorted(nodes, key=lambda n: n.node_id):
        args = server_arguments(settings, node, backend)
        lines.append(f"    server {node.server_name} {args}")
    return [*lines, ""]


def _stats(settings: LbSettings) -> list[str]:
    return [
        "frontend stats",
        f"    bind {settings.host}:{settings.stats_port}",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 10s",
        f"    stats auth {settings.stats_user}:{settings.stats_password}",
        "    stats admin if FALSE",
        "",
    ]
