"""Relay throughput between paired sockets through one ``roulette serve`` process.

Starts a real server, signs in 2×PAIRS real wallets (EIP-4361 over HTTP), pairs them through
the real queue over picows client sockets, then every initiator streams ``ice-candidate``
messages to its peer with a bounded window in flight while the peers count what arrives.
Reports relayed messages/s, and per second of server CPU time (from /proc), so the figure is
"per server core" even when the client shares the machine. Prints one JSON object.

The per-socket rate limit (20/s by default) is lifted for the run: this measures the relay
path, not the limiter. Usage: ``python benchmarks/bench_relay.py [--pairs 50] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from support.server import RunningServer, running_server
from support.users import signed_in_users

WINDOW = 64
"""Messages one sender keeps in flight (a browser trickling ICE candidates does the same)."""


class Client(WSListener):  # type: ignore[misc]
    """One benchmark socket: speaks just enough of the protocol to get matched, then counts."""

    def __init__(self) -> None:
        self.matched = asyncio.Event()
        self.session_id = ""
        self.initiator = False
        self.received = 0
        self.sent = 0
        self.peer: Client | None = None
        self.wakeup = asyncio.Event()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            return
        if self.matched.is_set():
            self.received += 1
            sender = self.peer
            if sender is not None and sender.sent - self.received <= WINDOW // 2:
                sender.wakeup.set()
            return
        message = json.loads(frame.get_payload_as_bytes())
        if message["type"] == "match-found":
            self.session_id = message["sessionId"]
            self.initiator = message["isInitiator"]
            self.matched.set()


async def stream(transport: WSTransport, me: Client, payload: bytes, stop: asyncio.Event) -> None:
    peer = me.peer
    assert peer is not None
    while not stop.is_set():
        while me.sent - peer.received < WINDOW:
            transport.send(WSMsgType.TEXT, payload)
            me.sent += 1
        me.wakeup.clear()
        await me.wakeup.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def connect_pairs(server: RunningServer, pairs: int) -> list[tuple[WSTransport, Client]]:
    users = await signed_in_users(server, pairs * 2)
    senders: list[tuple[WSTransport, Client]] = []
    join = b'{"type":"join-queue","chainId":1}'
    for a, b in zip(users[::2], users[1::2], strict=True):
        ta, ca = await ws_connect(Client, server.ws_url, extra_headers=a.bearer)
        tb, cb = await ws_connect(Client, server.ws_url, extra_headers=b.bearer)
        await asyncio.sleep(0.01)  # let "connected" arrive before joining
        ta.send(WSMsgType.TEXT, join)
        await asyncio.sleep(0.005)
        tb.send(WSMsgType.TEXT, join)
        await asyncio.wait_for(asyncio.gather(ca.matched.wait(), cb.matched.wait()), 10)
        ca.peer, cb.peer = cb, ca
        senders.append((ta, ca) if ca.initiator else (tb, cb))
    for user in users:
        await user.http.aclose()
    return senders


async def measure(server: RunningServer, pairs: int, seconds: float, size: int) -> dict[str, Any]:
    senders = await connect_pairs(server, pairs)
    stop = asyncio.Event()
    tasks = []
    for transport, client in senders:
        pad = "x" * max(0, size - 90)
        body = {"type": "ice-candidate", "sessionId": client.session_id, "data": {"candidate": pad}}
        payload = json.dumps(body).encode()
        tasks.append(asyncio.create_task(stream(transport, client, payload, stop)))
    await asyncio.sleep(1.0)  # warm-up
    received = lambda: sum(c.peer.received for _, c in senders if c.peer)  # noqa: E731
    count0, cpu0, t0 = received(), cpu_seconds(server.process.pid), time.perf_counter()
    await asyncio.sleep(seconds)
    count1, cpu1, t1 = received(), cpu_seconds(server.process.pid), time.perf_counter()
    stop.set()
    for _, client in senders:
        client.wakeup.set()
    await asyncio.gather(*tasks)
    relayed = count1 - count0
    return {
        "relayed_msgs": relayed,
        "wall_seconds": round(t1 - t0, 3),
        "server_cpu_seconds": round(cpu1 - cpu0, 3),
        "msgs_per_second": round(relayed / (t1 - t0)),
        "msgs_per_server_cpu_second": round(relayed / max(cpu1 - cpu0, 1e-9)),
        "payload_bytes": len(payload),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=200, help="approximate bytes per message")
    args = parser.parse_args()
    env = {"WS_RATE_BURST": "1000000", "WS_RATE_PER_SECOND": "1000000", "LOG_LEVEL": "warning"}
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp), env) as server:
        os.sched_setaffinity(server.process.pid, {0})  # the server gets one core
        if os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
            os.sched_setaffinity(0, {1})  # the client the other
        result = asyncio.run(measure(server, args.pairs, args.seconds, args.size))
    result.update(
        benchmark="relay",
        implementation="roulette (picows gateway)",
        pairs=args.pairs,
        python=platform.python_version(),
        cpus=os.cpu_count(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
