"""What each lab process is told: environments and monitoring configuration. Pure functions.

Every node shares the Redis Cluster, the database, the JWT keys and the SIWE domain (the
balancer's address, which is what users see); each has its own ports and data directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from roulette.lab.state import LabNode, LabState

__all__ = [
    "CANARY_CHAIN_ID",
    "CHECK_INTERVAL_MS",
    "PINNED_CHAIN_BASE",
    "PROBE_CHAIN_ID",
    "alertmanager_config",
    "balancer_env",
    "node_env",
    "pinned_chain_id",
    "prometheus_config",
]

CHECK_INTERVAL_MS = 1000
"""HAProxy checks each node this often; a dead node is out within fall (2) × this."""
PROBE_CHAIN_ID = 31337
"""The chain the reliability probes queue on, apart from the load (which uses chain 1)."""
CANARY_CHAIN_ID = 31338
"""The chain of the canary rounds that measure recovery, apart from the probes."""
PINNED_CHAIN_BASE = 31340
"""Users pinned to node N (connected to it directly, not through HAProxy) queue on chain
``PINNED_CHAIN_BASE + N``, so they only ever meet users of the same node."""
_GENEROUS = "1000000"
"""Per-IP limits in the lab: every simulated user comes from a handful of loopback addresses."""


def pinned_chain_id(index: int) -> int:
    """The chain of the users pinned to the ``index``-th (1-based) node."""
    return PINNED_CHAIN_BASE + index


def _shared(state: LabState) -> dict[str, str]:
    domain = f"127.0.0.1:{state.lb_port}"
    nodes = ",".join(f"{state.service_host}:{port}" for port in state.redis_ports)
    pinned = "".join(f",{pinned_chain_id(i)}" for i in range(1, len(state.nodes) + 1))
    # HAProxy reaches namespaced nodes from the bridge's address.
    proxies = "127.0.0.1/32" + (f",{state.bridge_address}/32" if state.bridge_address else "")
    return {
        "REDIS_CLUSTER_ENABLED": "true",
        "REDIS_CLUSTER_NODES": nodes,
        "DATABASE_URL": state.postgres.url,
        "JWT_ACCESS_SECRET": state.secrets["jwt_access"],
        "JWT_REFRESH_SECRET": state.secrets["jwt_refresh"],
        "ADMIN_TOKEN": state.secrets["admin"],
        "MANAGEMENT_TOKEN": state.secrets["management"],
        "SIWE_DOMAIN": domain,
        # Clients open their WebSocket through HAProxy, not on the node that served /config.
        "PUBLIC_WS_URL": f"ws://{domain}/ws",
        "ALLOWED_ORIGINS": f"http://{domain}",
        "CHAIN_IDS": f"1,{PROBE_CHAIN_ID},{CANARY_CHAIN_ID}{pinned}",
        "INTEREST_WAIT_SECONDS": "0",
        "RECONNECT_GRACE_SECONDS": "10",
        "AUTH_RATE_BURST": _GENEROUS,
        "AUTH_RATE_PER_SECOND": _GENEROUS,
        "TRUSTED_PROXIES": proxies,
        "LB_CHECK_INTERVAL_MS": str(CHECK_INTERVAL_MS),
        "LB_CHECK_RISE": "1",
        "LB_NODE_TTL_SECONDS": "6",
        "LB_DRAIN_SECONDS": "1",
        "SHUTDOWN_TIMEOUT_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
    }


def node_env(base: Mapping[str, str], state: LabState, node: LabNode) -> dict[str, str]:
    """The environment of ``roulette cluster`` for ``node``."""
    return {
        **base,
        **_shared(state),
        "HOST": node.host,
        "PORT": str(node.port),
        "WS_PORT": str(node.ws_port),
        "MANAGEMENT_PORT": str(node.management_port),
        "CLUSTER_WORKERS": str(state.workers),
        "DATA_DIR": str(state.path / node.name),
        "LB_ADVERTISE_HOST": node.host,
        # Each node announces itself to the balancer and answers its agent check here.
        "LB_AGENT_PORT": str(node.agent_port),
    }


def balancer_env(base: Mapping[str, str], state: LabState) -> dict[str, str]:
    """The environment of ``roulette lb run`` in front of the nodes."""
    return {
        **base,
        **_shared(state),
        "DATA_DIR": str(state.path / "lb"),
        "LB_RUN_DIR": str(state.path / "lb" / "haproxy"),
        "LB_HOST": "127.0.0.1",
        "LB_PORT": str(state.lb_port),
        "LB_STATS_PORT": str(state.stats_port),
        "LB_STATS_PASSWORD": state.secrets["stats"],
        "LB_SYNC_SECONDS": "0.5",
        "LB_CONN_PER_IP": _GENEROUS,
        "LB_CONN_RATE_PER_IP": _GENEROUS,
        "LB_HTTP_RATE_PER_IP": _GENEROUS,
    }


def prometheus_config(state: LabState, rule_files: list[Path]) -> str:
    """A minimal ``prometheus.yml``: every node's ``/metrics``, HAProxy's, alerts to the lab's
    Alertmanager, and the repository's alert rules when there are any."""
    config: dict[str, object] = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "scrape_configs": [
            {
                "job_name": "roulette",
                "static_configs": [
                    {"targets": [f"{node.host}:{node.port}" for node in state.nodes]}
                ],
            },
            {
                "job_name": "haproxy",
                "basic_auth": {"username": "admin", "password": state.secrets["stats"]},
                "static_configs": [{"targets": [f"127.0.0.1:{state.stats_port}"]}],
            },
        ],
    }
    if state.alertmanager_port:
        targets = [f"127.0.0.1:{state.alertmanager_port}"]
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": targets}]}]}
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    return yaml.safe_dump(config, sort_keys=False)


def alertmanager_config() -> str:
    """A minimal ``alertmanager.yml``: alerts are kept (visible in its UI), sent nowhere."""
    config = {
        "route": {"receiver": "lab", "group_wait": "5s", "repeat_interval": "1h"},
        "receivers": [{"name": "lab"}],
    }
    return yaml.safe_dump(config, sort_keys=False)
