"""What a secret looks like in text, and how it is rendered instead: ``***``.

Pure: the logging set-up (``observability/logs.py``) runs every formatted log line through
:class:`Redactor`, and the settings objects use :func:`masked_repr` for their ``repr``. A URL
keeps its scheme and host only — hosted JSON-RPC providers put the API key in the query
(``?apikey=…``) or in the path (``/v2/<key>``), and userinfo carries passwords (RFC 3986 §3.2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MASK",
    "Redactor",
    "is_secret_name",
    "masked_repr",
    "masked_setting",
    "redact_url",
    "secret_parts",
]

MASK = "***"

_MIN_SECRET_CHARS = 8
"""Shorter known values (a port, ``true``) are not searched for: they would mask ordinary text."""

_SECRET_FIELD = re.compile(r"(secret|token|password|passwd|api_key|credentials?)$", re.I)
_SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIALS?|_URLS?)$|PASSWORD", re.I
)

# scheme://[userinfo@]host[:port][/path][?query][#fragment], up to whitespace, a quote or a
# comma (settings list URLs comma-separated).
_URL = re.compile(
    r"\b([a-z][a-z0-9+.-]*)://([^\s/?#'\"<>@,]*@)?([^\s/?#'\"<>,]*)([^\s'\",<>]*)", re.I
)
# A request target without a scheme (an access-log line): keep the path, drop the query.
_QUERY = re.compile(r"(\s/[^\s?'\"]*)\?[^\s'\"]*")
# RFC 6750 bearer credentials and RFC 7519 JWTs (three base64url parts, header starts "eyJ").
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# A 65-byte secp256k1 signature (EIP-191) or longer (EIP-1271 / EIP-6492 wrappers); hashes
# (32 bytes) and addresses (20 bytes) stay readable.
_SIGNATURE = re.compile(r"\b0x[0-9a-fA-F]{130,}\b")
_COOKIE = re.compile(r"(?i)\b(accessToken|refreshToken|resumeToken|resume_token)([=:]\s*)\S+")


def redact_url(url: str) -> str:
    """``url`` without userinfo, path, query or fragment: ``https://host:port/***``.

    Text that is not an absolute URL comes back unchanged.
    """
    return _URL.sub(_render_url, url)


def _render_url(match: re.Match[str]) -> str:
    scheme, userinfo, host, rest = match.groups()
    shown = f"{scheme}://{MASK + '@' if userinfo else ''}{host}"
    return f"{shown}/{MASK}" if rest.strip("/") else shown


def is_secret_name(name: str) -> bool:
    """True for settings whose value is (or may carry) a credential: ``*_SECRET``, ``*_TOKEN``,
    ``*PASSWORD*``, ``*API_KEY*``, and URLs (``DATABASE_URL``, ``REDIS_URL``, ``RPC_URLS``)."""
    return bool(_SECRET_NAME.search(name))


def secret_parts(value: str) -> list[str]:
    """The credential-bearing pieces of a setting's value, to search for in text.

    The whole value, plus for each URL in it (comma-separated, optionally ``chain=url``): its
    userinfo password, every path segment and every query value long enough to be a key.
    """
    parts = [value]
    for item in value.split(","):
        url = item.partition("=")[2] if "=" in item.split("://", 1)[0] else item
        if "://" not in url:
            continue
        split = urlsplit(url.strip())
        parts += [split.password or "", split.username or ""]
        parts += split.path.split("/")
        parts += [pair.partition("=")[2] for pair in split.query.split("&")]
    return sorted({p for p in parts if len(p) >= _MIN_SECRET_CHARS}, key=len, reverse=True)


class Redactor:
    """Renders text without URLs' credentials, bearer tokens, JWTs, signatures and the
    configured secret values.

    Args:
        secrets: exact values to mask wherever they appear (the configured credentials).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, text: str) -> str:
        """``text`` with every secret it carries replaced by ``***``."""
        if self._known is not None:
            text = self._known.sub(MASK, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = _JWT.sub(MASK, text)
        text = _SIGNATURE.sub(f"0x{MASK}", text)
        text = _COOKIE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        text = _URL.sub(_render_url, text)
        return _QUERY.sub(lambda m: f"{m.group(1)}?{MASK}", text)

    @classmethod
    def for_environment(cls, env: Mapping[str, str]) -> Redactor:
        """A redactor knowing the values of every secret-bearing variable of ``env``."""
        secrets: list[str] = []
        for name, value in env.items():
            if is_secret_name(name):
                secrets += secret_parts(value)
        return cls(secrets)


def masked_repr(obj: Any, secret_fields: Iterable[str] = ()) -> str:
    """The dataclass repr of ``obj`` with secret fields shown as ``'***'`` (None stays None),
    every URL in the other fields shown by :func:`redact_url`, and a raw ``environment`` (pairs
    of strings) with every secret-bearing variable masked.

    A field is secret when named in ``secret_fields`` or when its name ends in ``secret``,
    ``token``, ``password`` or ``api_key``; nested settings objects are rendered the same way,
    whatever their own ``repr`` does.
    """
    assert is_dataclass(obj)
    hidden = set(secret_fields)
    shown = []
    for f in fields(obj):
        if not f.repr:
            continue
        value = getattr(obj, f.name)
        if f.name in hidden or _SECRET_FIELD.search(f.name):
            text = "None" if value is None else repr(MASK)
        elif is_dataclass(value) and not isinstance(value, type):
            text = masked_repr(value)
        elif f.name == "environment":
            text = repr(tuple((k, redact_url(masked_setting(k, v))) for k, v in value))
        else:
            text = redact_url(repr(value))
        shown.append(f"{f.name}={text}")
    return f"{type(obj).__name__}({', '.join(shown)})"


def masked_setting(name: str, value: str) -> str:
    """How the value of variable ``name`` may be shown: as is, its URLs redacted, or ``***``."""
    if not is_secret_name(name):
        return value
    is_url_list = name.upper().endswith(("_URL", "_URLS"))
    return redact_url(value) if is_url_list else MASK
