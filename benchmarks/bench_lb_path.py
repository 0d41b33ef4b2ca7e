"""The socket path behind HAProxy: WebSockets through HAProxy ("in-path") vs straight to a node.

Real components on loopback: one ``redis-server``, ``roulette serve`` nodes sharing it (and one
SQLite file and JWT keys), and ``roulette lb run`` (HAProxy 2.6, runtime-API-driven) in front.
Every sign-in goes through HAProxy in both topologies. "In-path": the socket is opened on
HAProxy's ``/ws``. "Direct": HAProxy carries HTTP only; the client asks ``GET /config``
through HAProxy and opens the ``websocketUrl`` the answering node hands out (its own gateway
listener; ``PUBLIC_WS_URL`` per node in production). Each topology is the other's reference,
measured in the same run. Three figures:

- **CPU per relayed message**: PAIRS pairs matched on one node stream ``ice-candidate``
  messages (the client of ``bench_relay``, 64 in flight per pair) for SECONDS after a 1 s
  warm-up; CPU time (user + system, all threads, /proc) of the node and of the HAProxy worker
  over that window, divided by the messages the peers received.
- **Memory per idle authenticated socket**: SOCKETS wallets sign in (a fleet of client
  processes, ``benchmarks/_fleet.py``), then open their sockets; RSS of the node and of the
  HAProxy worker before and after, per socket. Each topology gets a node that never held
  sockets before (a Python process keeps freed memory, so a reused node would under-count).
- **Failover**: a pair matched across two nodes; the node of one side is killed (SIGKILL).
  That client retries every 100 ms the way its topology allows (in-path: the same ``/ws``
  address; direct: ``GET /config`` through HAProxy, then the address it names) and sends
  ``reconnect`` with its resume token. Reported: when the client saw its socket close (and
  the close code), when HAProxy marked the node down, when the client was resumed, attempts.

The 1-minute load average is recorded with each figure: the machine may be shared.
Usage: ``python benchmarks/bench_lb_path.py [--pairs 20] [--seconds 5] [--sockets 1000]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _fleet import Fleet
from _harness import cpu_seconds, machine, rss_bytes, settle
from bench_relay import WINDOW, Client, _pair, _payload, stream
from picows import WSTransport
from websockets.exceptions import ConnectionClosed

from balancing.lb_fixtures import Balancer, node_env, running_balancer, stable_port
from storage.redis_fixtures import running_server as running_redis
from support.server import RunningServer, running_server
from support.users import User

PER_PROCESS = 2500
"""Client sockets per fleet process (a proxied socket costs HAProxy two descriptors)."""
NODE_ENV = {
    "WS_RATE_BURST": "1000000",  # the relay path, not the per-socket limiter
    "WS_RATE_PER_SECOND": "1000000",
    "AUTH_RATE_PER_SECOND": "1000000",
    "WS_HANDSHAKE_IP_PER_SECOND": "1000000",
    "IDLE_TIMEOUT_SECONDS": "3600",
    "RECONNECT_GRACE_SECONDS": "30",
    # A loaded shared machine lags every event loop: neither the load rule nor the monitor's
    # recovery may shed (503, agent "drain") what is being measured here.
    "SHED_LAG_MS": "1000000",
    "AUTO_RECOVERY_ENABLED": "false",
    "LOG_LEVEL": "warning",
}
LB_ENV = {"LB_CHECK_INTERVAL_MS": "2000", "LB_CHECK_FALL": "2", "LB_CHECK_RISE": "2"}
"""The production check cadence (the defaults): the tests' 300 ms checks with a 150 ms timeout
mark a node busy with sign-ins on a loaded machine down, and cut its sessions."""
RETRY_SECONDS = 0.1
FAILOVER_DEADLINE = 30.0
NOTICE_SECONDS = 10.0
"""How long a client of a frozen node is watched for a close before it is called unnoticed."""
LOGIN_ROUNDS = 3
SIGN_IN_SECONDS = 30.0


def worker_of(server: RunningServer) -> str:
    """A node's worker id (the name HAProxy knows it by, after ``n-``)."""
    return str(httpx.get(f"{server.http_url}/health/ready", timeout=5.0).json()["node"])


def load() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


