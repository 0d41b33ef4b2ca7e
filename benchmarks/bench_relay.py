"""Relay throughput between paired sockets: one ``roulette serve`` process vs Node.js ``ws``.

Ours: start a real server, sign in 2×PAIRS real wallets (EIP-4361 over HTTP), pair them through
the real queue over picows client sockets. The reference: benchmarks/node/relay.js (~30 lines
of Node ``ws``, installed with ``npm ci`` when missing), which pairs sockets in arrival order
and tells each side ``match-found`` the same way. From there (bulk shape below) it is the same for
both: every initiator streams the same ``ice-candidate`` messages to its peer with a bounded
window in flight while the peers count what arrives. The server is pinned to core 0, the client
to core 1. Reports relayed messages/s and per second of server CPU time (from /proc, all
threads), so the figure is "per server core" even when the client shares the machine, and the
ratio ours / Node. Prints one JSON object.

Our server does more per message than the reference: it validates and decodes each message,
checks the session, and sends it on with the sender's address (``from``) added.

Two shapes (``--shape``), each a row with ours, Node's and the ratio:

- ``bulk``: PAIRS pairs (50), every initiator keeps a window of 64 messages in flight; the
  per-socket rate limit (20/s by default) is lifted for the run: this measures the relay path
  at its fastest, not the limiter. Both servers up at once, windows alternating as below.
- ``paced`` (issue 15): PACED_PAIRS pairs (2,000: 4,000 signed-in wallets for ours), every
  socket of every pair sends its peer RATE (10) ICE candidates a second, the rate limiter left
  on, as browsers trickling candidates do. Few messages arrive together, so each one pays its
  own wake-up, read and write. The sockets are spread over CLIENTS processes of
  ``benchmarks/_fleet.py`` on the client core(s) per server; the report says how far their
  pacing fell behind its schedule at worst (``client_behind_seconds``), i.e. whether the
  client kept the offered rate. Both servers are up at once and their windows alternate
  (ROUNDS each: ours, Node, ours, ...), so a shared machine's changing load weighs on both
  alike; each side's figure is the median of its windows, the ratio the median of the rounds'.

Usage: ``python benchmarks/bench_relay.py [--shape bulk|paced|both] [--pairs 50]
[--paced-pairs 2000] [--rate 10] [--clients 4] [--rounds 3] [--seconds 10]
[--target both|roulette|node] [--profile FILE] [--variant JSON]`` (``--profile``: py-spy
samples of our server during its first timed window of each shape, collapsed stacks (FILE,
with the shape's name before its suffix when both run), and the top functions in the report;
``--variant``, bulk shape: also measure our server with these keyword arguments forced onto
picows' ``ws_create_server``, e.g. ``'{"use_aiofastnet": false}'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _fleet import Fleet
from _harness import client_cpus, cpu_seconds, machine, node_server, roulette_server, server_cpu
from _profile import Profiler
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from support.server import RunningServer
from support.users import signed_in_users

WINDOW = 64
"""Messages one sender keeps in flight (a browser trickling ICE candidates does the same)."""
JOIN = b'{"type":"join-queue","chainId":1}'
CLIENTS = client_cpus()

Pair = tuple[WSTransport, "Client"]


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
    """Keep WINDOW messages in flight to the peer until ``stop``."""
    peer = me.peer
    assert peer is not None
    while not stop.is_set():
        while me.sent - peer.received < WINDOW:
            transport.send(WSMsgType.TEXT, payload)
            me.sent += 1
        me.wakeup.clear()
        await me.wakeup.wait()


async def _pair(url: str, headers: tuple[dict[str, str], dict[str, str]], join: bool) -> Pair:
    """Connect two sockets, get them matched, return the initiator's side."""
    ta, ca = await ws_connect(Client, url, extra_headers=headers[0])
    await asyncio.sleep(0.01)  # a arrives first (the Node reference pairs in arrival order)
    tb, cb = await ws_connect(Client, url, extra_headers=headers[1])
    if join:
        await asyncio.sleep(0.01)  # let "connected" arrive before joining
        ta.send(WSMsgType.TEXT, JOIN)
        await asyncio.sleep(0.005)
        tb.send(WSMsgType.TEXT, JOIN)
    await asyncio.wait_for(asyncio.gather(ca.matched.wait(), cb.matched.wait()), 10)
    ca.peer, cb.peer = cb, ca
    return (ta, ca) if ca.initiator else (tb, cb)


