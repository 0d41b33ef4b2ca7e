"""The HAProxy agent check: what a node answers, and the tiny TCP server that answers it.

HAProxy connects to the agent port every ``agent-inter``, sends its ``agent-send`` string and
reads one line of words (configuration manual, "agent-check"): ``up``/``down`` for the
operational state, ``ready``/``drain``/``maint`` for the administrative one, and ``N%`` to
scale the server's configured weight. We send ``drain`` while the node drains, stops or sheds
load, so HAProxy stops sending new connections without cutting the current ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from roulette.balancing.nodes import NodeState

__all__ = ["AgentServer", "AgentView", "agent_answer"]

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 0.2
"""How long the server waits for HAProxy's ``agent-send`` string before answering anyway."""


@dataclass(frozen=True, slots=True)
class AgentView:
    """What the agent answer is made of: the node's state, load and shedding flag."""

    state: NodeState
    in_use: int
    capacity: int
    shedding: bool = False


def agent_answer(view: AgentView, *, want_weight: bool) -> str:
    """The agent's reply line (with its newline).

    Args:
        view: the node right now.
        want_weight: HAProxy asked for a weight (``agent-send weight``: the weighted algorithm).
    """
    if view.state is not NodeState.READY or view.shedding:
        return "up drain\n"
    if not want_weight:
        return "up ready\n"
    free = 0.0 if view.capacity <= 0 else (view.capacity - view.in_use) / view.capacity
    percent = max(1, min(100, round(100 * free)))
    return f"up ready {percent}%\n"


class AgentServer:
    """Answers HAProxy's agent checks from ``view()`` on one TCP port.

    Args:
        view: the node's state now (called per check, on the event loop).
    """

    def __init__(self, view: Callable[[], AgentView]) -> None:
        self._view = view
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (``port`` 0: the kernel's pick)."""
        self._server = await asyncio.start_server(self._answer, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        """Stop listening (HAProxy's next agent check fails; its health check decides)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = b""
        with contextlib.suppress(TimeoutError, OSError):
            request = await asyncio.wait_for(reader.read(64), READ_TIMEOUT_SECONDS)
        try:
            writer.write(agent_answer(self._view(), want_weight=b"weight" in request).encode())
            await writer.drain()
        except OSError:
            log.debug("agent_check_peer_gone")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
