"""Free loopback ports for the lab's processes (the kernel's pick, or a free block for Redis)."""

from __future__ import annotations

import socket

__all__ = ["free_block", "free_port", "is_free"]

REDIS_BUS_OFFSET = 10_000
"""A Redis Cluster node's bus port is its port + 10000."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_free(port: int) -> bool:
    """True when ``port`` can be bound on 127.0.0.1."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(start: int, size: int) -> int:
    """The first port of ``size`` consecutive free ports whose bus ports are free too.

    The block sits below the ephemeral range (its bus ports must fit under 65536), so it is
    searched from ``start`` upward in steps of ten.

    Raises:
        RuntimeError: no such block below 22000.
    """
    for first in range(start, 22_000, 10):
        ports = range(first, first + size)
        if all(is_free(p) and is_free(p + REDIS_BUS_OFFSET) for p in ports):
            return first
    raise RuntimeError("no free block of ports for the lab's Redis Cluster")
