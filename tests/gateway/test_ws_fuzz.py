"""Issue 10, item 5: a Hypothesis-driven WebSocket fuzzer against a real ``roulette serve``.

Each example is a short plan of hostile frames — malformed JSON, JSON nested thousands deep,
messages over 64 KiB, invalid UTF-8, fragmented messages (split anywhere, orphan or
interleaved continuations), binary frames, RSV bits — sent by a raw client on a fresh socket.
After each example the invariants hold: the server process is alive, it never closed a
socket with 1011 ("our fault"), and another, honest pair keeps relaying chat both ways.
At the end the server log holds no traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picows import WSMsgType

from support.raw_ws import RawSocket, close_all_raw, open_raw
from support.server import RunningServer, running_server
from support.users import User, signed_in_users

Frame = tuple[WSMsgType, bytes, bool, bool]
"""(opcode, payload, fin, rsv1)"""

EXAMPLES = 60
ATTACKERS = 8
TEXT, BINARY, CONT = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION

_TYPES = [
    "join-queue",
    "leave-queue",
    "offer",
    "answer",
    "ice-candidate",
    "chat",
    "next",
    "end-session",
    "heartbeat",
    "reconnect",
    "no-such-type",
]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_message = st.fixed_dictionaries(
    {"type": st.sampled_from(_TYPES)},
    optional={
        "sessionId": st.text(max_size=80),
        "data": _json,
        "text": st.text(max_size=2100),
        "chainId": st.integers(),
        "preferences": _json,
        "resumeToken": st.text(max_size=600),
        "queue": _json,
    },
).map(lambda m: json.dumps(m).encode())
_deep = st.integers(30, 3000).map(
    lambda d: b'{"type":"offer","sessionId":"s","data":' + b"[" * d + b"]" * d + b"}"
)
_huge = st.integers(65_500, 70_000).map(lambda n: b'{"type":"heartbeat","pad":"' + b"x" * n + b'"}')
_bad_utf8 = st.tuples(
    _message,
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88"]),
    st.integers(0, 10_000),
).map(lambda t: t[0][: t[2] % (len(t[0]) + 1)] + t[1] + t[0][t[2] % (len(t[0]) + 1) :])
_garbage = st.binary(max_size=300)
_payload = st.one_of(_message, _deep, _huge, _bad_utf8, _garbage)


def _fragments(payload: bytes, cuts: list[int]) -> list[Frame]:
    points = sorted({c % (len(payload) + 1) for c in cuts})
    pieces = [payload[a:b] for a, b in zip([0, *points], [*points, len(payload)], strict=True)]
    frames: list[Frame] = [(CONT, piece, False, False) for piece in pieces]
    frames[0] = (TEXT, pieces[0], False, False)
    frames[-1] = (frames[-1][0], pieces[-1], True, False)
    return frames


_plan_step = st.one_of(
    _payload.map(lambda p: [(TEXT, p, True, False)]),
    _message.map(lambda p: [(BINARY, p, True, False)]),
    _message.map(lambda p: [(TEXT, p, True, True)]),
    st.builds(
        _fragments, st.one_of(_message, _bad_utf8), st.lists(st.integers(0, 5000), max_size=4)
    ),
    _message.map(lambda p: [(CONT, p, True, False)]),  # a continuation with nothing to continue
    _message.map(lambda p: [(TEXT, p[:5], False, False), (TEXT, p, True, False)]),  # interleaved
)
plans = st.lists(_plan_step, min_size=1, max_size=4).map(
    lambda steps: [f for s in steps for f in s]
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Many examples reuse a few wallets: their handshake budget is not what is under test.
    env = {"WS_HANDSHAKE_WALLET_BURST": "100000", "RECONNECT_GRACE_SECONDS": "0"}
    with running_server(tmp_path_factory.mktemp("fuzz"), env) as server:
        yield server


class Harness:
    """The honest pair, the attacker wallets, and what every example checks afterwards."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.honest: tuple[User, User] | None = None
        self.session = ""
        self.attackers: list[User] = []
        self.round = 0
        self.close_codes: list[int | None] = []

    async def start(self) -> None:
        a, b, *attackers = await signed_in_users(self.server, 2 + ATTACKERS)
        self.attackers = attackers
        await a.connect()
        await b.connect()
        await a.join()
        await b.join()
        self.session = str((await a.expect("match-found"))["sessionId"])
        await b.expect("match-found")
        self.honest = (a, b)

    async def attack(self, plan: list[Frame]) -> None:
        self.round += 1
        attacker = self.attackers[self.round % len(self.attackers)]
        raw = await open_raw(self.server.ws_url, attacker.bearer)
        for kind, payload, fin, rsv1 in plan:
            if raw.closed.is_set():
                break
            raw.send(kind, payload, fin=fin, rsv1=rsv1)
        await self._settle(raw)
        self.close_codes.append(raw.close_code)
        await close_all_raw()

    async def _settle(self, raw: RawSocket) -> None:
        """Wait until the server answered a heartbeat after the plan, or closed the socket."""
        if not raw.closed.is_set():
            raw.send(TEXT, b'{"type":"heartbeat"}', fin=True, rsv1=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not raw.closed.is_set() and loop.time() < deadline:
            try:
                message = await raw.recv(timeout=0.5)
            except TimeoutError:
                continue  # an unfinished fragmented message: the heartbeat is inside it
            if message["type"] == "heartbeat-ack":
                return

    async def check_invariants(self) -> None:
        assert self.server.process.poll() is None, "the server died"
        assert 1011 not in self.close_codes, f"a socket was closed 1011: {self.close_codes}"
        assert self.honest is not None
        for sender, receiver in (self.honest, self.honest[::-1]):
            text = f"still here {self.round}"
            await sender.send({"type": "chat", "sessionId": self.session, "text": text})
            while (message := await receiver.recv(timeout=5))["type"] != "chat":
                pass
            assert message["text"] == text


@pytest.mark.timeout(240)
def test_hostile_frames_never_crash_the_server_nor_disturb_another_pair(
    fuzz_server: RunningServer, tmp_path: Path
) -> None:
    with asyncio.Runner() as runner:
        harness = Harness(fuzz_server)
        runner.run(harness.start())

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(plan=plans)
        def fuzz(plan: list[Frame]) -> None:
            runner.run(harness.attack(plan))
            runner.run(harness.check_invariants())

        try:
            fuzz()
        finally:
            for user in (*(harness.honest or ()), *harness.attackers):
                runner.run(user.close())
    log = fuzz_server.log()
    at = log.find("Traceback")
    assert at < 0, log[max(0, at - 1000) : at + 5000]
    assert harness.round >= EXAMPLES // 2
