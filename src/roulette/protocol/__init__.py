"""WebSocket protocol: message types and their encoding (pure)."""

from roulette.protocol.messages import ClientMessage, ServerMessage, decode_client, encode

__all__ = ["ClientMessage", "ServerMessage", "decode_client", "encode"]
