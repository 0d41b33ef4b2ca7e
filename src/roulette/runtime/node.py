"""The composition root: build one node's objects from :class:`Config` and run them.

``roulette serve`` is one process with the HTTP API (uvicorn) and the WebSocket gateway
(picows) on one event loop. Shutdown is ordered: stop accepting sockets and close them with
1001, wait up to the shutdown timeout, stop HTTP, stop the sweeper, close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.api.app import create_app
from roulette.api.listener import MAX_HEAD_BYTES, with_request_deadline
from roulette.api.services import Services
from roulette.api.status_routes import ice_servers
from roulette.balancing.presence import Presence, PresenceAddress
from roulette.config import Config
from roulette.errors import ConfigError
from roulette.gateway.context import GatewayContext
from roulette.gateway.control import Controller
from roulette.gateway.debts import DebtCarrier
from roulette.gateway.hub import Hub
from roulette.gateway.server import Gateway
from roulette.observability.monitor import Monitor
from roulette.observability.statements import instrument
from roulette.resilience.shedding import LoopLag
from roulette.runtime.audit import Audit
from roulette.runtime.bans import BanWatch
from roulette.runtime.membership import Membership
from roulette.runtime.monitoring import build_monitor
from roulette.runtime.onchain import OnChain, build_onchain
from roulette.runtime.protection import protect
from roulette.runtime.safety import admission, safety_hooks
from roulette.runtime.services import build_services
from roulette.runtime.state import SharedState, shared_state
from roulette.runtime.sweeper import Sweeper
from roulette.storage.ports import BudgetDebts
from roulette.storage.sql import (
    SqlModeration,
    SqlTokenFamilies,
    create_engine,
    current_revision,
    head_revision,
    upgrade,
)
from roulette.storage.sql.history import SqlSessionHistory
from roulette.storage.sql.lane import Lane, open_lane
from roulette.supervised import supervised

__all__ = ["Node", "bind", "run"]

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[3] / "web"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (the parent binds once; workers may inherit it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=4096, reuse_port=False)
    sock.setblocking(False)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the node orders the shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Node:
    """One running node: its services, gateway and HTTP server."""

    config: Config
    services: Services
    hub: Hub
    """The gateway's hub (``services.hub`` is the same object, seen through the API's view)."""
    gateway: Gateway
    http: uvicorn.Server
    sweeper: Sweeper
    engine: AsyncEngine
    state: SharedState
    onchain: OnChain | None = None
    membership: Membership | None = None
    monitor: Monitor | None = None
    bans: BanWatch | None = None
    presence: Presence | None = None
    lag: LoopLag | None = None
    lane: Lane | None = None
    """The direct SQL lane of the sign-in statements (closed with the engine)."""

    @classmethod
    async def build(
        cls, config: Config, *, worker_id: str | None = None, migrate: bool = True
    ) -> Node:
        """Create the stores, the gateway and the HTTP app.

        Args:
            config: the settings.
            worker_id: this worker's id under ``roulette cluster`` (a fresh one otherwise).
            migrate: apply the migrations first (``roulette serve``); a cluster worker passes
                False: its supervisor migrated once before forking, and the worker only checks
                that the schema is at this code's head (issue 9: two workers migrating at once
                failed with SQLite "database is locked").

        Raises:
            ConfigError: ``migrate`` is False and the database is not at the head revision.
        """
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if migrate:
            await upgrade(config.sql_url)
        else:
            await _require_head(config.sql_url)
        engine = create_engine(config.sql_url)
        lane = open_lane(config.sql_url)
        state = shared_state(config)
        # Several workers share the state: the hub's bridge carries what crosses between them.
        bus = state.bus if state.workers is not None else None
        hub = Hub(
            worker_id or f"w-{uuid.uuid4().hex[:8]}",
            bus,
            control=state.control,
            frames_per_envelope=config.redis.relay_frames_per_envelope,
        )
        protected = protect(
            config,
            hub,
            lobby=state.lobby,
            nonces=state.nonces,
            moderation=SqlModeration(engine),
            families=SqlTokenFamilies(engine, lane),
            redis=config.redis.enabled,
        )
        history = SqlSessionHistory(engine)
        onchain = build_onchain(config, engine, protected.lobby, history, hub)
        svc = build_services(config, engine, state, hub, protected=protected, onchain=onchain)
        gateway, controller = _gateway(svc, hub, history, onchain, state.debts)
        instrument(engine, svc.vitals)
        # Workers of `roulette cluster` share one address: only a standalone node announces.
        presence = _presence(config, svc, state if worker_id is None else None)
        app = create_app(svc, WEB_DIR)
        http = _Uvicorn(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,  # request lines carry query strings
                log_config=None,  # uvicorn's own handlers would bypass the redaction
                lifespan="off",
                loop="none",
                # uvicorn would believe X-Forwarded-For from 127.0.0.1; TRUSTED_PROXIES decides.
                proxy_headers=False,
                # httptools (C) parses; a request must arrive whole within the deadline
                # (slowloris), only so many may be unfinished at once, and an unfinished
                # head may not pass 16 KiB (431).
                http=with_request_deadline(
                    config.hardening.http_request_seconds,
                    config.hardening.http_max_incomplete_requests,
                    MAX_HEAD_BYTES,
                ),
            )
        )
        sweeper = Sweeper(
            svc.lobby,
            controller,
            session_max_seconds=config.session_max_seconds,
            wall=time.time,
            every_pass=svc.metrics_sync.sync,
            audit=Audit(hub, svc.lobby),
        )
        membership = None
        if hub.bridge is not None and state.workers is not None:
            membership = Membership(state.workers, hub, started_at=svc.started_at)
        monitor = build_monitor(config, svc, worker_id)
        bans = BanWatch(
            svc.moderation,
            svc.families,
            hub,
            svc.lobby,
            interval=config.hardening.ban_poll_seconds,
            wall=time.time,
        )
        return cls(
            config,
            svc,
            hub,
            gateway,
            http,
            sweeper,
            engine,
            state,
            onchain,
            membership,
            monitor,
            bans,
            presence,
            protected.lag,
            lane,
        )

    async def serve(
        self,
        http_sock: socket.socket,
        ws_sock: socket.socket,
        *,
        stop: asyncio.Event,
        ready: Callable[[], None] | None = None,
    ) -> None:
        """Serve until ``stop`` is set, then shut down in order."""
        gateway_up = asyncio.Event()
        if self.membership is not None:
            await self.membership.join()  # known to the fleet before the first socket
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.http.serve(sockets=[http_sock]))
            tasks.create_task(self.gateway.serve(ws_sock, gateway_up))
            tasks.create_task(supervised("sweeper", self.sweeper.run))
            background = self._background(tasks)
            await gateway_up.wait()
            while not self.http.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.01)
            if ready is not None:
                ready()
            await stop.wait()
            self.services.vitals.gate.drain()  # /health/ready says 503 from now on
            if self.presence is not None:
                await self.presence.drain()  # the balancer stops sending clients first
            await self.shutdown()
            if self.presence is not None:
                await self.presence.leave()
            for task in background:
                task.cancel()  # loops that only end when cancelled; nothing to drain
        if self.onchain is not None:
            await self.onchain.aclose()
        await self.state.aclose()
        if self.lane is not None:
            await self.lane.aclose()
        await self.engine.dispose()

    def _background(self, tasks: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        """Start the optional loops; returns those that stop only when cancelled."""
        cancel_at_exit = []
        if self.onchain is not None:
            recheck = supervised("tip_recheck", self.onchain.recheck.run)
            cancel_at_exit.append(tasks.create_task(recheck))
        bridge = self.hub.bridge
        if bridge is not None:
            tasks.create_task(supervised("bridge_sender", bridge.run_sender))
            receiver = supervised("bridge_receiver", bridge.run_receiver)
            cancel_at_exit.append(tasks.create_task(receiver))
        if self.membership is not None:
            tasks.create_task(supervised("membership", self.membership.run))
        if self.bans is not None:
            tasks.create_task(supervised("ban_watch", self.bans.run))
        if self.presence is not None and self.presence.registered:
            tasks.create_task(supervised("lb_presence", self.presence.run))
        if self.lag is not None:
            cancel_at_exit.append(tasks.create_task(supervised("loop_lag", self.lag.run)))
        if self.monitor is not None:
            tasks.create_task(supervised("monitor", self.monitor.run))
        return cancel_at_exit

    async def shutdown(self) -> None:
        """Ordered stop: sockets (1001, bounded wait), then HTTP, then the sweeper."""
        log.info("shutdown_started")
        self.services.vitals.gate.drain()  # /health/ready says 503 from now on
        if self.monitor is not None:
            self.monitor.stop()
        await self.gateway.shutdown(self.config.shutdown_timeout_seconds)
        self.http.should_exit = True
        self.sweeper.stop()
        if self.membership is not None:
            self.membership.stop()
        if self.bans is not None:
            self.bans.stop()
        if self.hub.bridge is not None:
            self.hub.bridge.stop()


def _presence(config: Config, svc: Services, state: SharedState | None) -> Presence:
    host = config.lb.advertise_host or (
        "127.0.0.1" if config.host in {"0.0.0.0", "::", ""} else config.host
    )
    address = PresenceAddress(svc.hub.worker_id, host, config.port, config.ws_port)
    return Presence(
        config.lb,
        address,
        capacity=lambda: config.limits.max_connections,
        in_use=lambda: len(svc.hub),
        registry=state.nodes if state is not None else None,
        wall=time.time,
        shedding=svc.shedding,
    )


def _gateway(
    svc: Services,
    hub: Hub,
    history: SqlSessionHistory,
    onchain: OnChain | None,
    debts: BudgetDebts,
) -> tuple[Gateway, Controller]:
    gateway_ref: list[Gateway] = []
    ctx = GatewayContext(
        config=svc.config,
        hub=hub,
        metrics=svc.counters,
        spawn_control=lambda conn, op: gateway_ref[0].spawn_control(conn, op),  # noqa: PLW0108 - late-bound
        ice_servers=ice_servers(svc.config.stun_servers),
        resume_secret=svc.resume_secret,
        shedding=svc.shedding,
        named_queues=onchain is not None,
        **safety_hooks(svc.config.safety),
    )
    gate = onchain.service.check_gate if onchain is not None else None
    ctx.debts = DebtCarrier(debts, wall=ctx.wall, monotonic=ctx.monotonic)
    controller = Controller(
        ctx,
        svc.lobby,
        svc.moderation,
        svc.families,
        history,
        names=onchain.service.ens_name if onchain is not None else None,
        gate=gate,
        admit=admission(svc.config, svc.desk.reviews, gate),
    )
    gateway = Gateway(ctx, controller, svc.issuer)
    gateway_ref.append(gateway)
    return gateway, controller


async def _require_head(url: str) -> None:
    current, head = await current_revision(url), head_revision()
    if current != head:
        raise ConfigError(
            f"the database is at migration {current}, this code needs {head}: "
            "run `roulette db upgrade` (roulette cluster does before starting workers)",
            code="schema_outdated",
        )


async def run(config: Config, *, announce: Callable[[str], None] = print) -> None:
    """``roulette serve``: bind, build, serve until SIGTERM or SIGINT."""
    http_sock = bind(config.host, config.port)
    ws_sock = bind(config.host, config.ws_port)
    http_port, ws_port = http_sock.getsockname()[1], ws_sock.getsockname()[1]
    config = config.with_ports(http_port, ws_port)
    node = await Node.build(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def ready() -> None:
        announce(
            f"roulette serving http://{config.host}:{http_port} "
            f"and ws://{config.host}:{ws_port}/ws (data in {config.data_dir})"
        )

    await node.serve(http_sock, ws_sock, stop=stop, ready=ready)
