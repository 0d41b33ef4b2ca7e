"""``roulette lab reliability``: each fault under ``roulette loadtest`` load, with probes that
check the invariants, durable records looked for afterwards, and the recovery time measured.

Per fault: start the load and the probes, write the durable records, inject the fault, undo it
after :data:`HOLD_SECONDS` (restart what was stopped), and run canary rounds until three in a row
succeed. *Recovery* is from the injection to the first success of that streak (users can sign in,
meet and talk through the balancer again); *healed* is from the injection until every part of the
lab is healthy again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from roulette.errors import Unavailable
from roulette.lab import chaos, durable, topology
from roulette.lab.invariants import check
from roulette.lab.lifecycle import base_env
from roulette.lab.pinned import pinned_probes, summarize
from roulette.lab.probe import ProbeUser, canary_round
from roulette.lab.report import FaultRow, merge_document, render_table
from roulette.lab.state import LabState, load, save
from roulette.loadtest.client import ServerInfo, discover
from roulette.loadtest.wallet import Wallet

__all__ = ["HOLD_SECONDS", "randomness", "run_fault", "run_reliability"]

WARMUP_SECONDS = 8.0
HOLD_SECONDS = 5.0
"""How long a fault stays before the lab undoes it."""
AFTER_SECONDS = 5.0
RECOVERY_LIMIT = 180.0
CANARY_TIMEOUT = 4.0
"""Seconds a canary round may take (one takes well under a second). A round whose message was
lost in the fault waits this long before the next starts, so it bounds how far late the
measured recovery may be: 8 s made a Redis failover healed at 5.6 s measure 12.3 s."""
STREAK = 3
PROBE_USERS = 4
CANARY_CHAIN = topology.CANARY_CHAIN_ID

Say = Callable[[str], None]

NOT_MEASURED = """
## Not measured

