"""The lab's state file: every process, port and secret of a running lab, as JSON.

``roulette lab up`` writes it; ``status``, ``chaos``, ``reliability`` and ``down`` read it back.
It holds the lab's generated secrets, so it is written with mode 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roulette.errors import ConfigError

__all__ = ["STATE_FILE", "LabNode", "LabPostgres", "LabState", "load", "save"]

STATE_FILE = "lab.json"


@dataclass
class LabNode:
    """One ``roulette cluster`` node: its ports and its supervisor's pid (its group)."""

    name: str
    port: int
    ws_port: int
    management_port: int
    agent_port: int = 0
    """Where the node's supervisor answers HAProxy's agent check (``LB_AGENT_PORT``)."""
    pid: int = 0
    host: str = "127.0.0.1"
    """Where the node listens: 127.0.0.1, or its namespace's address (``lab up --netns``)."""
    netns: str = ""
    """Its network namespace (empty: the root namespace)."""
    veth: str = ""
    """The bridge-side end of its veth pair (``chaos partition-node`` sets it down)."""


@dataclass
class LabPostgres:
    """Where the lab's database lives.

    Attributes:
        mode: ``machine`` (a database created in the machine's server) or ``throwaway``
            (a cluster made by ``initdb`` in the lab directory, which only the lab may restart).
        url: the SQLAlchemy URL the nodes use.
        admin_url: a libpq URL of the server's maintenance database (create/drop the database).
        database: the lab's database name.
        port: the server's port.
        data_dir: the throwaway cluster's directory (empty for ``machine``).
        listen: a throwaway cluster's ``listen_addresses``.
    """

    mode: str
    url: str
    admin_url: str
    database: str
    port: int
    data_dir: str = ""
    listen: str = "127.0.0.1"
    """A throwaway cluster's ``listen_addresses`` (the bridge too with ``--netns``)."""


@dataclass
class LabState:
    """Everything ``roulette lab`` started."""

    directory: str
    lb_port: int
    stats_port: int
    workers: int
    redis_ports: list[int]
    postgres: LabPostgres
    nodes: list[LabNode]
    secrets: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)
    """Process name → pid (= process group) of every other part: redis-7000, lb, prometheus…"""
    prometheus_port: int = 0
    alertmanager_port: int = 0
    started_at: float = 0.0
    bridge_address: str = ""
    """The lab bridge's address when the nodes run in namespaces (``--netns``), else empty."""
    partitioned: list[str] = field(default_factory=list)
    """Nodes cut off by ``chaos partition-node`` and not yet healed."""
    faults_run: int = 0
    """Fault runs made on this lab so far: each draws new wallets (the records it seeds, a
    ban say, would already exist the second time)."""

    @property
    def service_host(self) -> str:
        """Where the nodes reach Redis and PostgreSQL: the bridge, or loopback."""
        return self.bridge_address or "127.0.0.1"

    @property
    def path(self) -> Path:
        """The lab directory."""
        return Path(self.directory)

    @property
    def app_url(self) -> str:
        """The public URL (HAProxy)."""
        return f"http://127.0.0.1:{self.lb_port}"

    def node(self, name: str) -> LabNode:
        """The node called ``name``.

        Raises:
            ConfigError: there is no such node.
        """
        for node in self.nodes:
            if node.name == name:
                return node
        raise ConfigError(f"no lab node {name!r} (nodes: {', '.join(n.name for n in self.nodes)})")

    def all_pids(self) -> dict[str, int]:
        """Every recorded process, nodes included."""
        return {**self.pids, **{node.name: node.pid for node in self.nodes if node.pid}}


def save(state: LabState) -> Path:
    """Write the state file atomically (0600); returns its path."""
    path = state.path / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(state), out, indent=2)
    temporary.replace(path)
    return path


def load(directory: Path) -> LabState:
    """Read the state of the lab in ``directory``.

    Raises:
        ConfigError: no lab was started there, or the file is not a lab state.
    """
    path = directory / STATE_FILE
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        raw["postgres"] = LabPostgres(**raw["postgres"])
        raw["nodes"] = [LabNode(**node) for node in raw["nodes"]]
        return LabState(**raw)
    except FileNotFoundError as exc:
        raise ConfigError(f"no lab in {directory} (run `roulette lab up`)") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a lab state file: {exc}") from exc
