"""The client's real address behind trusted proxies. Pure.

``X-Forwarded-For`` (the de-facto header; RFC 7239 section 5.2 describes its ``for=``
successor) is a list each proxy appends the address it saw to. Anyone can send one, so it
is read only when the TCP peer itself is a trusted proxy (``TRUSTED_PROXIES``), and then from
the right: the first address that is not a trusted proxy is the client. A forged entry added
by the client sits left of the one our proxy appended, so it is never reached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from roulette.balancing.settings import Network

__all__ = ["client_address", "is_trusted"]


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    """Whether ``address`` is inside one of the ``trusted`` networks (False when unparsable)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The address per-IP limits should count.

    Args:
        peer: the TCP peer's address.
        forwarded_for: every ``X-Forwarded-For`` header value, in order received.
        trusted: ``TRUSTED_PROXIES``.

    Returns:
        ``peer`` unless it is a trusted proxy; otherwise the right-most forwarded address that
        is not a trusted proxy (an unparsable entry stops the walk: the last trusted hop is
        then counted, never a string the client chose).
    """
    if not trusted or not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    current = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current
        if not is_trusted(hop, trusted):
            return hop
        current = hop
    return current