class Bench:
    """The running pieces: Redis, the balancer, and a way to start more nodes."""

    def __init__(self, stack: contextlib.ExitStack, root: Path) -> None:
        self.stack, self.root = stack, root
        redis = stack.enter_context(running_redis(root / "redis"))
        self.lb_port = stable_port()
        self.domain = f"127.0.0.1:{self.lb_port}"
        database = f"sqlite+aiosqlite:///{root / 'shared.db'}"
        self.env = node_env(redis.url, self.lb_port, database, **NODE_ENV)
        self.nodes: dict[str, RunningServer] = {}
        self.node()  # the balancer needs one registered node to start with
        lb_env = {"LB_ALGORITHM": "round-robin", **LB_ENV}
        self.balancer: Balancer = stack.enter_context(
            running_balancer(root / "lb", redis.url, self.lb_port, lb_env)
        )
        self.wait_up()

    def node(self) -> tuple[str, RunningServer]:
        """Start one more node (stopped with the bench)."""
        index = len(self.nodes)
        started = running_server(self.root / f"node{index}", self.env, startup_timeout=120)
        server = self.stack.enter_context(started)
        name = f"n-{worker_of(server)}"
        self.nodes[name] = server
        return name, server

    def live(self) -> dict[str, RunningServer]:
        return {n: s for n, s in self.nodes.items() if s.process.poll() is None}

    def wait_up(self) -> None:
        if hasattr(self, "balancer"):
            self.balancer.wait_servers(dict.fromkeys(self.live(), "UP"), 60.0)

    def haproxy_pid(self) -> int:
        """The HAProxy worker (the master only supervises it)."""
        info = self.balancer.command("show info")
        return int(next(ln for ln in info.splitlines() if ln.startswith("Pid:")).split()[1])

    async def ws_url_for(self, wanted: RunningServer) -> str:
        """Direct topology: ``GET /config`` through HAProxy until ``wanted`` answers."""
        async with httpx.AsyncClient(base_url=self.balancer.url, timeout=10.0) as http:
            for _ in range(20):
                url = str((await http.get("/config")).json()["websocketUrl"])
                if url == wanted.ws_url:
                    return url
        raise RuntimeError(f"/config never named {wanted.ws_url}")


async def sign_in_all(users: list[User]) -> None:
    """Sign every user in; a sign-in refused while the node is marked down (HAProxy's 503) or
    by a loaded machine (502) is tried again, for up to SIGN_IN_SECONDS."""

    async def one(user: User) -> None:
        deadline = time.monotonic() + SIGN_IN_SECONDS
        while True:
            try:
                await user.sign_in()
                return
            except (httpx.HTTPError, ValueError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(u) for u in users))


def check_downs(balancer: Balancer) -> dict[str, int]:
    """How often HAProxy's checks marked each server of the ``http`` backend down so far."""
    rows = balancer.command("show stat").splitlines()
    header = rows[0].lstrip("# ").split(",")
    found = {}
    for row in rows[1:]:
        fields = dict(zip(header, row.split(","), strict=False))
        if fields.get("pxname") == "http" and fields["svname"] not in {"BACKEND", "FRONTEND"}:
            found[fields["svname"]] = int(fields.get("chkdown") or 0)
    return found


# --- CPU per relayed message ------------------------------------------------------------------


async def relay(bench: Bench, node: RunningServer, ws_url: str, args: argparse.Namespace) -> Any:
    """Stream between PAIRS pairs on ``ws_url``; CPU of the node and HAProxy per message."""
    users = [User(bench.balancer.url, ws_url, bench.domain) for _ in range(2 * args.pairs)]
    await sign_in_all(users)
    senders: list[tuple[WSTransport, Client]] = []
    for a, b in zip(users[::2], users[1::2], strict=True):
        senders.append(await _pair(ws_url, (a.bearer, b.bearer), join=True))
    for user in users:
        await user.http.aclose()
    stop = asyncio.Event()
    payloads = [_payload(client, args.size) for _, client in senders]
    pids = {"node": node.process.pid, "haproxy": bench.haproxy_pid()}
    async with asyncio.TaskGroup() as tasks:
        for (transport, client), payload in zip(senders, payloads, strict=True):
            tasks.create_task(stream(transport, client, payload, stop))
        await asyncio.sleep(1.0)  # warm-up
        received = lambda: sum(c.peer.received for _, c in senders if c.peer)  # noqa: E731
        count0, t0 = received(), time.perf_counter()
        cpu0 = {k: cpu_seconds(pid) for k, pid in pids.items()}
        await asyncio.sleep(args.seconds)
        cpu1 = {k: cpu_seconds(pid) for k, pid in pids.items()}
        count1, t1 = received(), time.perf_counter()
        stop.set()
        for _, client in senders:
            client.wakeup.set()
    for transport, client in senders:
        transport.disconnect()
        if client.peer is not None:
            client.peer.wakeup.set()
    relayed = count1 - count0
    cpu = {k: cpu1[k] - cpu0[k] for k in pids}
    return {
        "ws_url": ws_url,
        "pairs": args.pairs,
        "window": WINDOW,
        "payload_bytes": len(payloads[0]),
        "relayed_msgs": relayed,
        "wall_seconds": round(t1 - t0, 3),
        "msgs_per_second": round(relayed / (t1 - t0)),
        "cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
        "cpu_us_per_msg": {k: round(v / max(relayed, 1) * 1e6, 2) for k, v in cpu.items()},
        "cpu_us_per_msg_total": round(sum(cpu.values()) / max(relayed, 1) * 1e6, 2),
        "load_average_1min": load(),
    }


