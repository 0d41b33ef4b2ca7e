"""The client address behind trusted proxies: forged headers from anyone else are ignored."""

from __future__ import annotations

import pytest

from roulette.balancing.forwarded import client_address, is_trusted
from roulette.balancing.settings import parse_networks

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1, ::1")


@pytest.mark.parametrize(
    ("peer", "headers", "trusted", "expected"),
    [
        # No trusted proxies (the default): the header is never read.
        ("127.0.0.1", ["203.0.113.9"], (), "127.0.0.1"),
        # An untrusted peer forging the header.
        ("198.51.100.7", ["203.0.113.9"], PROXIES, "198.51.100.7"),
        # The balancer appended the client it saw.
        ("127.0.0.1", ["203.0.113.9"], PROXIES, "203.0.113.9"),
        # The client forged a left entry; the right-most untrusted one wins.
        ("127.0.0.1", ["1.2.3.4, 203.0.113.9"], PROXIES, "203.0.113.9"),
        ("127.0.0.1", ["1.2.3.4", "203.0.113.9"], PROXIES, "203.0.113.9"),
        # Two trusted hops.
        ("10.1.1.1", ["203.0.113.9, 10.2.2.2"], PROXIES, "203.0.113.9"),
        # Garbage stops the walk at the last trusted hop.
        ("10.1.1.1", ["203.0.113.9, bogus"], PROXIES, "10.1.1.1"),
        # Only trusted hops: the left-most.
        ("10.1.1.1", ["10.3.3.3"], PROXIES, "10.3.3.3"),
        # No header.
        ("127.0.0.1", [], PROXIES, "127.0.0.1"),
        ("::1", ["2001:db8::5"], PROXIES, "2001:db8::5"),
    ],
)
def test_client_address(
    peer: str, headers: list[str], trusted: tuple[object, ...], expected: str
) -> None:
    assert client_address(peer, headers, trusted) == expected  # type: ignore[arg-type]


def test_mapped_ipv4_and_garbage() -> None:
    assert is_trusted("::ffff:10.0.0.1", PROXIES)
    assert not is_trusted("unknown", PROXIES)
    assert not is_trusted("192.0.2.1", PROXIES)
