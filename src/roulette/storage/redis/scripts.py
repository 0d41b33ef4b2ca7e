"""The Lua scripts of the Redis stores, read from ``lua/`` and registered on a client.

Each lobby script is ``lua/lobby.lua`` (the shared prelude: key layout, bookkeeping and the
matching rules) followed by one operation's file. The lobby runs them through one script,
:func:`lobby_batch_source`: the prelude, every operation as a function, and ``lua/batch.lua``,
which runs a list of operations in order in one call. ``register_script`` sends ``EVALSHA`` and
falls back to loading the source on ``NOSCRIPT``, which also covers a replica promoted by a
failover (scripts are not replicated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from redis.commands.core import AsyncScript

from roulette.storage.redis.client import RedisClient, unavailable_on_failure

__all__ = ["LOBBY_OPERATIONS", "Script", "lobby_batch_source", "lobby_source", "source"]

LOBBY_OPERATIONS = (
    "join",
    "leave",
    "end_session",
    "session_of",
    "rebind",
    "position",
    "stats",
    "exclusions",
    "rematch",
    "expire",
)


@cache
def source(name: str) -> str:
    """The text of ``lua/<name>.lua``."""
    return (files("roulette.storage.redis") / "lua" / f"{name}.lua").read_text("utf-8")


def lobby_source(operation: str) -> str:
    """One lobby operation's full script: the prelude, then the operation."""
    return source("lobby") + "\n" + source(operation)


@cache
def lobby_batch_source() -> str:
    """The batch script: the prelude, each operation as ``OPS[name]``, then ``lua/batch.lua``.

    An operation's file is the body of a function of its own ``ARGV`` (which shadows the
    script's), so it reads its arguments at ``ARGV[6..]`` and returns, as a script would.
    """
    functions = "".join(
        f"OPS['{name}'] = function(ARGV)\n{source(name)}\nend\n" for name in LOBBY_OPERATIONS
    )
    return f"{source('lobby')}\nlocal OPS = {{}}\n{functions}{source('batch')}"


@dataclass(frozen=True, slots=True)
class Script:
    """A script registered on a client; calling it maps Redis failures to ``Unavailable``."""

    script: AsyncScript

    @classmethod
    def register(cls, client: RedisClient, text: str) -> Script:
        """Register ``text`` on ``client`` (no round trip: it is loaded on first use)."""
        return cls(client.register_script(text))

    async def __call__(self, keys: Sequence[str], args: Sequence[str | bytes | int | float]) -> Any:
        """Run the script.

        Raises:
            Unavailable: ``state_unavailable``, Redis could not be reached or refused.
        """
        with unavailable_on_failure():
            return await self.script(keys=keys, args=args)
