"""``roulette lab up`` and ``roulette lab down``: start every part in order, stop them all.

The state file is saved after every start, so ``down`` also cleans up a lab whose ``up``
failed half-way.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from roulette.errors import ConfigError, Unavailable
from roulette.lab import health, netns, postgres, redis_cluster, topology
from roulette.lab.ports import free_block, free_port
from roulette.lab.processes import is_alive, spawn, stop_group
from roulette.lab.state import STATE_FILE, LabNode, LabPostgres, LabState, load, save

__all__ = ["base_env", "down", "start_node", "up"]

WAIT_SECONDS = 240.0
"""Allowance for each part to become healthy: generous, the machine may be heavily loaded."""
FIRST_REDIS_PORT = 17000
_DROPPED = ("REDIS_URL", "REDIS_SENTINELS", "DATABASE_URL", "PORT", "WS_PORT", "DATA_DIR")

Say = Callable[[str], None]


def base_env(environment: Mapping[str, str]) -> dict[str, str]:
    """What every lab process inherits: the caller's environment minus what the lab decides."""
    return {k: v for k, v in environment.items() if k not in _DROPPED and not k.startswith("LB_")}


def _roulette(*args: str) -> list[str]:
    return [sys.executable, "-m", "roulette", *args]


def up(
    directory: Path,
    environment: Mapping[str, str],
    *,
    nodes: int,
    workers: int,
    pg_mode: str,
    say: Say,
    use_netns: bool = False,
    monitoring: bool = True,
) -> LabState:
    """Bring the whole lab up and wait until every part is healthy.

    ``use_netns``: each node in its own network namespace (see :mod:`roulette.lab.netns`), so
    ``chaos partition-node`` can cut it off; PostgreSQL is then a throwaway cluster (the
    machine's listens on loopback only, which a namespace cannot reach). ``monitoring``:
    start Prometheus and Alertmanager when they are installed.

    Raises:
        ConfigError: a lab already runs in ``directory``, or a part cannot be set up.
        Unavailable: a part did not become healthy in time (``down`` cleans up).
    """
    directory = directory.resolve()
    _refuse_running(directory)
    if use_netns and pg_mode == "machine":
        raise ConfigError(
            "--netns needs a throwaway PostgreSQL (--postgres throwaway or auto): the "
            "machine's listens on loopback only, which the nodes' namespaces cannot reach"
        )
    env = base_env(environment)
    first = free_block(FIRST_REDIS_PORT, 6)
    state = LabState(
        directory=str(directory),
        lb_port=free_port(),
        stats_port=free_port(),
        workers=workers,
        redis_ports=list(range(first, first + 6)),
        postgres=LabPostgres("", "", "", "", 0),
        nodes=[
            LabNode(f"node{i}", free_port(), free_port(), free_port(), free_port())
            for i in range(1, nodes + 1)
        ],
        secrets={k: secrets.token_urlsafe(24) for k in ("jwt_access", "jwt_refresh", "admin")}
        | {"management": secrets.token_urlsafe(24), "stats": secrets.token_urlsafe(16)},
        started_at=time.time(),
    )
    save(state)
    if use_netns:
        _make_namespaces(state, say)
        pg_mode = "throwaway"
    _start_redis(state, env, say)
    _start_postgres(state, env, pg_mode, say)
    say("applying migrations")
    _migrate(state, env)
    for node in state.nodes:
        start_node(state, node, env)
        save(state)
    _wait(lambda: all(health.node_ready(state, n) for n in state.nodes), "nodes", say)
    # Every `roulette cluster` node announces itself (its supervisor's presence, with Redis).
    _wait(lambda: health.registered(state) >= len(state.nodes), "node registry", say)
    state.pids["lb"] = spawn(
        _roulette("lb", "run"), topology.balancer_env(env, state), _log(state, "lb")
    )
    save(state)
    _wait(lambda: health.balancer_ready(state, len(state.nodes)), "load balancer", say)
    if monitoring:
        _start_monitoring(state, env, say)
    save(state)
    return state


def _make_namespaces(state: LabState, say: Say) -> None:
    names = netns.layout(state.path)
    netns.cleanup(names)  # what a crashed lab in this directory left behind
    state.bridge_address = netns.create_bridge(names)
    save(state)
    for index, node in enumerate(state.nodes, start=1):
        node.netns, node.veth = names.namespace(node.name), names.veth(index)
        node.host = netns.create_node(names, node.name, index, state.bridge_address)
        save(state)
    say(f"namespaces: bridge {names.bridge} {state.bridge_address}/24, one per node")


def _refuse_running(directory: Path) -> None:
    if not (directory / STATE_FILE).exists():
        return
    alive = [name for name, pid in load(directory).all_pids().items() if is_alive(pid)]
    if alive:
        raise ConfigError(
            f"a lab is already running in {directory} ({', '.join(alive)}): "
            "run `roulette lab down` first"
        )


def _log(state: LabState, name: str) -> Path:
    return state.path / "logs" / f"{name}.log"


def _wait(check: Callable[[], bool], what: str, say: Say) -> None:
    started = time.monotonic()
    if not health.wait_until(check, WAIT_SECONDS):
        raise Unavailable(
            f"the lab's {what} did not become healthy in {WAIT_SECONDS:.0f} s (logs in "
            "LAB_DIR/logs); `roulette lab down` stops what was started"
        )
    say(f"{what} healthy ({time.monotonic() - started:.1f} s)")


