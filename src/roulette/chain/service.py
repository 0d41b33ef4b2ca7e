"""The chain service: balances, tip verification, token gates, ENS names, contract signatures.

The I/O half of the package: each method fetches what the pure modules (``tipping``, ``gates``,
``ens``, ``signatures``) decide on. Nothing here invents a number: when the chain cannot be
asked, the caller gets :class:`~roulette.errors.Unavailable`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from roulette.chain import node
from roulette.chain.abi import (
    AbiError,
    call_data,
    decode_address,
    decode_string,
    decode_symbol,
    decode_uint,
)
from roulette.chain.amounts import format_units
from roulette.chain.cache import TtlCache
from roulette.chain.ens import is_displayable, namehash, reverse_node
from roulette.chain.gates import gate_call, is_gate_met
from roulette.chain.records import Balances, TipRecord, TipStatus, TokenBalance
from roulette.chain.rpc import RpcClient, RpcError
from roulette.chain.settings import ChainSettings
from roulette.chain.signatures import (
    MAX_SIGNATURE_BYTES,
    deployless_call,
    is_6492_wrapped,
    is_valid_1271_answer,
    is_valid_6492_answer,
    is_valid_signature_call,
)
from roulette.chain.tipping import (
    TipClaim,
    TipRules,
    judge_tip,
    parse_facts,
    parse_tx_hash,
    recheck_status,
)
from roulette.errors import BadRequest, Conflict, Forbidden, RateLimited, Unavailable
from roulette.identity import Address
from roulette.relay.keyed import KeyedLimiter

__all__ = ["NATIVE_SYMBOLS", "ChainService"]

log = logging.getLogger(__name__)

NATIVE_SYMBOLS = {1: "ETH", 10: "ETH", 56: "BNB", 100: "xDAI", 137: "POL", 8453: "ETH"}
"""The native coin's ticker of well-known chains; any other chain shows "ETH"."""

_ZERO_ADDRESS = Address("0x0000000000000000000000000000000000000000")
_TOKEN_META_SECONDS = 86_400.0  # EIP-20 symbol and decimals never change in practice


