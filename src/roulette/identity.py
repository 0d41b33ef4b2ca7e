"""Who and where: the identity values every layer names (plain ``NewType``s, no behaviour).

They sit at the bottom of the layer stack so that auth, chain, storage and the gateway can
name a user, a session or a worker without depending on matchmaking.
"""

from __future__ import annotations

from typing import NewType

__all__ = ["Address", "SessionId", "WorkerId"]

Address = NewType("Address", str)
"""An EIP-55 checksummed Ethereum address, the only identity of a user."""

SessionId = NewType("SessionId", str)
"""One 1:1 session, from pairing to its end (kept across a resume)."""

WorkerId = NewType("WorkerId", str)
"""The process that owns a user's socket; routing sends that user's messages there."""
