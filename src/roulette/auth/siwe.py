"""Sign-In with Ethereum (EIP-4361): a strict, linear-time message parser and its checks.

The parser walks the message line by line, in the field order EIP-4361 fixes, matching each
value against an anchored regular expression without nested repetition, so its cost is linear
in the message length; the length itself is capped before any parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

from roulette.auth.address import to_checksum_address
from roulette.auth.signature import recover_address_bytes
from roulette.errors import BadRequest, PayloadTooLarge, Unauthenticated
from roulette.identity import Address

__all__ = [
    "SiweMessage",
    "SiweRules",
    "check_message",
    "parse_message",
    "verify_sign_in",
]

_HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
# RFC 3986 §3.1 scheme, §3.2 authority, §3.3 pchar; pct-encoded is "%" HEXDIG HEXDIG.
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"
_PCT = r"%[0-9A-Fa-f]{2}"
_SUB_DELIMS = r"!$&'()*+,;="
_RE_SCHEME = re.compile(_SCHEME, re.ASCII)
_RE_AUTHORITY = re.compile(rf"(?:[A-Za-z0-9\-._~{_SUB_DELIMS}:@\[\]]|{_PCT})+", re.ASCII)
_RE_URI = re.compile(rf"{_SCHEME}:(?:[A-Za-z0-9\-._~{_SUB_DELIMS}:@/?#\[\]]|{_PCT})+", re.ASCII)
_RE_VERSION = re.compile(r"[0-9]{1,9}", re.ASCII)
# EIP-155 chain ids; 78 digits cover any uint256.
_RE_CHAIN_ID = re.compile(r"[0-9]{1,78}", re.ASCII)
# EIP-4361: "nonce = 8*( ALPHA / DIGIT )".
_RE_NONCE = re.compile(r"[A-Za-z0-9]{8,}", re.ASCII)
_RE_REQUEST_ID = re.compile(rf"(?:[A-Za-z0-9\-._~{_SUB_DELIMS}:@]|{_PCT})*", re.ASCII)
# RFC 3339 §5.6 date-time; "T" and "Z" may be lowercase (§5.6 NOTE, RFC 5234 §2.3).
_RE_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)
_HTTP_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class SiweMessage:
    """One parsed EIP-4361 message. Timestamps are Unix seconds.

    Attributes:
        domain: the RFC 3986 authority requesting the sign-in.
        address: the signer's EIP-55 checksummed address.
        statement: the optional human-readable assertion (free text, never checked).
        uri: the RFC 3986 URI the sign-in is for.
        version: the message version; only ``"1"`` passes :func:`check_message`.
        chain_id: the EIP-155 chain id.
        nonce: at least 8 alphanumerics; the caller consumes it once.
        issued_at: when the message was made.
        expiration_time: when it stops being valid, if ever.
        not_before: when it starts being valid, if not at once.
        request_id: an opaque identifier of the request, if any.
        resources: URIs the user also authorises.
        scheme: the URI scheme before the domain in the header, if given.
    """

    domain: str
    address: Address
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: float
    expiration_time: float | None = None
    not_before: float | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()
    scheme: str | None = None


@dataclass(frozen=True, slots=True)
class SiweRules:
    """What this service accepts in a sign-in message.

    Attributes:
        domain: the exact authority clients sign for, e.g. ``"localhost:3001"``.
        chain_ids: the EIP-155 chains users may sign in on.
        max_age: how old ``Issued At`` may be, in seconds.
        future_skew: how far ``Issued At`` may lie ahead of our clock, in seconds.
    """

    domain: str
    chain_ids: frozenset[int]
    max_age: float = 300.0
    future_skew: float = 60.0


def parse_message(text: str, *, max_bytes: int = 2048) -> SiweMessage:
    """Parse an EIP-4361 message strictly, in its fixed field order.

    One trailing LF is accepted. Without a statement, both the ABNF's layout (two blank
    lines before ``URI:``) and the one older clients wrote (a single blank line) parse.

    Args:
        text: the message exactly as the wallet signed it.
        max_bytes: the largest accepted UTF-8 length, checked before any parsing.

    Returns:
        The parsed message, with a checksummed address.

    Raises:
        PayloadTooLarge: ``siwe_message_too_large`` when over ``max_bytes``.
        Unauthenticated: ``invalid_siwe_message`` naming the bad line, or
            ``invalid_address`` when the address or its EIP-55 checksum is wrong.
    """
    _check_size(text, max_bytes)
    _check_characters(text)
    lines = _Lines(text[:-1].split("\n") if text.endswith("\n") else text.split("\n"))
    scheme, domain = _parse_header(lines)
    address = _parse_address(lines)
    statement = _parse_statement(lines)
    uri = lines.field("URI: ", _RE_URI, "an RFC 3986 URI")
    version = lines.field("Version: ", _RE_VERSION, "a version number")
    chain_id = int(lines.field("Chain ID: ", _RE_CHAIN_ID, "a decimal EIP-155 chain id"))
    nonce = lines.field("Nonce: ", _RE_NONCE, "at least 8 letters or digits")
    issued_at = lines.timestamp("Issued At: ")
    expiration_time = lines.optional_timestamp("Expiration Time: ")
    not_before = lines.optional_timestamp("Not Before: ")
    request_id = lines.optional_field("Request ID: ", _RE_REQUEST_ID, "RFC 3986 pchars")
    resources = _parse_resources(lines)
    lines.expect_end()
    return SiweMessage(
        domain=domain,
        address=address,
        statement=statement,
        uri=uri,
        version=version,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=resources,
        scheme=scheme,
    )


def check_message(message: SiweMessage, rules: SiweRules, *, now: float) -> None:
    """Check a parsed message against our rules (EIP-4361 "Verifying a signed message").

    The nonce is not checked here: the caller consumes it atomically in its store.

    Args:
        message: the parsed message.
        rules: what this service accepts.
        now: the current time, Unix seconds.

    Raises:
        Unauthenticated: ``domain_mismatch``, ``uri_mismatch``, ``unsupported_version``,
            ``chain_not_allowed``, ``issued_at_out_of_range``, ``message_expired`` or
            ``message_not_yet_valid``.
    """
    # EIP-4361 §Security: the domain must be exactly ours, or a phishing site could
    # relay a message signed for it.
    if message.domain != rules.domain or (
        message.scheme is not None and message.scheme.lower() not in _HTTP_SCHEMES
    ):
        raise Unauthenticated(f"the message is for {message.domain!r}", code="domain_mismatch")
    if not _is_within_origin(message.uri, rules.domain):
        raise Unauthenticated(
            f"the URI must be within http(s)://{rules.domain}", code="uri_mismatch"
        )
    if message.version != "1":
        raise Unauthenticated("only EIP-4361 version 1 is supported", code="unsupported_version")
    if message.chain_id not in rules.chain_ids:
        raise Unauthenticated(f"chain {message.chain_id} is not allowed", code="chain_not_allowed")
    if not now - rules.max_age <= message.issued_at <= now + rules.future_skew:
        raise Unauthenticated(
            "Issued At is too old or in the future", code="issued_at_out_of_range"
        )
    # EIP-4361: the message is invalid at or after its expiration time.
    if message.expiration_time is not None and message.expiration_time <= now:
        raise Unauthenticated("the message has expired", code="message_expired")
    if message.not_before is not None and message.not_before > now:
        raise Unauthenticated("the message is not valid yet", code="message_not_yet_valid")


def verify_sign_in(
    text: str, signature: str, rules: SiweRules, *, now: float, max_bytes: int = 2048
) -> SiweMessage:
    """Parse, check and authenticate a signed sign-in message (all but the nonce).

    The cheap checks run before the signature recovery, so stale or foreign messages
    cost no elliptic-curve work.

    Args:
        text: the EIP-4361 message as signed.
        signature: the EIP-191 ``personal_sign`` signature, ``0x`` + 130 hex digits.
        rules: what this service accepts.
        now: the current time, Unix seconds.
        max_bytes: the largest accepted message, in UTF-8 bytes.

    Returns:
        The verified message; the caller must still consume its nonce exactly once.

    Raises:
        PayloadTooLarge: the message is over ``max_bytes``.
        Unauthenticated: any failed check (see :func:`parse_message`,
            :func:`check_message`, and :func:`~roulette.auth.signature.recover_address`), or
            ``signature_mismatch`` when someone other than ``address`` signed.
    """
    message = parse_message(text, max_bytes=max_bytes)
    check_message(message, rules, now=now)
    # Compare raw bytes: the message's address is already canonical, so a second EIP-55
    # hash of the recovered one would buy nothing.
    if recover_address_bytes(text, signature) != bytes.fromhex(message.address[2:]):
        raise Unauthenticated(
            "the signature was not made by the message's address", code="signature_mismatch"
        )
    return message


def _check_size(text: str, max_bytes: int) -> None:
    # A character is at least one UTF-8 byte, so a long string is refused without encoding.
    size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise PayloadTooLarge(
            f"a sign-in message may be {max_bytes} bytes, this one is {size}",
            code="siwe_message_too_large",
        )


def _check_characters(text: str) -> None:
    # EIP-4361 lines end with LF alone; a CR could hide a line from one reader but not another.
    if "\r" in text:
        raise _invalid("carriage returns are not allowed; lines end with LF")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _invalid("the message is not valid Unicode text") from exc


def _parse_header(lines: _Lines) -> tuple[str | None, str]:
    line = lines.take("the header")
    prefix = line.removesuffix(_HEADER_SUFFIX)
    if prefix == line:
        raise lines.error(f"expected '<domain>{_HEADER_SUFFIX}'")
    scheme, separator, domain = prefix.rpartition("://")
    if separator and _RE_SCHEME.fullmatch(scheme) is None:
        raise lines.error("the scheme before the domain is not an RFC 3986 scheme")
    if _RE_AUTHORITY.fullmatch(domain) is None:
        raise lines.error("the domain is not an RFC 3986 authority")
    return (scheme if separator else None), domain


def _parse_address(lines: _Lines) -> Address:
    line = lines.take("the address")
    try:
        return to_checksum_address(line)
    except BadRequest as exc:
        raise Unauthenticated(f"line {lines.index}: {exc.message}", code="invalid_address") from exc


def _parse_statement(lines: _Lines) -> str | None:
    lines.expect_blank("after the address")
    first, second = lines.peek(0), lines.peek(1)
    if first == "":
        lines.take("a blank line")
        return None
    if second == "" and first is not None:
        lines.take("the statement")
        lines.take("a blank line")
        return first
    if first is not None and first.startswith("URI: "):
        # One blank line and no statement: not the ABNF, but what siwe before 2022
        # (spruceid/siwe#42) and viem before mid-2024 (wevm/viem#2337) wrote. Refusing it
        # would lock those clients out, and the signature covers the exact text either way.
        return None
    lines.index += 1
    raise lines.error("expected a statement followed by a blank line, or a blank line")


def _parse_resources(lines: _Lines) -> tuple[str, ...]:
    if lines.peek(0) != "Resources:":
        return ()
    lines.take("Resources:")
    resources: list[str] = []
    while (line := lines.peek(0)) is not None and line.startswith("- "):
        resources.append(lines.field("- ", _RE_URI, "an RFC 3986 URI"))
    return tuple(resources)


class _Lines:
    """A cursor over the message's lines; every error names the 1-based line number."""

    __slots__ = ("index", "lines")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.index = 0

    def error(self, problem: str) -> Unauthenticated:
        return _invalid(f"line {self.index}: {problem}")

    def peek(self, ahead: int) -> str | None:
        position = self.index + ahead
        return self.lines[position] if position < len(self.lines) else None

    def take(self, what: str) -> str:
        line = self.peek(0)
        self.index += 1
        if line is None:
            raise self.error(f"the message ends where {what} should be")
        return line

    def expect_blank(self, where: str) -> None:
        if self.take(f"a blank line {where}") != "":
            raise self.error(f"expected a blank line {where}")

    def field(self, label: str, pattern: re.Pattern[str], what: str) -> str:
        return self.match(label, pattern, what).group(0)

    def match(self, label: str, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        line = self.take(f"'{label.strip()}'")
        if not line.startswith(label):
            raise self.error(f"expected '{label.strip()}'")
        match = pattern.fullmatch(line, len(label))
        if match is None:
            raise self.error(f"'{label.strip()}' must be {what}")
        return match

    def optional_field(self, label: str, pattern: re.Pattern[str], what: str) -> str | None:
        line = self.peek(0)
        if line is None or not line.startswith(label):
            return None
        return self.field(label, pattern, what)

    def timestamp(self, label: str) -> float:
        match = self.match(label, _RE_DATE_TIME, "an RFC 3339 date-time with a time zone")
        return self._to_unix(match, label)

    def optional_timestamp(self, label: str) -> float | None:
        line = self.peek(0)
        if line is None or not line.startswith(label):
            return None
        return self.timestamp(label)

    def expect_end(self) -> None:
        if self.index < len(self.lines):
            self.index += 1
            raise self.error("unexpected line (a field out of order, repeated or unknown)")

    def _to_unix(self, match: re.Match[str], label: str) -> float:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
        microsecond = int((fraction or "").ljust(6, "0")[:6])
        zone = UTC
        if sign is not None:
            # RFC 3339 §5.6: time-numoffset, hours 00-23 and minutes 00-59.
            if int(offset_hours) > 23 or int(offset_minutes) > 59:
                raise self.error(f"'{label.strip()}' has an impossible UTC offset")
            offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
            zone = timezone(-offset if sign == "-" else offset)
        try:
            moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
        except ValueError as exc:
            # Also refuses RFC 3339 leap seconds (:60), which datetime cannot represent.
            raise self.error(f"'{label.strip()}' is not a real date and time") from exc
        return moment.timestamp()


def _invalid(problem: str) -> Unauthenticated:
    return Unauthenticated(problem, code="invalid_siwe_message")


def _is_within_origin(uri: str, domain: str) -> bool:
    # Compare the parsed scheme and the whole authority exactly, so neither
    # "http://localhost:3001.evil.com" nor "http://localhost:3001@evil.com" passes.
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme in _HTTP_SCHEMES and parts.netloc == domain