# --- memory per idle socket -------------------------------------------------------------------


def idle_memory(bench: Bench, node: RunningServer, ws_url: str, sockets: int) -> dict[str, Any]:
    """RSS of ``node`` and of HAProxy per idle authenticated socket opened on ``ws_url``."""
    processes = max(2, math.ceil(sockets / PER_PROCESS))
    fleet = Fleet(bench.balancer.url, ws_url, processes=processes)
    pids = {"node": node.process.pid, "haproxy": bench.haproxy_pid()}
    try:
        tokens, login_errors = 0, dict[str, int]()
        for _ in range(LOGIN_ROUNDS):  # a sign-in refused by a loaded machine is tried again
            tokens, failed = fleet.login(sockets - tokens)  # tokens held so far
            for kind, count in failed.items():
                login_errors[kind] = login_errors.get(kind, 0) + count
            if tokens >= sockets:
                break
        settle(2.0)
        before = {k: rss_bytes(pid) for k, pid in pids.items()}
        opened, errors = fleet.connect()
        settle(3.0)
        after = {k: rss_bytes(pid) for k, pid in pids.items()}
    finally:
        fleet.close()
    return {
        "ws_url": ws_url,
        "signed_in": tokens,
        "sockets": opened,
        "errors": {**login_errors, **errors},
        "rss_before_mib": {k: round(v / 2**20, 1) for k, v in before.items()},
        "rss_after_mib": {k: round(v / 2**20, 1) for k, v in after.items()},
        "kib_per_socket": {
            k: round((after[k] - before[k]) / max(opened, 1) / 1024, 2) for k in pids
        },
        "load_average_1min": load(),
    }


# --- failover ---------------------------------------------------------------------------------


async def _open_on(user: User, bench: Bench, wanted: RunningServer, in_path: bool) -> None:
    """Connect ``user`` so that its socket lands on ``wanted``."""
    if not in_path:
        user.ws_url = await bench.ws_url_for(wanted)
        await user.connect()
        return
    for _ in range(20):
        await user.connect()
        if user.ws is not None and user.ws.response is not None:
            if wanted.ws_port == _port_of(user, bench):
                return
            await user.ws.close()
    raise RuntimeError("the balancer never sent the socket to the wanted node")


def _port_of(user: User, bench: Bench) -> int:
    worker = user.worker
    for server in bench.nodes.values():
        if server.process.poll() is None and worker_of(server) == worker:
            return server.ws_port
    return -1


def _watch_down(
    balancer: Balancer, name: str, backend: str, t0: float, out: dict[str, Any]
) -> None:
    """Seconds after ``t0`` until HAProxy shows ``name`` DOWN (or removed) in ``backend``."""
    while time.monotonic() - t0 < FAILOVER_DEADLINE:
        with contextlib.suppress(OSError):
            status = balancer.servers(backend).get(name, "gone")
            if status.startswith(("DOWN", "gone", "MAINT")):
                out["haproxy_marked_down_s"] = round(time.monotonic() - t0, 3)
                out["haproxy_status"] = status
                return
        time.sleep(0.01)


async def _resume(user: User, bench: Bench, in_path: bool, token: str, session: str) -> int:
    """Retry until the session is resumed; returns the attempts it took."""
    attempts = 0
    while True:
        attempts += 1
        try:
            if not in_path:
                user.ws_url = str(
                    (await user.http.get("/config", timeout=2.0)).json()["websocketUrl"]
                )
            await user.connect(open_timeout=2.0)
            await user.send({"type": "reconnect", "sessionId": session, "resumeToken": token})
            if (await user.recv(timeout=2.0))["type"] == "session-resumed":
                return attempts
        except (OSError, TimeoutError, ConnectionClosed, httpx.HTTPError, AssertionError):
            pass
        if user.ws is not None:
            with contextlib.suppress(Exception):
                await user.ws.close()
        await asyncio.sleep(RETRY_SECONDS)


