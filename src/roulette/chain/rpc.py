"""The one async Ethereum JSON-RPC client: per-chain endpoints with fallbacks, timeouts,
retries with jittered backoff, a circuit breaker per endpoint (purgatory) and batches.

A JSON-RPC ``error`` object (a revert, an unknown method) is an answer: the node is up, so it
is returned as :class:`RpcError` and does not count against the breaker. Only transport
failures do (refused, timed out, HTTP 429/5xx, garbage). When every endpoint of a chain is
down or open, the caller gets ``Unavailable(code="rpc_unavailable")`` at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from roulette.chain.policy import backoff_delays
from roulette.chain.settings import ChainSettings
from roulette.errors import BadRequest, Unavailable

__all__ = ["MAX_RESPONSE_BYTES", "RpcClient", "RpcError"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""A larger answer is treated as a broken endpoint (a receipt with thousands of logs is ~1 MB)."""

_BACKOFF_CAP_SECONDS = 2.0


class RpcError(Exception):
    """A JSON-RPC error object (JSON-RPC 2.0 §5.1), e.g. ``execution reverted`` (code 3)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data


class _EndpointFailure(Exception):
    """The endpoint did not answer usefully; the breaker counts it."""


@dataclass(frozen=True, slots=True)
class _Endpoint:
    chain_id: int
    url: str
    name: str  # the breaker's name; never the URL, which may carry an API key


class RpcClient:
    """JSON-RPC over HTTP to the chains of ``settings.rpc_urls``.

    Args:
        settings: endpoints, timeout, retries, backoff, batch size and breaker policy.
        http: the HTTP client (default: one owned and closed by this client).
        rng: randomness for the backoff jitter.
        sleep: the sleep between retries (injected so that tests need not wait).
    """

    def __init__(
        self,
        settings: ChainSettings,
        *,
        http: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=settings.rpc_timeout_seconds,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._endpoints = {
            chain_id: tuple(
                _Endpoint(chain_id, url, f"rpc:{chain_id}:{index}")
                for index, url in enumerate(urls)
            )
            for chain_id, urls in settings.rpc_urls.items()
        }
        self._verified: set[str] = set()
        self._states: dict[str, str] = {}
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=settings.breaker_threshold,
            default_ttl=settings.breaker_reset_seconds,
            exclude=[asyncio.CancelledError],
        )
        self._breakers.add_listener(self._on_breaker_event)

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    def breaker_states(self) -> dict[str, str]:
        """``{"rpc:<chain>:<index>": "closed" | "opened" | "half-opened"}`` of known breakers."""
        return dict(self._states)

    async def call(self, chain_id: int, method: str, params: Sequence[Any]) -> Any:
        """One JSON-RPC call.

        Raises:
            RpcError: the node answered with an error object.
            BadRequest: ``unsupported_chain``, no endpoint is configured for ``chain_id``.
            Unavailable: ``rpc_unavailable``, no endpoint answered.
        """
        (result,) = await self.batch(chain_id, [(method, params)])
        if isinstance(result, RpcError):
            raise result
        return result

    async def batch(
        self, chain_id: int, calls: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[Any | RpcError]:
        """Several calls in JSON-RPC batches of at most ``rpc_batch_max``; results in order.

        Raises:
            BadRequest: ``unsupported_chain``.
            Unavailable: ``rpc_unavailable``.
        """
        endpoints = self._endpoints_of(chain_id)
        size = self._settings.rpc_batch_max
        results: list[Any | RpcError] = []
        for start in range(0, len(calls), size):
            chunk = calls[start : start + size]
            ids = [next(self._ids) for _ in chunk]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                for i, (m, p) in zip(ids, chunk, strict=True)
            ]
            answer = await self._send(endpoints, payload)
            results.extend(_results_by_id(answer, ids))
        return results

    def _endpoints_of(self, chain_id: int) -> tuple[_Endpoint, ...]:
        endpoints = self._endpoints.get(chain_id)
        if not endpoints:
            raise BadRequest(f"chain {chain_id} is not supported here", code="unsupported_chain")
        return endpoints

    async def _send(self, endpoints: tuple[_Endpoint, ...], payload: list[dict[str, Any]]) -> Any:
        delays = backoff_delays(
            self._settings.rpc_retries,
            base=self._settings.rpc_backoff_seconds,
            cap=_BACKOFF_CAP_SECONDS,
            rng=self._rng,
        )
        for delay in [*delays, None]:
            tried = False
            for endpoint in endpoints:
                try:
                    return await self._send_guarded(endpoint, payload)
                except OpenedState as exc:
                    # purgatory raises one stored instance per opening; drop the frames it
                    # would otherwise accumulate on every refused call.
                    exc.__traceback__ = None
                except _EndpointFailure as exc:
                    tried = True
                    log.warning("rpc_endpoint_failed endpoint=%s error=%s", endpoint.name, exc)
            if not tried or delay is None:
                break
            await self._sleep(delay)
        chain_id = endpoints[0].chain_id
        raise Unavailable(f"the RPC of chain {chain_id} is unreachable", code="rpc_unavailable")

    async def _send_guarded(self, endpoint: _Endpoint, payload: list[dict[str, Any]]) -> Any:
        breaker = await self._breakers.get_breaker(endpoint.name)
        async with breaker:
            if endpoint.url not in self._verified:
                await self._verify_chain(endpoint)
            return await self._post(endpoint.url, payload)

    async def _verify_chain(self, endpoint: _Endpoint) -> None:
        # EIP-155 replay protection is only as good as our knowing which chain we talk to: an
        # endpoint serving another chain would make a tip on that chain look valid here.
        answer = await self._post(
            endpoint.url, {"jsonrpc": "2.0", "id": 0, "method": "eth_chainId", "params": []}
        )
        reported = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(reported, str) or int(reported, 16) != endpoint.chain_id:
            log.error("rpc_wrong_chain endpoint=%s reported=%s", endpoint.name, reported)
            raise _EndpointFailure(f"endpoint serves chain {reported}, not {endpoint.chain_id}")
        self._verified.add(endpoint.url)

    async def _post(self, url: str, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        try:
            async with self._http.stream("POST", url, content=body, headers=headers) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _EndpointFailure(f"HTTP {response.status_code}")
                data = await _read_bounded(response)
        except httpx.HTTPError as exc:
            raise _EndpointFailure(type(exc).__name__) from exc
        try:
            return json.loads(data)
        except ValueError as exc:
            raise _EndpointFailure("the answer is not JSON") from exc

    def _on_breaker_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            self._states[name] = event.state
            log.warning("rpc_breaker_state endpoint=%s state=%s", name, event.state)
        elif event_type == "circuit_breaker_created":
            self._states[name] = "closed"


async def _read_bounded(response: httpx.Response) -> bytes:
    chunks = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _EndpointFailure("the answer is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _results_by_id(answer: Any, ids: list[int]) -> list[Any | RpcError]:
    """Match a batch answer (any order, JSON-RPC 2.0 §6) to the request ids."""
    if not isinstance(answer, list):
        raise Unavailable("the RPC endpoint does not support batches", code="rpc_unavailable")
    by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
    results: list[Any | RpcError] = []
    for request_id in ids:
        item = by_id.get(request_id)
        if item is None:
            raise Unavailable("the RPC endpoint dropped a call", code="rpc_unavailable")
        error = item.get("error")
        if isinstance(error, dict):
            results.append(
                RpcError(int(error.get("code", 0)), str(error.get("message")), error.get("data"))
            )
        else:
            results.append(item.get("result"))
    return results
