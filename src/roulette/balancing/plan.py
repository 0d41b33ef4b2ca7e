"""The runtime-API reconciliation: from the servers HAProxy has to the live registered nodes.
Pure: the runner reads HAProxy's state and the registry, asks :func:`plan`, sends the commands.

Commands follow HAProxy's management guide ("add server", "del server", "set server"): a
dynamic server starts in maintenance with its checks off, so it is added, its health and
agent checks enabled, then made ready; a server is deleted only from maintenance, after its
agent is disabled (else the agent could bring it back) and its remaining sessions are cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from roulette.balancing.haproxy_config import BACKENDS, is_dynamic, server_arguments
from roulette.balancing.nodes import NodeRecord
from roulette.balancing.settings import LbSettings

__all__ = ["ADMIN_FORCED_MAINT", "CurrentServer", "Plan", "plan", "retained"]

ADMIN_FORCED_MAINT = 0x01
"""``srv_admin_state`` bit of ``show servers state``: put in maintenance from the CLI."""


@dataclass(frozen=True, slots=True)
class CurrentServer:
    """One server of ``show servers state``: backend, name, address, port, admin state bits."""

    backend: str
    name: str
    address: str
    port: int
    admin_state: int = 0


@dataclass(slots=True)
class Plan:
    """What to do: runtime commands in order, or a reload (static algorithms)."""

    commands: list[str] = field(default_factory=list)
    reload: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to change."""
        return not self.commands and not self.reload


def plan(
    settings: LbSettings, nodes: Sequence[NodeRecord], current: Sequence[CurrentServer]
) -> Plan:
    """The commands that make HAProxy's servers equal to ``nodes`` (live, by id)."""
    result = Plan()
    for backend in BACKENDS:
        wanted = {node.server_name: node for node in nodes}
        have = {s.name: s for s in current if s.backend == backend.name}
        for name in sorted(wanted.keys() - have.keys()):
            result.added.append(f"{backend.name}/{name}")
            result.commands += _add(settings, wanted[name], backend.name)
        for name in sorted(have.keys() - wanted.keys()):
            result.removed.append(f"{backend.name}/{name}")
            result.commands += _remove(f"{backend.name}/{name}")
        for name in sorted(wanted.keys() & have.keys()):
            if have[name].admin_state & ADMIN_FORCED_MAINT:
                # Maybe a removal HAProxy refused (connections still attached): its checks
                # were disabled on the way, and a server readied without them is never DOWN.
                server = f"{backend.name}/{name}"
                result.commands += [
                    f"enable health {server}",
                    f"enable agent {server}",
                    f"set server {server} state ready",
                ]
    if not is_dynamic(settings.algorithm) and (result.added or result.removed):
        # A static hash cannot take servers at run time: reload with the re-rendered file.
        return Plan(reload=True, added=result.added, removed=result.removed)
    return result


def retained(
    live: Sequence[NodeRecord],
    previous: Sequence[NodeRecord],
    *,
    readable_for: float,
    ttl: float,
) -> list[NodeRecord]:
    """The nodes to balance over: ``live``, plus the ``previous`` ones missing from it while
    the registry has been readable for less than a record's ``ttl``.

    A node announces every third of its TTL; while Redis is down or failing over its
    announcements fail and its record expires, though the node is fine. Taken at its word
    the first pass after the outage would remove it, and removing a server cuts its
    WebSockets ("shutdown sessions"): every user of a healthy node dropped for a Redis blip.
    So a node is only let go once it had a whole TTL of reachable Redis to announce in and
    did not; meanwhile HAProxy's own health and agent checks judge it (a node that really
    died is DOWN and gets no traffic).
    """
    if readable_for >= ttl:
        return list(live)
    ids = {node.node_id for node in live}
    kept = [node for node in previous if node.node_id not in ids]
    return sorted([*live, *kept], key=lambda node: node.node_id)


def _add(settings: LbSettings, node: NodeRecord, backend_name: str) -> list[str]:
    backend = next(b for b in BACKENDS if b.name == backend_name)
    server = f"{backend_name}/{node.server_name}"
    commands = [
        f"add server {server} {server_arguments(settings, node, backend)}",
        f"enable health {server}",
        f"enable agent {server}",
    ]
    if settings.sticky:
        # A dynamic server gets its affinity cookie only when the backend's are recomputed.
        commands.append(f"enable dynamic-cookie backend {backend_name}")
    commands.append(f"set server {server} state ready")
    return commands


def _remove(server: str) -> list[str]:
    return [
        f"disable agent {server}",
        f"disable health {server}",
        f"set server {server} state maint",
        f"shutdown sessions server {server}",
        f"del server {server}",
    ]