async def roulette_pairs(server: RunningServer, pairs: int) -> list[Pair]:
    """Real wallets signed in over HTTP, paired through the real queue."""
    users = await signed_in_users(server, pairs * 2)
    senders = [
        await _pair(server.ws_url, (a.bearer, b.bearer), join=True)
        for a, b in zip(users[::2], users[1::2], strict=True)
    ]
    for user in users:
        await user.http.aclose()
    return senders


async def node_pairs(url: str, pairs: int) -> list[Pair]:
    """Anonymous sockets the Node reference pairs in arrival order."""
    return [await _pair(url, ({}, {}), join=False) for _ in range(pairs)]


def _payload(client: Client, size: int) -> bytes:
    pad = "x" * max(0, size - 90)
    body = {"type": "ice-candidate", "sessionId": client.session_id, "data": {"candidate": pad}}
    return json.dumps(body).encode()


async def bulk_window(
    senders: list[Pair], pid: int, args: argparse.Namespace, profiler: Profiler | None = None
) -> dict[str, Any]:
    """Stream for ``args.seconds`` after a 1 s warm-up; count what the peers received. The
    pairs stay open (the next window streams on them again)."""
    stop = asyncio.Event()
    payloads = [_payload(client, args.size) for _, client in senders]
    async with asyncio.TaskGroup() as tasks:
        for (transport, client), payload in zip(senders, payloads, strict=True):
            tasks.create_task(stream(transport, client, payload, stop))
        await asyncio.sleep(1.0)  # warm-up
        received = lambda: sum(c.peer.received for _, c in senders if c.peer)  # noqa: E731
        if profiler is not None:
            profiler.start(pid, args.seconds)
        count0, cpu0, t0 = received(), cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(args.seconds)
        count1, cpu1, t1 = received(), cpu_seconds(pid), time.perf_counter()
        stop.set()
        for _, client in senders:
            client.wakeup.set()
    await _drained(senders)
    relayed = count1 - count0
    return {
        "relayed_msgs": relayed,
        "wall_seconds": round(t1 - t0, 3),
        "server_cpu_seconds": round(cpu1 - cpu0, 3),
        "msgs_per_second": round(relayed / (t1 - t0)),
        "msgs_per_server_cpu_second": round(relayed / max(cpu1 - cpu0, 1e-9)),
        "payload_bytes": len(payloads[0]),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


async def _drained(senders: list[Pair], limit: float = 10.0) -> None:
    """Wait until what is in flight arrived, so the next window (maybe the other server's)
    does not pay for this one's tail."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(  # noqa: ASYNC110 - counters, not an event
        c.peer is not None and c.sent > c.peer.received for _, c in senders
    ):
        await asyncio.sleep(0.05)


def paced_window(
    fleet: Fleet, pid: int, args: argparse.Namespace, profiler: Profiler | None
) -> dict[str, Any]:
    """Pace the fleet's matched sockets for ``args.seconds`` after a 2 s warm-up."""
    fleet.pace(args.rate, args.size)
    time.sleep(2.0)  # warm-up: every phase of the schedule has sent
    if profiler is not None:
        profiler.start(pid, args.seconds)
    first, cpu0, t0 = fleet.count(), cpu_seconds(pid), time.perf_counter()
    time.sleep(args.seconds)
    last, cpu1, t1 = fleet.count("stop"), cpu_seconds(pid), time.perf_counter()
    relayed = last["received"] - first["received"]
    return {
        "sent_msgs_per_second": round((last["sent"] - first["sent"]) / (t1 - t0)),
        "client_behind_seconds": last["behind_seconds"],
        "client_errors": last["errors"],
        "relayed_msgs": relayed,
        "wall_seconds": round(t1 - t0, 3),
        "server_cpu_seconds": round(cpu1 - cpu0, 3),
        "msgs_per_second": round(relayed / (t1 - t0)),
        "msgs_per_server_cpu_second": round(relayed / max(cpu1 - cpu0, 1e-9)),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def paired(fleet: Fleet, args: argparse.Namespace) -> dict[str, Any]:
    """Get the fleet's sockets matched; how many and how long it took."""
    started = time.monotonic()
    matched, errors = fleet.pair()
    if matched < 2 * args.paced_pairs * 0.99:
        raise RuntimeError(f"only {matched} sockets matched: {errors}")
    return {
        "sockets": matched,
        "offered_msgs_per_second": round(matched * args.rate),
        "pairing_seconds": round(time.monotonic() - started, 1),
    }


PACED_ENV = {
    "AUTH_RATE_BURST": "1000000",
    "AUTH_RATE_PER_SECOND": "1000000",
    "WS_HANDSHAKE_IP_BURST": "1000000",
    "IDLE_TIMEOUT_SECONDS": "3600",
    "MAX_CONNECTIONS": "100000",
    # No shedding because of other people's CPU use on a shared machine (bench_capacity too).
    "AUTO_RECOVERY_ENABLED": "false",
    "SHED_LAG_MS": "60000",
}
"""Sign-ins and handshakes unthrottled (4,000 from a few addresses); the message rate limit
(WS_RATE_*) is left at its defaults."""


BULK_ENV = {"WS_RATE_BURST": "1000000", "WS_RATE_PER_SECOND": "1000000"}
"""The bulk shape measures the relay path at its fastest, not the limiter."""


def bulk_row(args: argparse.Namespace) -> dict[str, Any]:
    """The bulk shape: both servers up at once, their pairs open, ``args.rounds`` windows each
    alternating (ours, Node, ours, ...) as the paced shape does; medians and the median of the
    rounds' ratios. ``--variant`` adds our server with those picows arguments, measured apart.
    """
    with contextlib.ExitStack() as stack:
        servers: dict[str, Any] = {}
        if args.target in ("both", "roulette"):
            servers["roulette"] = stack.enter_context(roulette_server(BULK_ENV, cpus=server_cpu()))
        if args.target in ("both", "node"):
            servers["node_ws"] = stack.enter_context(node_server(cpus=server_cpu()))
        profiler = Profiler(_profile_path(args, "bulk")) if args.profile else None
        report = asyncio.run(_bulk_rounds(servers, args, profiler))
    if profiler is not None and "roulette" in servers:
        report["roulette"]["profile_top_self"] = profiler.finish()
    if args.variant:
        with roulette_server(BULK_ENV, gateway=args.variant, cpus=server_cpu()) as server:
            variant = asyncio.run(_bulk_rounds({"roulette": server}, args, None))
        report["roulette_variant"] = variant["roulette"] | {"gateway_variant": args.variant}
    return report


async def _bulk_rounds(
    servers: dict[str, Any], args: argparse.Namespace, profiler: Profiler | None
) -> dict[str, Any]:
    sides: dict[str, list[Pair]] = {}
    for name, server in servers.items():
        if name == "roulette":
            sides[name] = await roulette_pairs(server, args.pairs)
        else:
            sides[name] = await node_pairs(server.ws_url, args.pairs)
    windows: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, senders in sides.items():
            chosen = profiler if name == "roulette" and not windows[name] else None
            pid = servers[name].process.pid
            windows[name].append(await bulk_window(senders, pid, args, chosen))
    for senders in sides.values():
        for transport, client in senders:
            transport.disconnect()
            if client.peer is not None:
                client.peer.wakeup.set()
    report = _summary(windows)
    for name in windows:
        report[name] = {"implementation": _IMPLEMENTATIONS[name]} | report[name]
    return report


_IMPLEMENTATIONS = {
    "roulette": "roulette (picows gateway)",
    "node_ws": "node ws (benchmarks/node/relay.js)",
}


def _summary(windows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each side's median figure and its windows; with both sides, the median of the rounds'
    ratios (ours / Node's, window by window) and each round's."""
    report: dict[str, Any] = {}
    for name, rows in windows.items():
        figures = [row["msgs_per_server_cpu_second"] for row in rows]
        report[name] = {"msgs_per_server_cpu_second": round(statistics.median(figures))}
        report[name]["windows"] = rows
    if len(windows) == 2:
        ratios = [
            a["msgs_per_server_cpu_second"] / b["msgs_per_server_cpu_second"]
            for a, b in zip(windows["roulette"], windows["node_ws"], strict=True)
        ]
        report["ratio_ours_to_node"] = round(statistics.median(ratios), 3)
        report["ratio_per_round"] = [round(r, 3) for r in ratios]
    return report


def run_paced(args: argparse.Namespace) -> dict[str, Any]:
    """Both servers up at once, each with its fleet; ``args.rounds`` windows each, alternating
    (ours, Node, ours, ...), so the load of a shared machine weighs on both alike. Each side's
    figure is the median of its windows; the ratio is the median of the rounds' ratios."""
    targets = ["roulette", "node_ws"] if args.target == "both" else [_NAMES[args.target]]
    with contextlib.ExitStack() as stack:
        servers: dict[str, tuple[int, Fleet]] = {}
        report: dict[str, Any] = {}
        for name in targets:
            start = _start_ours if name == "roulette" else _start_node
            pid, fleet, report[name] = start(stack, args)
            servers[name] = (pid, fleet)
        for name, (_, fleet) in servers.items():
            report[name] |= paired(fleet, args)
        windows: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        profiler = Profiler(_profile_path(args, "paced")) if args.profile else None
        for _ in range(args.rounds):
            for name, (pid, fleet) in servers.items():
                chosen = profiler if name == "roulette" and not windows[name] else None
                windows[name].append(paced_window(fleet, pid, args, chosen))
        if profiler is not None and "roulette" in servers:
            report["roulette"]["profile_top_self"] = profiler.finish()
    summary = _summary(windows)
    for name in windows:
        report[name] |= summary.pop(name)
    return report | summary


_NAMES = {"roulette": "roulette", "node": "node_ws"}


def _start_ours(
    stack: contextlib.ExitStack, args: argparse.Namespace
) -> tuple[int, Fleet, dict[str, Any]]:
    """Our server, 2 × PACED_PAIRS wallets signed in, their sockets open."""
    ours = stack.enter_context(roulette_server(PACED_ENV, cpus=server_cpu()))
    fleet = Fleet(ours.http_url, ours.ws_url, processes=args.clients, cpus=CLIENTS)
    stack.callback(fleet.close)
    started = time.monotonic()
    tokens, errors = fleet.login(2 * args.paced_pairs)
    opened, errors = fleet.connect()
    if opened < tokens:
        raise RuntimeError(f"{opened} of {tokens} sockets opened: {errors}")
    return ours.process.pid, fleet, {"setup_seconds": round(time.monotonic() - started, 1)}


def _start_node(
    stack: contextlib.ExitStack, args: argparse.Namespace
) -> tuple[int, Fleet, dict[str, Any]]:
    """The Node reference, 2 × PACED_PAIRS anonymous sockets open (paired as they come)."""
    node = stack.enter_context(node_server(cpus=server_cpu()))
    fleet = Fleet("http://unused", node.ws_url, processes=args.clients, cpus=CLIENTS)
    stack.callback(fleet.close)
    started = time.monotonic()
    opened, errors = fleet.connect(2 * args.paced_pairs)
    if opened < 2 * args.paced_pairs:
        raise RuntimeError(f"{opened} sockets opened: {errors}")
    return node.process.pid, fleet, {"setup_seconds": round(time.monotonic() - started, 1)}


def _profile_path(args: argparse.Namespace, shape: str) -> Path:
    path = Path(args.profile)
    return path.with_stem(f"{path.stem}-{shape}") if args.shape == "both" else path


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("both", "bulk", "paced"), default="both")
    parser.add_argument("--pairs", type=int, default=50, help="pairs of the bulk shape")
    parser.add_argument("--paced-pairs", type=int, default=2000, help="pairs of the paced shape")
    parser.add_argument("--rate", type=float, default=10.0, help="paced: messages/s per socket")
    parser.add_argument("--clients", type=int, default=4, help="paced: client processes")
    parser.add_argument("--rounds", type=int, default=3, help="windows per server")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=200, help="approximate bytes per message")
    parser.add_argument("--target", choices=("both", "roulette", "node"), default="both")
    parser.add_argument("--profile", help="py-spy collapsed stacks of our server to this file")
    parser.add_argument("--variant", type=json.loads, help="ws_create_server kwargs to also try")
    args = parser.parse_args()
    if (cpus := client_cpus()) is not None:
        os.sched_setaffinity(0, cpus)  # the client on the other core(s)
    report: dict[str, Any] = {"benchmark": "relay"}
    if args.shape in ("both", "paced"):
        report["paced"] = {"pairs": args.paced_pairs, "rate": args.rate} | run_paced(args)
    if args.shape in ("both", "bulk"):
        report["bulk"] = {"pairs": args.pairs} | bulk_row(args)
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
