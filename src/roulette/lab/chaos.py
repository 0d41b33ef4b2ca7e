"""``roulette lab chaos``: inject one fault into the running lab, and undo it (``heal``).

kill-node          SIGKILL a node's supervisor and workers   heal: start the node again
kill-worker        SIGKILL one worker of a node              heal: its supervisor respawns it
kill-redis-master  SIGKILL one Redis master                  heal: start it (rejoins as replica)
stop-redis         stop all six Redis nodes                  heal: start them again
restart-postgres   fast-restart the lab's throwaway cluster  (refused for the machine's server)
partition-node     cut a node off the network (``lab up --netns``)  heal: ``chaos heal``
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from roulette.errors import ConfigError, Unavailable
from roulette.lab import health, netns, postgres, redis_cluster
from roulette.lab.lifecycle import WAIT_SECONDS, base_env, start_node
from roulette.lab.processes import group_members, signal_group, stop_group, wait_gone
from roulette.lab.state import LabNode, LabState, load, save

__all__ = ["NEEDS_NETNS", "Injected", "heal_and_wait", "heal_partitions", "inject", "inject_fault"]

NEEDS_NETNS = (
    "partition-node needs a lab whose nodes run in their own network namespaces: this one "
    "runs them in the root namespace on 127.0.0.1, where there is no link to cut. Start it "
    "with `roulette lab down && roulette lab up --netns` (root, iproute2 and a throwaway "
    "PostgreSQL; everything stays on this machine)"
)


@dataclass
class Injected:
    """A fault in place: what was done, and how to undo it (``None``: it heals by itself)."""

    description: str
    heal: Callable[[], None] | None


def inject(
    directory: Path,
    environment: Mapping[str, str],
    fault: str,
    *,
    node: str | None,
    heal_after: float | None,
) -> str:
    """Inject ``fault`` into the lab in ``directory``; heal it after ``heal_after`` seconds."""
    state = load(directory.resolve())
    if fault == "heal":
        healed = heal_partitions(state, node)
        save(state)
        if not healed:
            return "nothing to heal: no node is partitioned"
        heal_and_wait(state, Injected("", None))
        return f"healed {', '.join(healed)}; every part healthy again"
    injected = inject_fault(state, base_env(environment), fault, node)
    save(state)
    if heal_after is None or injected.heal is None:
        return injected.description
    time.sleep(heal_after)
    heal_and_wait(state, injected)
    save(state)
    return f"{injected.description}; healed after {heal_after:g} s, every part healthy again"


def inject_fault(state: LabState, env: Mapping[str, str], fault: str, node: str | None) -> Injected:
    """Inject one fault now.

    Raises:
        ConfigError: an unknown fault, or one this lab must not inject (the machine's
            PostgreSQL is never restarted).
    """
    target = state.node(node) if node else state.nodes[0]
    if fault == "kill-node":
        members = _group(target.pid)
        signal_group(target.pid, signal.SIGKILL)
        wait_gone(members, 10.0)

        def restart_node() -> None:
            start_node(state, target, env)

        return Injected(f"killed {target.name} (pids {members})", restart_node)
    if fault == "kill-worker":
        pid = health.worker_pids(state, target)[0]
        os.kill(pid, signal.SIGKILL)
        return Injected(f"killed worker {pid} of {target.name}", None)
    if fault == "kill-redis-master":
        return _kill_redis_master(state, env)
    if fault == "stop-redis":
        return _stop_redis(state, env)
    if fault == "partition-node":
        return _partition(state, target)
    if fault == "restart-postgres":
        postgres.restart(state.postgres, env, down_seconds=2.0)
        return Injected(f"restarted the throwaway PostgreSQL on {state.postgres.port}", None)
    raise ConfigError(f"unknown fault {fault!r}")


def _partition(state: LabState, target: LabNode) -> Injected:
    if not state.bridge_address or not target.veth:
        raise ConfigError(NEEDS_NETNS)
    netns.partition(target.veth)
    if target.name not in state.partitioned:
        state.partitioned.append(target.name)

    def reconnect() -> None:
        heal_partitions(state, target.name)

    description = f"cut {target.name} ({target.host}) off: its veth {target.veth} down"
    return Injected(description, reconnect)


def heal_partitions(state: LabState, node: str | None) -> list[str]:
    """Reconnect ``node`` (default: every partitioned node); returns the nodes reconnected."""
    names = [node] if node else list(state.partitioned)
    healed = []
    for name in names:
        target = state.node(name)
        if target.veth and netns.is_partitioned(target.veth):
            netns.heal(target.veth)
            healed.append(name)
        if name in state.partitioned:
            state.partitioned.remove(name)
    return healed


def _group(pgid: int) -> list[int]:
    return group_members(pgid) or [pgid]


def _kill_redis_master(state: LabState, env: Mapping[str, str]) -> Injected:
    masters = redis_cluster.masters(state.redis_ports)
    if not masters:
        raise Unavailable("no Redis master answers")
    port = masters[0]
    pid = state.pids[f"redis-{port}"]
    os.kill(pid, signal.SIGKILL)
    wait_gone([pid], 10.0)

    def restart() -> None:
        state.pids[f"redis-{port}"] = redis_cluster.start_node(
            state.path, port, env, state.bridge_address
        )

    return Injected(f"killed the Redis master on {port} (pid {pid})", restart)


def _stop_redis(state: LabState, env: Mapping[str, str]) -> Injected:
    for port in state.redis_ports:
        stop_group(state.pids[f"redis-{port}"], timeout=10.0)

    def restart() -> None:
        for port in state.redis_ports:
            state.pids[f"redis-{port}"] = redis_cluster.start_node(
                state.path, port, env, state.bridge_address
            )

    return Injected("stopped all six Redis nodes", restart)


def heal_and_wait(state: LabState, injected: Injected, timeout: float = WAIT_SECONDS) -> float:
    """Undo the fault (if it needs it) and wait until every part is healthy again.

    Returns:
        Seconds from the call until the whole lab was healthy.

    Raises:
        Unavailable: the lab was not healthy again within ``timeout``.
    """
    started = time.monotonic()
    if injected.heal is not None:
        injected.heal()
        save(state)  # new pids: `status` and `down` must find the restarted processes
    if not health.wait_until(lambda: all(ok for _, _, ok in health.part_health(state)), timeout):
        bad = [name for name, _, ok in health.part_health(state) if not ok]
        raise Unavailable(f"the lab did not heal within {timeout:.0f} s: {', '.join(bad)}")
    return time.monotonic() - started
