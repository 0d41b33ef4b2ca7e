"""A minimal TURN client over UDP (RFC 8656 on STUN, RFC 8489), for testing a real coturn.

Only what the tests need: Allocate with the long-term credential mechanism (401 → REALM and
NONCE → retry with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY), CreatePermission and
ChannelBind. Written here rather than taken from aioice, whose TURN client performs
CreatePermission inside ``sendto`` and never surfaces a 403.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass, field

__all__ = ["TurnClient", "TurnError", "TurnReply"]

MAGIC_COOKIE = 0x2112A442

# Methods (RFC 8656 §17) and classes (RFC 8489 §5).
ALLOCATE, CREATE_PERMISSION, CHANNEL_BIND = 0x003, 0x008, 0x009
REQUEST, SUCCESS, ERROR = 0b00, 0b10, 0b11

# Attributes (RFC 8489 §18.3, RFC 8656 §18).
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
CHANNEL_NUMBER, LIFETIME, XOR_PEER_ADDRESS = 0x000C, 0x000D, 0x0012
REALM, NONCE, XOR_RELAYED_ADDRESS = 0x0014, 0x0015, 0x0016
REQUESTED_TRANSPORT = 0x0019

UDP = 17


class TurnError(Exception):
    """The server sent nothing parseable in time."""


@dataclass
class TurnReply:
    """One response: its class and attributes."""

    method: int
    cls: int
    attributes: dict[int, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.cls == SUCCESS

    @property
    def error_code(self) -> int | None:
        raw = self.attributes.get(ERROR_CODE)
        if raw is None:
            return None
        return raw[2] * 100 + raw[3]  # class (hundreds) and number (RFC 8489 §14.8)

    def address(self, attribute: int) -> tuple[str, int]:
        return _xor_address(self.attributes[attribute])


def _message_type(method: int, cls: int) -> int:
    # RFC 8489 §5: the class bits C0 and C1 sit at bits 4 and 8, between the method bits.
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((cls & 1) << 4)
        | ((cls & 2) << 7)
    )


def _split_type(message_type: int) -> tuple[int, int]:
    method = (
        (message_type & 0x000F) | ((message_type & 0x00E0) >> 1) | ((message_type & 0x3E00) >> 2)
    )
    cls = ((message_type >> 4) & 1) | ((message_type >> 7) & 2)
    return method, cls


def _attribute(kind: int, value: bytes) -> bytes:
    padding = b"\x00" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def _xor_address(value: bytes) -> tuple[str, int]:
    family, port = value[1], struct.unpack("!H", value[2:4])[0] ^ (MAGIC_COOKIE >> 16)
    if family != 0x01:
        raise TurnError("only IPv4 addresses are decoded here")
    (raw,) = struct.unpack("!I", value[4:8])
    return str(ipaddress.IPv4Address(raw ^ MAGIC_COOKIE)), port


def xor_peer(host: str, port: int) -> bytes:
    """An XOR-PEER-ADDRESS value for an IPv4 peer."""
    raw = int(ipaddress.IPv4Address(host)) ^ MAGIC_COOKIE
    return struct.pack("!BBHI", 0, 0x01, port ^ (MAGIC_COOKIE >> 16), raw)


def encode(
    method: int, attributes: list[tuple[int, bytes]], *, key: bytes | None, txid: bytes
) -> bytes:
    """A request; with ``key``, MESSAGE-INTEGRITY last (RFC 8489 §14.5)."""
    body = b"".join(_attribute(k, v) for k, v in attributes)
    header_type = _message_type(method, REQUEST)
    if key is None:
        return struct.pack("!HHI", header_type, len(body), MAGIC_COOKIE) + txid + body
    # The HMAC covers the header with a length that already counts the 24-byte attribute.
    header = struct.pack("!HHI", header_type, len(body) + 24, MAGIC_COOKIE) + txid
    mac = hmac.new(key, header + body, hashlib.sha1).digest()
    return header + body + _attribute(MESSAGE_INTEGRITY, mac)


def decode(data: bytes) -> tuple[TurnReply, bytes]:
    """A response and its transaction id."""
    if len(data) < 20:
        raise TurnError("short STUN message")
    message_type, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE:
        raise TurnError("not a STUN message")
    method, cls = _split_type(message_type)
    reply, offset, end = TurnReply(method, cls), 20, 20 + length
    while offset + 4 <= end:
        kind, size = struct.unpack("!HH", data[offset : offset + 4])
        reply.attributes.setdefault(kind, data[offset + 4 : offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return reply, data[8:20]


class TurnClient:
    """One client socket against one TURN server, with the long-term credential.

    Args:
        server: the server's ``(host, port)`` (UDP).
        username: the TURN REST username ``expiry:id``.
        password: ``base64(HMAC-SHA1(secret, username))``.
    """

    def __init__(self, server: tuple[str, int], username: str, password: str) -> None:
        self.server = server
        self.username = username
        self.password = password
        self.realm: bytes | None = None
        self.nonce: bytes | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2.0)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> TurnClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _key(self) -> bytes:
        # RFC 8489 §9.2.2: MD5(username ":" realm ":" password), the password SASLprep'd
        # (an ASCII base64 string is its own SASLprep).
        assert self.realm is not None
        joined = f"{self.username}:{self.realm.decode()}:{self.password}"
        return hashlib.md5(joined.encode()).digest()

    def _exchange(
        self, method: int, attributes: list[tuple[int, bytes]], signed: bool
    ) -> TurnReply:
        txid = os.urandom(12)
        extra = []
        if signed:
            assert self.realm is not None and self.nonce is not None
            extra = [(USERNAME, self.username.encode()), (REALM, self.realm), (NONCE, self.nonce)]
        key = self._key() if signed else None
        self.sock.sendto(encode(method, attributes + extra, key=key, txid=txid), self.server)
        for _ in range(4):  # UDP: skip stray answers to an earlier transaction
            try:
                data, _ = self.sock.recvfrom(4096)
            except TimeoutError as exc:
                raise TurnError(f"no answer from {self.server}") from exc
            reply, answered = decode(data)
            if answered == txid:
                return reply
        raise TurnError("no answer to this transaction")

    def request(self, method: int, attributes: list[tuple[int, bytes]]) -> TurnReply:
        """Send an authenticated request, learning REALM and NONCE from a 401 or 438 first."""
        reply = self._exchange(method, attributes, signed=self.realm is not None)
        if reply.cls == ERROR and reply.error_code in (401, 438) and NONCE in reply.attributes:
            # 401: the first challenge (RFC 8489 §9.2.4); 438: our nonce went stale.
            self.realm = reply.attributes.get(REALM, self.realm)
            self.nonce = reply.attributes[NONCE]
            reply = self._exchange(method, attributes, signed=True)
        return reply

    def allocate(self, lifetime: int = 600) -> TurnReply:
        """RFC 8656 §7.1: ask for a UDP relayed address."""
        transport = bytes([UDP, 0, 0, 0])
        attributes = [(REQUESTED_TRANSPORT, transport), (LIFETIME, struct.pack("!I", lifetime))]
        return self.request(ALLOCATE, attributes)

    def create_permission(self, host: str, port: int = 9) -> TurnReply:
        """RFC 8656 §9.1: allow traffic with ``host`` through the allocation."""
        return self.request(CREATE_PERMISSION, [(XOR_PEER_ADDRESS, xor_peer(host, port))])

    def channel_bind(self, host: str, port: int, channel: int = 0x4000) -> TurnReply:
        """RFC 8656 §12.1: bind a channel number to ``host:port``."""
        number = struct.pack("!HH", channel, 0)
        attributes = [(CHANNEL_NUMBER, number), (XOR_PEER_ADDRESS, xor_peer(host, port))]
        return self.request(CHANNEL_BIND, attributes)
