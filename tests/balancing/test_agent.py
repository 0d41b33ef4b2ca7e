"""The agent-check answer, and the real TCP agent answering it."""

from __future__ import annotations

import asyncio

import pytest

from roulette.balancing.agent import AgentServer, AgentView, agent_answer
from roulette.balancing.nodes import NodeState


@pytest.mark.parametrize(
    ("view", "want_weight", "answer"),
    [
        (AgentView(NodeState.READY, 0, 1000), False, "up ready\n"),
        (AgentView(NodeState.READY, 0, 1000), True, "up ready 100%\n"),
        (AgentView(NodeState.READY, 250, 1000), True, "up ready 75%\n"),
        (AgentView(NodeState.READY, 1000, 1000), True, "up ready 1%\n"),
        (AgentView(NodeState.READY, 5000, 1000), True, "up ready 1%\n"),
        (AgentView(NodeState.DRAINING, 0, 1000), True, "up drain\n"),
        (AgentView(NodeState.STOPPING, 0, 1000), False, "up drain\n"),
        (AgentView(NodeState.READY, 0, 1000, shedding=True), False, "up drain\n"),
    ],
)
def test_answer(view: AgentView, want_weight: bool, answer: str) -> None:
    assert agent_answer(view, want_weight=want_weight) == answer


async def test_server_answers_what_haproxy_asks() -> None:
    views = [AgentView(NodeState.READY, 500, 1000)]
    server = AgentServer(lambda: views[-1])
    port = await server.start("127.0.0.1", 0)
    try:

        async def ask(send: bytes) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(send)
            reply = await reader.read()
            writer.close()
            return reply

        assert await ask(b"weight") == b"up ready 50%\n"
        assert await ask(b"state") == b"up ready\n"
        assert await ask(b"") == b"up ready\n"  # nothing sent: answered after a short wait
        views.append(AgentView(NodeState.DRAINING, 500, 1000))
        assert await ask(b"weight") == b"up drain\n"
    finally:
        await server.close()
