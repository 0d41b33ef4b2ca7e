"""HAProxy's runtime API over its UNIX stats socket: one command per connection.

The socket is the ``stats socket … level admin`` line of the rendered configuration
(HAProxy management guide, section 9.3). After a reload the new worker listens on the same
path, so every command simply connects again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from roulette.balancing.haproxy_config import BACKENDS
from roulette.balancing.plan import CurrentServer

__all__ = ["RuntimeApi", "parse_servers_state"]

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
MAX_REPLY_BYTES = 4 * 1024 * 1024

_OK_REPLIES = ("", "New server registered.", "Server deleted.")


class RuntimeApi:
    """Send commands to one HAProxy stats socket.

    Args:
        path: the socket (``<LB_RUN_DIR>/admin.sock``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    async def command(self, line: str) -> str:
        """Send one command; returns HAProxy's reply, stripped.

        Raises:
            OSError: HAProxy is not listening (starting, reloading or gone).
            TimeoutError: no complete reply in time.
        """
        async with asyncio.timeout(TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_unix_connection(str(self.path))
            try:
                writer.write(line.encode() + b"\n")
                await writer.drain()
                reply = await reader.read(MAX_REPLY_BYTES)
                while chunk := await reader.read(MAX_REPLY_BYTES):
                    reply += chunk
            finally:
                writer.close()
        return reply.decode(errors="replace").strip()

    async def apply(self, commands: list[str]) -> list[str]:
        """Send ``commands`` in order; returns the replies that report a failure."""
        failures = []
        for line in commands:
            reply = await self.command(line)
            if reply not in _OK_REPLIES:
                log.warning("haproxy_command_failed command=%r reply=%r", line, reply)
                failures.append(f"{line}: {reply}")
        return failures

    async def servers(self) -> list[CurrentServer]:
        """Every server of our backends, from ``show servers state``."""
        found: list[CurrentServer] = []
        for backend in BACKENDS:
            found += parse_servers_state(await self.command(f"show servers state {backend.name}"))
        return found


def parse_servers_state(reply: str) -> list[CurrentServer]:
    """The servers in a ``show servers state`` reply (format version 1, columns by header)."""
    columns: list[str] = []
    servers = []
    for line in reply.splitlines():
        if line.startswith("# "):
            columns = line[2:].split()
            continue
        fields = line.split()
        if not columns or len(fields) != len(columns):
            continue  # the version line, blank lines
        row = dict(zip(columns, fields, strict=True))
        servers.append(
            CurrentServer(
                backend=row["be_name"],
                name=row["srv_name"],
                address=row["srv_addr"],
                port=int(row["srv_port"]),
                admin_state=int(row["srv_admin_state"]),
            )
        )
    return servers