class ChainService:
    """Everything the API and the gateway ask of the chains.

    Args:
        settings: the chain settings.
        rpc: the JSON-RPC client (owned by the caller, or by this service via :meth:`create`).
        clock: the wall clock, for cache lifetimes and the signature rate limit.
    """

    def __init__(
        self,
        settings: ChainSettings,
        rpc: RpcClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rpc = rpc
        self._clock = clock
        self._balances: TtlCache[tuple[int, Address], Balances] = TtlCache()
        self._token_meta: TtlCache[tuple[int, Address], tuple[str, int]] = TtlCache()
        self._gates: TtlCache[tuple[str, Address], bool] = TtlCache()
        self._names: TtlCache[Address, tuple[str | None]] = TtlCache()
        self._signature_limit = KeyedLimiter(
            burst=settings.contract_sig_burst,
            per_second=settings.contract_sig_per_minute / 60.0,
        )

    @classmethod
    def create(cls, settings: ChainSettings) -> ChainService:
        """A service with its own RPC client; close it with :meth:`aclose`."""
        return cls(settings, RpcClient(settings))

    async def aclose(self) -> None:
        """Release the RPC client's connections."""
        await self.rpc.aclose()

    def _require_chain(self, chain_id: int) -> None:
        if not self.settings.has_chain(chain_id):
            raise BadRequest(f"chain {chain_id} is not supported here", code="unsupported_chain")

    # ------------------------------------------------------------------------- balances

    async def balances(self, address: Address, chain_id: int) -> Balances:
        """The native balance and each configured EIP-20 balance of ``address``; cached.

        Raises:
            BadRequest: ``unsupported_chain``.
            Unavailable: ``rpc_unavailable``; never a made-up number.
        """
        self._require_chain(chain_id)
        now = self._clock()
        cached = self._balances.get((chain_id, address), now=now)
        if cached is not None:
            return cached
        tokens = self.settings.tokens.get(chain_id, ())
        calls: list[tuple[str, list[Any]]] = [("eth_getBalance", [address, "latest"])]
        calls += [
            ("eth_call", node.call_params(t, call_data("balanceOf(address)", address)))
            for t in tokens
        ]
        results = await self.rpc.batch(chain_id, calls)
        if isinstance(results[0], RpcError):
            raise Unavailable("the RPC endpoint refused eth_getBalance", code="rpc_unavailable")
        raw = node.to_int(results[0])
        holdings = []
        for token, result in zip(tokens, results[1:], strict=True):
            holding = await self._token_balance(chain_id, token, result)
            if holding is not None:
                holdings.append(holding)
        balances = Balances(
            chain_id=chain_id,
            address=address,
            native=TokenBalance(
                None, NATIVE_SYMBOLS.get(chain_id, "ETH"), 18, raw, format_units(raw, 18)
            ),
            tokens=tuple(holdings),
        )
        self._balances.put(
            (chain_id, address), balances, now=now, ttl=self.settings.balance_cache_seconds
        )
        return balances

    async def _token_balance(
        self, chain_id: int, token: Address, result: Any
    ) -> TokenBalance | None:
        try:
            answer = node.to_bytes(result) if not isinstance(result, RpcError) else None
            if answer is None:
                raise AbiError("balanceOf reverted")
            raw = decode_uint(answer)
            symbol, decimals = await self._token_metadata(chain_id, token)
        except AbiError as exc:
            # A misconfigured TOKENS entry: leave it out rather than show a guess.
            log.warning("token_unreadable chain=%s token=%s error=%s", chain_id, token, exc)
            return None
        return TokenBalance(token, symbol, decimals, raw, format_units(raw, decimals))

    async def _token_metadata(self, chain_id: int, token: Address) -> tuple[str, int]:
        now = self._clock()
        cached = self._token_meta.get((chain_id, token), now=now)
        if cached is not None:
            return cached
        symbol_answer, decimals_answer = await node.eth_calls(
            self.rpc, chain_id, [(token, call_data("symbol()")), (token, call_data("decimals()"))]
        )
        if symbol_answer is None or decimals_answer is None:
            raise AbiError("symbol() or decimals() reverted")
        meta = (decode_symbol(symbol_answer)[:32], decode_uint(decimals_answer))
        if meta[1] > 77:  # 10**78 > 2**256: no uint256 amount has more digits
            raise AbiError(f"decimals() is {meta[1]}")
        self._token_meta.put((chain_id, token), meta, now=now, ttl=_TOKEN_META_SECONDS)
        return meta

    # ----------------------------------------------------------------------------- tips

    async def verify_tip(
        self,
        *,
        caller: Address,
        peer: Address,
        session_id: str,
        session_started_at: float,
        session_ended_at: float | None,
        chain_id: int,
        tx_hash: str,
        now: float,
    ) -> TipRecord:
        """Verify on chain that ``caller`` tipped ``peer`` in this session with ``tx_hash``.

        Does not look at the ledger: the caller refuses a hash that is already recorded.

        Returns:
            The record to store, CONFIRMED or PENDING (too few confirmations yet).

        Raises:
            BadRequest: ``invalid_tx_hash``, ``unsupported_chain``, or a refusal of
                :func:`~roulette.chain.tipping.judge_tip`.
            Forbidden: ``tip_wrong_sender``.
            Conflict: ``tip_not_mined``, the transaction is unknown or not mined yet.
            Unavailable: ``rpc_unavailable``.
        """
        self._require_chain(chain_id)
        tx_hash = parse_tx_hash(tx_hash)
        tx, receipt, head = await self._tx_receipt_head(chain_id, tx_hash)
        if tx is None or receipt is None:
            raise Conflict("the transaction is not mined yet; retry shortly", code="tip_not_mined")
        block = await self.rpc.call(
            chain_id, "eth_getBlockByNumber", [receipt["blockNumber"], False]
        )
        try:
            facts = parse_facts(tx, receipt, block)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Unavailable(
                "the RPC endpoint gave a malformed answer", code="rpc_unavailable"
            ) from exc
        claim = TipClaim(caller, peer, chain_id, session_id, session_started_at, session_ended_at)
        return judge_tip(facts, claim, self._tip_rules(chain_id), head=head, now=now)

    async def recheck_tip(self, tip: TipRecord, *, now: float) -> TipStatus:
        """Where a pending tip stands now (see :func:`~roulette.chain.tipping.recheck_status`).

        Raises:
            Unavailable: ``rpc_unavailable``.
        """
        _, receipt, head = await self._tx_receipt_head(tip.chain_id, tip.tx_hash)
        succeeded = None if receipt is None else int(receipt["status"], 16) == 1
        block = None if receipt is None else int(receipt["blockNumber"], 16)
        return recheck_status(
            tip,
            succeeded=succeeded,
            block_number=block,
            head=head,
            rules=self._tip_rules(tip.chain_id),
            now=now,
        )

    def _tip_rules(self, chain_id: int) -> TipRules:
        return TipRules(
            confirmations=self.settings.tip_confirmations,
            window_seconds=self.settings.tip_window_seconds,
            tokens=frozenset(self.settings.tokens.get(chain_id, ())),
            pending_timeout_seconds=self.settings.tip_pending_timeout_seconds,
        )

    async def _tx_receipt_head(self, chain_id: int, tx_hash: str) -> tuple[Any, Any, int]:
        results = await self.rpc.batch(
            chain_id,
            [
                ("eth_getTransactionByHash", [tx_hash]),
                ("eth_getTransactionReceipt", [tx_hash]),
                ("eth_blockNumber", []),
            ],
        )
        if any(isinstance(r, RpcError) for r in results):
            raise Unavailable("the RPC endpoint refused a lookup", code="rpc_unavailable")
        return results[0], results[1], node.to_int(results[2])

    # ---------------------------------------------------------------------------- gates

    async def check_gate(self, address: Address, queue_name: str, now: float) -> None:
        """Admit ``address`` to the gated queue, or refuse; cached ``gate_cache_seconds``.

        Raises:
            BadRequest: ``unknown_queue``.
            Forbidden: ``gate_not_met``.
            Unavailable: ``gate_check_unavailable``: the chain cannot be asked (fail closed).
        """
        queue = self.settings.queue(queue_name)
        met = self._gates.get((queue_name, address), now=now)
        if met is None:
            try:
                answer = await node.eth_call(
                    self.rpc, queue.chain_id, queue.token, gate_call(queue, address)
                )
            except Unavailable as exc:
                raise Unavailable(
                    "the token gate cannot be checked right now", code="gate_check_unavailable"
                ) from exc
            try:
                met = is_gate_met(queue, address, answer)
            except AbiError as exc:
                log.warning("gate_unreadable queue=%s error=%s", queue_name, exc)
                met = False
            self._gates.put(
                (queue_name, address), met, now=now, ttl=self.settings.gate_cache_seconds
            )
        if not met:
            raise Forbidden(
                f"joining {queue_name!r} needs the token it is gated on", code="gate_not_met"
            )

    # ------------------------------------------------------------------------------ ENS

    async def ens_name(self, address: Address) -> str | None:
        """The forward-verified primary ENS name of ``address``, or None; cached.

        Best-effort: any failure (no RPC for ``ens_chain_id``, an outage, a malformed record)
        gives None, and an outage is not cached.
        """
        if not self.settings.has_chain(self.settings.ens_chain_id):
            return None
        now = self._clock()
        cached = self._names.get(address, now=now)
        if cached is not None:
            return cached[0]
        try:
            name = await self._reverse_resolve(address)
        except (Unavailable, AbiError, BadRequest) as exc:
            log.info("ens_lookup_failed address=%s error=%s", address, exc)
            return None
        self._names.put(address, (name,), now=now, ttl=self.settings.ens_cache_seconds)
        return name

    async def _reverse_resolve(self, address: Address) -> str | None:
        # EIP-181: the reverse record's resolver answers name(node) for <addr>.addr.reverse.
        node_hash = reverse_node(address)
        answer = await self._ens_call(node_hash, "name(bytes32)")
        name = decode_string(answer) if answer else None
        if name is None or not is_displayable(name):
            return None
        # EIP-137: forward-verify, since anyone can claim any name in their reverse record.
        forward = await self._ens_call(namehash(name), "addr(bytes32)")
        return name if forward and decode_address(forward) == address else None

    async def _ens_call(self, node_hash: bytes, signature: str) -> bytes | None:
        chain_id = self.settings.ens_chain_id
        registry_answer = await node.eth_call(
            self.rpc,
            chain_id,
            self.settings.ens_registry,
            call_data("resolver(bytes32)", node_hash),
        )
        resolver = decode_address(registry_answer) if registry_answer else _ZERO_ADDRESS
        if resolver == _ZERO_ADDRESS:
            return None
        return await node.eth_call(self.rpc, chain_id, resolver, call_data(signature, node_hash))

    # ---------------------------------------------------------------- contract wallets

    async def verify_contract_signature(
        self, address: Address, message_hash: bytes, signature: bytes, chain_id: int
    ) -> bool:
        """EIP-1271 (deployed wallet) or EIP-6492 (not yet deployed) signature check.

        Call it only when plain ECDSA recovery did not give ``address``. Each call counts
        against a tighter per-address limit, since it costs RPC calls.

        Returns:
            True when the wallet accepts the signature; False on an unconfigured chain, an
            address without code, a revert or any other answer.

        Raises:
            RateLimited: too many contract-signature checks for this address.
            Unavailable: ``rpc_unavailable``.
        """
        if not self.settings.has_chain(chain_id) or len(signature) > MAX_SIGNATURE_BYTES:
            return False
        if not self._signature_limit.allow(address, self._clock()):
            raise RateLimited("too many contract-wallet sign-ins; retry later")
        if is_6492_wrapped(signature):
            answer = await node.eth_call(
                self.rpc, chain_id, None, deployless_call(address, message_hash, signature)
            )
            return is_valid_6492_answer(answer)
        code = node.to_bytes(await self.rpc.call(chain_id, "eth_getCode", [address, "latest"]))
        if not code:
            return False
        answer = await node.eth_call(
            self.rpc, chain_id, address, is_valid_signature_call(message_hash, signature)
        )
        return is_valid_1271_answer(answer)
