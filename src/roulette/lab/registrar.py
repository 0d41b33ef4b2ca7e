"""``roulette lab registrar``: announces the lab's ``roulette cluster`` nodes to the balancer
and answers HAProxy's agent check for them.

A standalone ``roulette serve`` does both itself (:mod:`roulette.balancing.presence`), but the
workers of ``roulette cluster`` share one address and do neither, so the lab does it for each
node: while the node's ``/health/ready`` answers 200 it is announced (TTL
:data:`TTL_SECONDS`) and its agent answers ``up ready``; otherwise the record expires and the
agent hangs up without a word, which HAProxy ignores, leaving the verdict to its health check —
the same as a dead node's own agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from pathlib import Path

import httpx

from roulette.balancing.agent import AgentView, agent_answer
from roulette.balancing.nodes import NodeRecord, NodeState
from roulette.balancing.registry import NodeRegistry
from roulette.config import Config
from roulette.errors import ConfigError, Unavailable
from roulette.lab.state import LabNode, LabState, load

__all__ = ["record", "run_registrar"]

PERIOD_SECONDS = 1.0
TTL_SECONDS = 6.0


def record(state: LabState, node: LabNode, capacity: int, now: float) -> NodeRecord:
    """The registry record of a healthy lab node."""
    return NodeRecord(
        node_id=f"lab-{node.name}",
        host="127.0.0.1",
        http_port=node.port,
        ws_port=node.ws_port,
        agent_port=node.agent_port,
        capacity=capacity * state.workers,
        in_use=0,
        state=NodeState.READY,
        expires_at=now + TTL_SECONDS,
    )


class _Agents:
    """One agent-check listener per node, answering from the last health probe."""

    def __init__(self) -> None:
        self.healthy: dict[str, bool] = {}
        self.servers: list[asyncio.Server] = []

    async def start(self, state: LabState) -> None:
        for node in state.nodes:
            answer = functools.partial(self._answer, node.name)
            server = await asyncio.start_server(answer, "127.0.0.1", node.agent_port)
            self.servers.append(server)

    async def _answer(
        self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(TimeoutError, OSError):
            request = await asyncio.wait_for(reader.read(64), 0.2)
        with contextlib.suppress(OSError):
            if self.healthy.get(name):
                view = AgentView(NodeState.READY, 0, 1)
                writer.write(agent_answer(view, want_weight=b"weight" in request).encode())
                await writer.drain()
            writer.close()
            await writer.wait_closed()

    def close(self) -> None:
        for server in self.servers:
            server.close()


async def run_registrar(config: Config, directory: Path) -> int:
    """Announce the healthy nodes of the lab in ``directory`` every second until SIGTERM."""
    from roulette.storage.redis import close, connect  # noqa: PLC0415 - needs Redis

    client = connect(config.redis)
    registry = NodeRegistry(client)
    agents = _Agents()
    await agents.start(load(directory))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            while not stop.is_set():
                with contextlib.suppress(ConfigError):
                    await _announce_healthy(load(directory), registry, http, config, agents)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), PERIOD_SECONDS)
    finally:
        agents.close()
        await close(client)
    return 0


async def _announce_healthy(
    state: LabState,
    registry: NodeRegistry,
    http: httpx.AsyncClient,
    config: Config,
    agents: _Agents,
) -> None:
    for node in state.nodes:
        try:
            ready = (await http.get(f"http://127.0.0.1:{node.port}/health/ready")).status_code
        except httpx.HTTPError:
            ready = 0
        agents.healthy[node.name] = ready == 200
        if ready != 200:
            continue
        entry = record(state, node, config.limits.max_connections, time.time())
        with contextlib.suppress(Unavailable):
            await registry.announce(entry, ttl=TTL_SECONDS)
