"""Network namespaces for ``roulette lab up --netns``: one per service node, so a node can be
cut off (``chaos partition-node``) and reconnected (``chaos heal``).

The layout, all made by the lab and all on this machine (nothing is routed off it):

- a bridge ``rlb<id>`` in the root namespace with the private address ``10.77.X.1/24`` (X picked
  so that no existing address is reused); the Redis Cluster and the throwaway PostgreSQL listen
  on it besides 127.0.0.1, and the Redis nodes announce it (``cluster-announce-ip``), so the
  cluster's redirections point at an address every namespace can reach;
- per node a namespace ``rlab-<id>-<node>`` whose only links are ``lo`` and one end of a veth
  pair (``eth0``, ``10.77.X.N``); the other end (``rlv<id><N>``) is a port of the bridge. The
  namespace has no default route, so its processes reach the bridge's subnet and nothing else.

A partition sets the node's bridge-side veth down: packets in both directions are dropped
silently, as on a cut cable, so open TCP connections stall rather than being reset, HAProxy's
health checks time out and the node's Redis and PostgreSQL connections hang until it is healed.

Every name starts with a prefix derived from the lab directory, so :func:`cleanup` finds (and
removes) what a crashed lab left behind even without its state file.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from roulette.errors import ConfigError

__all__ = [
    "NetnsLayout",
    "cleanup",
    "create_bridge",
    "create_node",
    "exec_prefix",
    "heal",
    "is_partitioned",
    "layout",
    "leftovers",
    "partition",
]

SUPERNET = ipaddress.IPv4Network("10.77.0.0/16")
"""Private (RFC 1918) addresses for the labs' bridges: one /24 per lab."""
_IP_TIMEOUT = 30.0


@dataclass(frozen=True)
class NetnsLayout:
    """The names of one lab's namespaces and links (``id`` is derived from its directory)."""

    id: str

    @property
    def bridge(self) -> str:
        """The bridge in the root namespace (interface names are at most 15 bytes)."""
        return f"rlb{self.id}"

    def namespace(self, node: str) -> str:
        """The namespace of ``node``."""
        return f"rlab-{self.id}-{node}"

    def veth(self, index: int) -> str:
        """The bridge-side end of node ``index``'s veth pair."""
        return f"rlv{self.id}{index}"

    @property
    def namespace_prefix(self) -> str:
        """What every namespace of this lab starts with."""
        return f"rlab-{self.id}-"

    @property
    def link_prefixes(self) -> tuple[str, str]:
        """What every link of this lab in the root namespace starts with."""
        return (f"rlb{self.id}", f"rlv{self.id}")


def layout(directory: Path) -> NetnsLayout:
    """The names for the lab in ``directory`` (stable: ``down`` derives them again)."""
    return NetnsLayout(hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:6])


def _ip(*args: str, check: bool = True) -> str:
    """Run ``ip`` (iproute2); returns its stdout.

    Raises:
        ConfigError: it failed (``check``), e.g. not permitted without CAP_NET_ADMIN.
    """
    try:
        done = subprocess.run(
            ["ip", *args], capture_output=True, timeout=_IP_TIMEOUT, check=False, text=True
        )
    except FileNotFoundError as exc:
        raise ConfigError("`ip` (iproute2) is not installed: --netns needs it") from exc
    if check and done.returncode != 0:
        raise ConfigError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _used_subnets() -> set[ipaddress.IPv4Network]:
    found: set[ipaddress.IPv4Network] = set()
    for line in _ip("-o", "-4", "addr", "show").splitlines():
        fields = line.split()
        if "inet" in fields:
            address = ipaddress.IPv4Interface(fields[fields.index("inet") + 1])
            found.add(ipaddress.IPv4Network(f"{address.ip}/24", strict=False))
    return found


def create_bridge(names: NetnsLayout) -> str:
    """Create the lab's bridge on a free ``10.77.X.0/24``; returns the bridge's address.

    Raises:
        ConfigError: ``ip`` failed (not root?) or no /24 of :data:`SUPERNET` is free.
    """
    used = _used_subnets()
    subnets = list(SUPERNET.subnets(new_prefix=24))[1:]  # 10.77.0.0/24 is left to people
    start = int(names.id, 16) % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if subnet not in used:
            address = str(next(subnet.hosts()))
            _ip("link", "add", names.bridge, "type", "bridge")
            _ip("addr", "add", f"{address}/24", "dev", names.bridge)
            _ip("link", "set", names.bridge, "up")
            return address
    raise ConfigError(f"no free /24 left in {SUPERNET} for the lab's bridge")


def node_address(bridge_address: str, index: int) -> str:
    """Node ``index``'s (1-based) address: the bridge's + ``index``."""
    return str(ipaddress.ip_address(bridge_address) + index)


def create_node(names: NetnsLayout, node: str, index: int, bridge_address: str) -> str:
    """Make ``node``'s namespace wired to the bridge; returns the node's address."""
    namespace, veth, inner = names.namespace(node), names.veth(index), f"rlp{names.id}{index}"
    address = node_address(bridge_address, index)
    _ip("netns", "add", namespace)
    _ip("link", "add", veth, "type", "veth", "peer", "name", inner)
    _ip("link", "set", inner, "netns", namespace)
    _ip("-n", namespace, "link", "set", inner, "name", "eth0")
    _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
    _ip("-n", namespace, "link", "set", "eth0", "up")
    _ip("-n", namespace, "link", "set", "lo", "up")
    _ip("link", "set", veth, "master", names.bridge)
    _ip("link", "set", veth, "up")
    return address


def exec_prefix(namespace: str) -> list[str]:
    """The argv prefix that runs a command inside ``namespace`` (it execs: same pid)."""
    return ["ip", "netns", "exec", namespace]


def partition(veth: str) -> None:
    """Cut the node off: its bridge-side veth down (packets dropped both ways)."""
    _ip("link", "set", veth, "down")


def heal(veth: str) -> None:
    """Reconnect the node."""
    _ip("link", "set", veth, "up")


def is_partitioned(veth: str) -> bool:
    """True while the node's bridge-side veth is administratively down."""
    line = _ip("-o", "link", "show", veth)
    flags = line.partition("<")[2].partition(">")[0].split(",")
    return "UP" not in flags


def leftovers(names: NetnsLayout) -> list[str]:
    """This lab's namespaces and root-namespace links that exist now."""
    found = [n for n in _namespaces() if n.startswith(names.namespace_prefix)]
    for line in _ip("-o", "link", "show").splitlines():
        link = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if link.startswith(names.link_prefixes):
            found.append(link)
    return found


def _namespaces() -> list[str]:
    return [line.split()[0] for line in _ip("netns", "list", check=False).splitlines() if line]


def cleanup(names: NetnsLayout) -> list[str]:
    """Remove every namespace and link of this lab, killing what still runs inside first.

    Idempotent, and works from the names alone (a lab that crashed or lost its state file).
    Returns what was removed.
    """
    removed = []
    for namespace in [n for n in _namespaces() if n.startswith(names.namespace_prefix)]:
        _kill_inside(namespace)
        _ip("netns", "del", namespace, check=False)
        removed.append(namespace)
    for link in [x for x in leftovers(names) if not x.startswith(names.namespace_prefix)]:
        _ip("link", "del", link, check=False)  # a veth's peer goes with it
        removed.append(link)
    return removed


def _kill_inside(namespace: str) -> None:
    for pid in _ip("netns", "pids", namespace, check=False).split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
