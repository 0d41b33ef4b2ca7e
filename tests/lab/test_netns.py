"""The lab's namespaces and links on the real kernel (iproute2, as root): made, cut, healed,
and removed by name even after a "crash" left a process running inside."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from roulette.errors import ConfigError
from roulette.lab import netns
from roulette.lab.lifecycle import down
from roulette.lab.processes import is_alive, spawn, wait_gone
from support.eventually import eventually_sync
from support.netns import netns_unavailable

WHY_NOT = netns_unavailable()
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)


@pytest.fixture
def names(tmp_path: Path) -> Iterator[netns.NetnsLayout]:
    names = netns.layout(tmp_path)
    yield names
    netns.cleanup(names)
    assert netns.leftovers(names) == []


def _reaches(namespace: str, address: str, port: int) -> bool:
    script = (
        "import socket,sys\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=1.5)\n"
        "sys.exit(0)"
    )
    argv = [*netns.exec_prefix(namespace), "python3", "-c", script]
    return subprocess.run(argv, capture_output=True, check=False, timeout=30).returncode == 0


def test_a_node_reaches_the_bridge_until_it_is_partitioned_and_again_once_healed(
    names: netns.NetnsLayout,
) -> None:
    bridge = netns.create_bridge(names)
    address = netns.create_node(names, "node1", 1, bridge)
    assert address == netns.node_address(bridge, 1)
    with socket.socket() as server:
        server.bind((bridge, 0))
        server.listen(8)
        port = server.getsockname()[1]
        assert _reaches(names.namespace("node1"), bridge, port)
        netns.partition(names.veth(1))
        assert netns.is_partitioned(names.veth(1))
        assert not _reaches(names.namespace("node1"), bridge, port)
        netns.heal(names.veth(1))
        assert not netns.is_partitioned(names.veth(1))
        eventually_sync(
            lambda: _reaches(names.namespace("node1"), bridge, port), timeout=20, interval=0.5
        )
    # Only the bridge's subnet: there is no route off the machine from inside.
    routes = subprocess.run(
        ["ip", "-n", names.namespace("node1"), "route"], capture_output=True, text=True, check=True
    ).stdout
    assert "default" not in routes


def test_cleanup_by_name_removes_everything_and_kills_what_ran_inside(
    names: netns.NetnsLayout, tmp_path: Path
) -> None:
    bridge = netns.create_bridge(names)
    for index in (1, 2):
        netns.create_node(names, f"node{index}", index, bridge)
    assert len(netns.leftovers(names)) == 5  # two namespaces, the bridge, two veths
    # A "crashed" lab: a process still running inside a namespace, no state file anywhere.
    pid = spawn([*netns.exec_prefix(names.namespace("node1")), "sleep", "300"], {}, tmp_path / "s")
    assert is_alive(pid)
    removed = netns.cleanup(names)
    assert names.namespace("node1") in removed and names.bridge in removed
    assert netns.leftovers(names) == []
    assert wait_gone([pid], 10.0)
    assert netns.cleanup(names) == []  # idempotent


def test_layouts_of_two_labs_never_share_names_or_a_subnet(tmp_path: Path) -> None:
    first, second = netns.layout(tmp_path / "a"), netns.layout(tmp_path / "b")
    assert first.id != second.id
    assert netns.layout(tmp_path / "a") == first  # stable: `down` finds it again
    assert len(first.veth(16)) <= 15  # IFNAMSIZ
    with contextlib.ExitStack() as stack:
        stack.callback(netns.cleanup, first)
        stack.callback(netns.cleanup, second)
        assert netns.create_bridge(first) != netns.create_bridge(second)


def test_a_failing_ip_command_is_a_clear_error(names: netns.NetnsLayout) -> None:
    with pytest.raises(ConfigError, match="ip link set rlv"):
        netns.partition(names.veth(9))  # no such link


def test_lab_down_without_a_state_file_still_removes_what_a_crashed_lab_left(
    tmp_path: Path,
) -> None:
    lab = tmp_path / "lab"
    names = netns.layout(lab)
    try:
        netns.create_node(names, "node1", 1, netns.create_bridge(names))
        said: list[str] = []
        assert down(lab, {}, say=said.append) == []
        assert netns.leftovers(names) == []
        assert names.namespace("node1") in said[0]
        with pytest.raises(ConfigError, match="no lab in"):  # nothing left: the usual error
            down(lab, {}, say=said.append)
    finally:
        netns.cleanup(names)
