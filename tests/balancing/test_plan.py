"""The runtime-API plan: add, remove and re-enable servers; reload for a static hash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from roulette.balancing.nodes import NodeRecord, NodeState
from roulette.balancing.plan import CurrentServer, plan, retained
from roulette.balancing.settings import LbSettings

A = NodeRecord("w-a", "127.0.0.1", 4001, 4002, 4003, 1000, 0, NodeState.READY, 0.0)
B = NodeRecord("w-b", "127.0.0.1", 4011, 4012, 4013, 1000, 0, NodeState.READY, 0.0)


def _servers(*nodes: NodeRecord, admin: int = 0) -> list[CurrentServer]:
    return [
        CurrentServer(backend, n.server_name, n.host, n.http_port, admin)
        for n in nodes
        for backend in ("http", "ws")
    ]


def test_in_sync_means_nothing_to_do() -> None:
    assert plan(LbSettings(), [A, B], _servers(A, B)).empty


def test_a_new_node_is_added_checked_and_made_ready() -> None:
    result = plan(LbSettings(run_dir=Path("/x")), [A, B], _servers(A))
    assert result.added == ["http/n-w-b", "ws/n-w-b"]
    http = [c for c in result.commands if "http/n-w-b" in c]
    assert http[0].startswith("add server http/n-w-b 127.0.0.1:4011 ")
    assert http[1:] == [
        "enable health http/n-w-b",
        "enable agent http/n-w-b",
        "set server http/n-w-b state ready",
    ]
    assert any(c.startswith("add server ws/n-w-b 127.0.0.1:4012 ") for c in result.commands)
    assert not result.reload


def test_sticky_recomputes_the_dynamic_cookies() -> None:
    result = plan(LbSettings(sticky=True), [A, B], _servers(A))
    assert "enable dynamic-cookie backend http" in result.commands
    assert "enable dynamic-cookie backend ws" in result.commands


def test_a_gone_node_is_disabled_then_deleted() -> None:
    result = plan(LbSettings(), [A], _servers(A, B))
    assert result.removed == ["http/n-w-b", "ws/n-w-b"]
    assert result.commands[:5] == [
        "disable agent http/n-w-b",
        "disable health http/n-w-b",
        "set server http/n-w-b state maint",
        "shutdown sessions server http/n-w-b",
        "del server http/n-w-b",
    ]


def test_a_server_left_in_maintenance_gets_its_checks_back_and_is_made_ready() -> None:
    """A removal HAProxy refused ("still has connections attached", a partitioned node's
    sockets) leaves the server in maintenance with its checks disabled; when the node comes
    back, readying it alone left it unchecked for good ("no check": never judged DOWN)."""
    result = plan(LbSettings(), [A], _servers(A, admin=0x01))
    assert result.commands == [
        command
        for backend in ("http", "ws")
        for command in (
            f"enable health {backend}/n-w-a",
            f"enable agent {backend}/n-w-a",
            f"set server {backend}/n-w-a state ready",
        )
    ]


def test_ip_hash_reloads_instead() -> None:
    result = plan(LbSettings(algorithm="ip-hash"), [A, B], _servers(A))
    assert result.reload
    assert result.commands == []
    assert plan(LbSettings(algorithm="ip-hash"), [A, B], _servers(A, B)).empty


def test_a_record_that_expired_during_an_outage_is_kept_for_a_ttl() -> None:
    """Redis was down: B could not announce and its record expired, though B is fine."""
    kept = retained([A], [A, B], readable_for=0.0, ttl=6.0)
    assert kept == [A, B]
    assert retained([A], [A, B], readable_for=5.9, ttl=6.0) == [A, B]
    # A whole TTL of reachable Redis and still no announcement: B is gone.
    assert retained([A], [A, B], readable_for=6.0, ttl=6.0) == [A]


def test_what_the_registry_says_wins_for_nodes_it_has() -> None:
    draining = replace(B, state=NodeState.DRAINING)
    assert retained([A, draining], [A, B], readable_for=0.0, ttl=6.0) == [A, draining]
    assert retained([B], [], readable_for=0.0, ttl=6.0) == [B]  # a new node: added at once