- The live partition test (`LAB_PARTITION_TEST=1 pytest tests/lab/test_partition_live.py`) is
  opt-in: it failed in its first full-suite run (a node2 socket dropped while node1 was cut
  off in 2 of ~17 earlier runs; the lab's probe sometimes leaks a socket cut mid-handshake).
- **partition-node** runs only on a lab started with `roulette lab up --netns` (each node in its
  own network namespace); on any other lab its row says it was skipped.
- The soak (`roulette lab reliability --faults '' --soak 30`) is not run in CI; its section
  above is the output of its last run (a run of the faults alone keeps it, and vice versa).
"""


def run_reliability(
    directory: Path, environment: Mapping[str, str], args: argparse.Namespace, say: Say
) -> int:
    """Run every requested fault against the lab in ``directory``; write the table."""
    state = load(directory.resolve())
    env = base_env(environment)
    logging.getLogger("picows").setLevel(logging.WARNING)  # a line per probe connection
    rows = []
    for fault in [f.strip() for f in args.faults.split(",") if f.strip()]:
        say(f"== {fault}")
        row = asyncio.run(
            run_fault(state, env, fault, users=args.users, load_seconds=60.0, say=say)
        )
        say(f"   {row.summary()}")
        for violation in row.verdict.violations if row.verdict is not None else []:
            say(f"   violation: {violation}")
        rows.append(row)
        save(state)
        if row.healed is None and not row.skipped_because:
            say("   the lab did not heal: the faults after this one would measure nothing")
            break
    faults = render_table(rows, state, load_average=os.getloadavg()) if rows else None
    soak = None
    if args.soak > 0:
        from roulette.lab.soak import render_soak, run_soak  # noqa: PLC0415

        soak = render_soak(run_soak(state, args.soak, args.users, say))
    output = Path(args.output)
    old = output.read_text() if output.exists() else ""
    output.write_text(merge_document(old, faults, soak, NOT_MEASURED))
    say(f"wrote {output}")
    return 0 if all(row.passed for row in rows) else 1


@dataclass
class _Run:
    number: int = 0
    """This fault run's number on the lab (see :func:`randomness`)."""
    probes: list[ProbeUser] = field(default_factory=list)
    canary_failures: int = 0
    pinned: dict[str, list[ProbeUser]] = field(default_factory=dict)
    """Node name → users pinned to it (partition-node: the cut node first)."""
    injected_at: float = 0.0
    undone_at: float = 0.0
    healed_at: float = 0.0
    """Wall-clock times of the injection, of its undoing (a partition healed) and of the whole
    lab being healthy again."""


def randomness(fault: str, role: str, run: int = 0) -> random.Random:
    """The reproducible randomness of one ``role`` in the ``run``-th fault run on a lab
    ("users": the seeded records' and the probes' wallets; "canaries"). Each role has its own
    stream: a canary drawing the probes' wallets signed in as a live probe (closing its
    socket, 4002) or as the banned wallet (failing by design), which inflated every recovery
    time. Each run has its own too: a second run seeding the same ban was refused (409)."""
    return random.Random(f"{fault}/{role}/{run}")


async def run_fault(
    state: LabState,
    env: Mapping[str, str],
    fault: str,
    *,
    users: int,
    load_seconds: float,
    say: Say,
) -> FaultRow:
    """One fault under load; returns its row of the table."""
    if fault == "restart-postgres" and state.postgres.mode != "throwaway":
        return FaultRow.skipped(fault, "the lab uses the machine's PostgreSQL, never restarted")
    if fault == "partition-node" and not state.bridge_address:
        return FaultRow.skipped(fault, "the lab runs without --netns: no namespace to cut off")
    url = state.app_url
    state.faults_run += 1
    save(state)
    rng = randomness(fault, "users", state.faults_run)
    run = _Run(number=state.faults_run)
    report = state.path / "reliability" / f"{fault}.json"
    load_proc = await _start_load(url, users, load_seconds, report)
    try:
        seeded = await durable.seed(url, state.secrets["admin"], rng)
        async with asyncio.TaskGroup() as tasks, httpx.AsyncClient(timeout=30.0) as http:
            info = await discover(http, url)
            probe_info = ServerInfo(
                info.http_url, info.ws_url, info.domain, topology.PROBE_CHAIN_ID
            )
            for _ in range(PROBE_USERS):
                probe = ProbeUser(probe_info, Wallet.generate(rng))
                run.probes.append(probe)
                tasks.create_task(probe.run(http))
            if fault == "partition-node":  # node1 is cut off; node2's users must not notice
                for node in state.nodes[:2]:
                    run.pinned[node.name] = pinned_probes(state, probe_info, node.name, rng)
                    for probe in run.pinned[node.name]:
                        tasks.create_task(probe.run(http))
            await asyncio.sleep(WARMUP_SECONDS)
            row = await _inject_and_recover(state, env, fault, run, say=say)
            await asyncio.sleep(AFTER_SECONDS)
            await _after_heal(run)
            for probe in _all(run):
                probe.stop.set()
        row.lost = await durable.verify(url, state.secrets["admin"], state.postgres.url, seeded)
    finally:
        row_load = await _finish_load(load_proc, load_seconds, report)
    row.load = row_load
    logs = [log for probe in _all(run) for log in probe.logs]
    row.verdict = check(logs, [v for probe in _all(run) for v in probe.violations])
    row.canary_failures = run.canary_failures
    window = (run.injected_at, run.undone_at or run.healed_at, run.healed_at)
    row.pinned = [
        summarize(name, index == 0, probes, window)
        for index, (name, probes) in enumerate(run.pinned.items())
    ]
    return row


def _all(run: _Run) -> list[ProbeUser]:
    return [*run.probes, *(p for probes in run.pinned.values() for p in probes)]


async def _after_heal(run: _Run) -> None:
    """Let the probes go on for :data:`AFTER_SECONDS`; users pinned to a partitioned node get
    up to :data:`RECOVERY_LIMIT` to meet again (their sockets may have to reconnect)."""
    await asyncio.sleep(AFTER_SECONDS)
    cut = next(iter(run.pinned.values()), [])
    deadline = time.monotonic() + RECOVERY_LIMIT
    while cut and time.monotonic() < deadline:
        if any(log.started >= run.healed_at for probe in cut for log in probe.logs):
            return
        await asyncio.sleep(0.5)


async def _inject_and_recover(
    state: LabState, env: Mapping[str, str], fault: str, run: _Run, *, say: Say
) -> FaultRow:
    started = time.monotonic()
    run.injected_at = time.time()
    injected = await asyncio.to_thread(chaos.inject_fault, state, env, fault, None)
    say(f"   {injected.description}")

    unhealed: list[str] = []

    def undo() -> float | None:
        """Seconds from the fault until the whole lab is healthy again (None: it never was)."""
        if injected.heal is not None:  # restart what was stopped after the hold
            time.sleep(HOLD_SECONDS)
        run.undone_at = time.time()  # heal_and_wait undoes the fault first, then waits
        try:
            chaos.heal_and_wait(state, injected)
        except Unavailable as exc:  # a row that says so, not a traceback that ends the run
            unhealed.append(exc.message)
            return None
        run.healed_at = time.time()
        return time.monotonic() - started

    healing = asyncio.create_task(asyncio.to_thread(undo))
    canaries = randomness(fault, "canaries", run.number)
    recovery = await _recovery(state.app_url, started, run, canaries)
    healed = await healing
    description = "<br>".join([injected.description, *unhealed])
    return FaultRow(fault, description, recovery, healed)


async def _recovery(url: str, started: float, run: _Run, rng: random.Random) -> float | None:
    """Seconds from ``started`` to the first success of :data:`STREAK` successful canaries."""
    streak_start: float | None = None
    streak = 0
    while time.monotonic() - started < RECOVERY_LIMIT:
        if await canary_round(url, CANARY_CHAIN, rng, CANARY_TIMEOUT):
            if streak == 0:
                streak_start = time.monotonic() - started
            streak += 1
            if streak >= STREAK:
                return streak_start
        else:
            run.canary_failures += 1
            streak = 0
            await asyncio.sleep(0.2)
    return None


async def _start_load(
    url: str, users: int, seconds: float, report: Path
) -> asyncio.subprocess.Process:
    report.parent.mkdir(parents=True, exist_ok=True)
    duration = seconds
    argv = [sys.executable, "-m", "roulette", "loadtest", "--url", url, "--users", str(users)]
    argv += ["--ramp", "5", "--duration", str(duration), "--no-live", "--seed", "14"]
    argv += ["--think-min", "1", "--think-max", "4", "--output", str(report)]
    return await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


async def _finish_load(
    process: asyncio.subprocess.Process, seconds: float, report: Path
) -> dict[str, object]:
    """Stop the load (it may still be running) and read its report."""
    try:
        async with asyncio.timeout(seconds + 120.0):
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()
    try:
        data = json.loads(await asyncio.to_thread(report.read_text))
    except (OSError, ValueError):
        return {"errors": "no report"}
    totals = data.get("totals", {})
    return {
        "logins": totals.get("logins", 0),
        "matches": totals.get("matches", 0),
        "relayed": totals.get("relayed_msgs", 0),
        "errors": data.get("errors", 0),
        "errors_by_kind": data.get("errors_by_kind", {}),
    }