def _start_redis(state: LabState, env: Mapping[str, str], say: Say) -> None:
    root = state.path
    shutil.rmtree(root / "redis", ignore_errors=True)  # a fresh cluster: no stale nodes.conf
    for port in state.redis_ports:
        state.pids[f"redis-{port}"] = redis_cluster.start_node(
            root, port, env, state.bridge_address
        )
        save(state)
    redis_cluster.create_cluster(state.redis_ports, state.service_host)
    _wait(lambda: redis_cluster.wait_healthy(state.redis_ports, 1.0), "Redis Cluster", say)


def _start_postgres(state: LabState, env: Mapping[str, str], mode: str, say: Say) -> None:
    machine_up = postgres.answers(postgres.MACHINE_PORT)
    if mode == "machine" or (mode == "auto" and machine_up):
        if not machine_up:
            raise ConfigError("no PostgreSQL answers on 127.0.0.1:5432 (try --postgres throwaway)")
        state.postgres = postgres.create(postgres.MACHINE_PORT, "machine", "", env)
    else:
        directory = state.path / "postgres"
        port = free_port()
        postgres.start_throwaway(directory, port, env, state.bridge_address)
        state.postgres = LabPostgres("throwaway", "", "", "", port, str(directory))
        save(state)
        state.postgres = postgres.create(port, "throwaway", str(directory), env, state.service_host)
    save(state)
    say(f"PostgreSQL: {state.postgres.mode}, database {state.postgres.database}")


def _migrate(state: LabState, env: Mapping[str, str]) -> None:
    node_env = topology.node_env(env, state, state.nodes[0])
    done = subprocess.run(
        _roulette("db", "upgrade"), env=node_env, capture_output=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise Unavailable(f"migrations failed: {done.stderr.decode(errors='replace')[-800:]}")


def start_node(state: LabState, node: LabNode, env: Mapping[str, str]) -> None:
    """Start (or start again) ``roulette cluster`` for ``node``; does not wait."""
    node_env = topology.node_env(env, state, node)
    inside = netns.exec_prefix(node.netns) if node.netns else []
    node.pid = spawn([*inside, *_roulette("cluster")], node_env, _log(state, node.name))


def _start_monitoring(state: LabState, env: Mapping[str, str], say: Say) -> None:
    prometheus, alertmanager = shutil.which("prometheus"), _alertmanager()
    if alertmanager:
        state.alertmanager_port = free_port()
        config = state.path / "alertmanager" / "alertmanager.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(topology.alertmanager_config())
        argv = [alertmanager, f"--config.file={config}", f"--storage.path={config.parent}"]
        argv += [f"--web.listen-address=127.0.0.1:{state.alertmanager_port}"]
        argv += ["--cluster.listen-address="]  # one instance: no gossip port
        state.pids["alertmanager"] = spawn(argv, env, _log(state, "alertmanager"))
    if prometheus:
        state.prometheus_port = free_port()
        config = state.path / "prometheus" / "prometheus.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(topology.prometheus_config(state, rule_files()))
        argv = [prometheus, f"--config.file={config}", f"--storage.tsdb.path={config.parent}/data"]
        argv += [f"--web.listen-address=127.0.0.1:{state.prometheus_port}"]
        state.pids["prometheus"] = spawn(argv, env, _log(state, "prometheus"))
    save(state)
    for name, port in (
        ("Prometheus", state.prometheus_port),
        ("Alertmanager", state.alertmanager_port),
    ):
        if port:
            _wait(lambda p=port: health.http_ok(f"http://127.0.0.1:{p}/-/ready"), name, say)  # type: ignore[misc]


def _alertmanager() -> str | None:
    return shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")


def rule_files() -> list[Path]:
    """The repository's alert rules (``deploy/prometheus/*.rules.yml``), when present."""
    root = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
    return sorted(root.glob("*.rules.yml")) if root.is_dir() else []


def down(directory: Path, environment: Mapping[str, str], say: Say) -> list[str]:
    """Stop every process of the lab and drop its database.

    Also removes the lab's network namespaces and links (by their name prefix, so even what a
    crashed lab left behind); without a state file that is all it does.

    Returns:
        The names of processes still alive afterwards (empty when all went).

    Raises:
        ConfigError: no lab state in ``directory`` and nothing of a lab left to remove.
    """
    try:
        state = load(directory.resolve())
    except ConfigError:
        removed = _remove_namespaces(directory)
        if not removed:
            raise
        say(f"no lab state; removed what a lab left behind: {', '.join(removed)}")
        return []
    env = base_env(environment)
    order = ["lb", *(n.name for n in state.nodes), "prometheus", "alertmanager"]
    order += [name for name in state.pids if name.startswith("redis-")]
    pids = state.all_pids()
    for name in order:
        if pids.get(name) and is_alive(pids[name]):
            stop_group(pids[name])
            say(f"stopped {name}")
    _stop_postgres(state.postgres, env, say)
    removed = _remove_namespaces(directory)
    if removed:
        say(f"removed {', '.join(removed)}")
    survivors = [name for name, pid in pids.items() if is_alive(pid)]
    if shutil.which("ip"):
        survivors += netns.leftovers(netns.layout(directory))
    if state.postgres.mode == "throwaway" and postgres.server_pid(state.postgres):
        survivors.append("postgres")
    if not survivors:
        (state.path / STATE_FILE).unlink()
    return survivors


def _remove_namespaces(directory: Path) -> list[str]:
    if not shutil.which("ip"):  # no iproute2: the lab never made a namespace
        return []
    return netns.cleanup(netns.layout(directory))


def _stop_postgres(pg: LabPostgres, env: Mapping[str, str], say: Say) -> None:
    if pg.mode == "machine" and pg.database:
        postgres.drop(pg, env)
        say(f"dropped database {pg.database}")
    elif pg.mode == "throwaway" and pg.data_dir:
        postgres.stop_throwaway(Path(pg.data_dir), env)
        say("stopped the throwaway PostgreSQL")