async def failover(bench: Bench, in_path: bool, freeze: bool) -> dict[str, Any]:
    """Kill (SIGKILL) or freeze (SIGSTOP: a host that stops answering but whose sockets stay
    open) the node of one side of a matched pair; time the other side's way back."""
    survivor = next(iter(bench.live().values()))
    doomed_name, doomed = await asyncio.to_thread(bench.node)
    await asyncio.to_thread(bench.wait_up)
    ws_url = bench.balancer.ws_url
    a, b = (User(bench.balancer.url, ws_url, bench.domain) for _ in range(2))
    out: dict[str, Any] = {
        "topology": "in-path" if in_path else "direct",
        "failure": "frozen (SIGSTOP)" if freeze else "killed (SIGKILL)",
    }
    try:
        await sign_in_all([a, b])
        await _open_on(a, bench, doomed, in_path)
        await _open_on(b, bench, survivor, in_path)
        await a.join()
        await b.join()
        found = await a.expect("match-found", timeout=10)
        await b.expect("match-found", timeout=10)
        backend = "ws" if in_path else "http"
        doomed.process.send_signal(signal.SIGSTOP if freeze else signal.SIGKILL)
        t0 = time.monotonic()
        watcher = threading.Thread(
            target=_watch_down, args=(bench.balancer, doomed_name, backend, t0, out)
        )
        watcher.start()
        try:
            assert a.ws is not None
            try:
                await asyncio.wait_for(a.ws.wait_closed(), NOTICE_SECONDS)
            except TimeoutError:
                out["client_saw_close_s"] = None  # the client would wait on its own timeout
                out["note"] = f"no close within {NOTICE_SECONDS} s"
                return out
            out["client_saw_close_s"] = round(time.monotonic() - t0, 3)
            out["close_code"] = a.ws.close_code
            resume = _resume(a, bench, in_path, found["resumeToken"], found["sessionId"])
            out["attempts"] = await asyncio.wait_for(resume, FAILOVER_DEADLINE)
            out["resumed_s"] = round(time.monotonic() - t0, 3)
            await b.expect("session-resumed", timeout=10)
            await b.send({"type": "chat", "sessionId": found["sessionId"], "text": "back"})
            out["peer_message_after_resume"] = (await a.expect("chat", timeout=10))["text"]
        finally:
            watcher.join()
            doomed.process.kill()  # a frozen node too: SIGKILL needs no SIGCONT
            doomed.process.wait()
        return out
    finally:
        out["load_average_1min"] = load()
        await a.close()
        await b.close()


# --- the run ----------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_root() -> Iterator[Path]:
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        yield Path(tmp)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure, both topologies, one set of servers."""
    report: dict[str, Any] = {"benchmark": "lb_path"}
    with bench_root() as root, contextlib.ExitStack() as stack:
        bench = Bench(stack, root)
        (_, first), started = next(iter(bench.nodes.items())), time.monotonic()
        # In-path memory on the first node, while it has never held a socket.
        memory = {"in_path": idle_memory(bench, first, bench.balancer.ws_url, args.sockets)}
        bench.wait_up()
        direct_url = asyncio.run(bench.ws_url_for(first))  # what /config hands the client
        relay_direct = asyncio.run(relay(bench, first, direct_url, args))
        bench.wait_up()
        relay_in_path = asyncio.run(relay(bench, first, bench.balancer.ws_url, args))
        report["relay"] = {"direct": relay_direct, "in_path": relay_in_path}
        # Direct memory on a second node that never held a socket either.
        _, second = bench.node()
        bench.wait_up()
        url = asyncio.run(bench.ws_url_for(second))
        memory["direct"] = idle_memory(bench, second, url, args.sockets)
        report["idle_memory"] = memory
        if not args.no_failover:
            report["failover"] = [
                asyncio.run(failover(bench, in_path=path, freeze=freeze))
                for freeze in (False, True)
                for path in (True, False)
            ]
        report["check_downs"] = check_downs(bench.balancer)  # a busy node's checks time out
        report["measured_seconds"] = round(time.monotonic() - started, 1)
    report["in_path_over_direct"] = _ratios(report)
    return report


def _ratios(report: dict[str, Any]) -> dict[str, Any]:
    relay_ = report["relay"]
    total = relay_["in_path"]["cpu_us_per_msg_total"] / relay_["direct"]["cpu_us_per_msg_total"]
    haproxy_kib = report["idle_memory"]["in_path"]["kib_per_socket"]["haproxy"]
    return {
        "cpu_per_msg_total": round(total, 2),
        "haproxy_cpu_us_per_msg_added": round(
            relay_["in_path"]["cpu_us_per_msg"]["haproxy"]
            - relay_["direct"]["cpu_us_per_msg"]["haproxy"],
            2,
        ),
        "haproxy_kib_per_socket_added": round(
            haproxy_kib - report["idle_memory"]["direct"]["kib_per_socket"]["haproxy"], 2
        ),
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=200, help="approximate bytes per message")
    parser.add_argument("--sockets", type=int, default=1000, help="idle sockets per topology")
    parser.add_argument("--no-failover", action="store_true")
    args = parser.parse_args()
    report = run(args)
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
