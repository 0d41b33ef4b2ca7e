"""Short-lived TURN credentials in coturn's REST scheme ("TURN REST API", use-auth-secret).

The username is ``<expiry unix time>:<opaque id>`` and the password is
``base64(HMAC-SHA1(secret, username))``; coturn recomputes the password from its
``static-auth-secret`` and refuses a username whose expiry has passed. So nothing is stored,
any worker can issue them, and a leaked pair stops working after the TTL. The opaque id names
one user of one session without revealing the wallet (coturn logs usernames).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["TurnCredentials", "TurnIssuer", "turn_password"]


def turn_password(secret: str, username: str) -> str:
    """``base64(HMAC-SHA1(secret, username))``: what coturn expects as the password."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    """One issued credential: an ``RTCIceServer`` once URLs are attached."""

    username: str
    credential: str
    expires_at: int

    def ice_server(self, urls: tuple[str, ...]) -> dict[str, str | list[str]]:
        """The ``RTCIceServer`` dictionary the browser takes (W3C WebRTC §4.2.4)."""
        return {"urls": list(urls), "username": self.username, "credential": self.credential}


@dataclass(frozen=True, slots=True)
class TurnIssuer:
    """Issues credentials for one TURN deployment.

    Args:
        secret: coturn's ``static-auth-secret``.
        urls: the ``turn:``/``turns:`` URLs clients use.
        ttl: seconds a credential stays valid.
    """

    secret: str
    urls: tuple[str, ...]
    ttl: float

    def issue(self, subject: str, *, now: float) -> TurnCredentials:
        """Credentials for ``subject`` (e.g. ``session-id:address``) valid ``ttl`` from ``now``.

        The opaque id is a keyed hash of ``subject``: stable for one user of one session,
        unlinkable to the wallet by anyone without the secret.
        """
        mac = hmac.new(self.secret.encode(), b"opaque:" + subject.encode(), hashlib.sha256)
        opaque = base64.urlsafe_b64encode(mac.digest()[:12]).decode()
        expires_at = int(now + self.ttl)
        username = f"{expires_at}:{opaque}"
        return TurnCredentials(username, turn_password(self.secret, username), expires_at)

    def ice_server(self, subject: str, *, now: float) -> dict[str, str | list[str]]:
        """An ``RTCIceServer`` entry with fresh credentials for ``subject``."""
        return self.issue(subject, now=now).ice_server(self.urls)
