"""The rules of a valid tip, as pure functions of what the chain says and what the caller claims.

Theory of operation: the service fetches the transaction, its receipt, its block and the chain
head; :func:`parse_facts` turns those JSON-RPC objects into :class:`TxFacts`; :func:`judge_tip`
either refuses (raising the peer error whose code the client sees) or returns the
:class:`~roulette.chain.records.TipRecord` to store, PENDING until it has enough
confirmations. :func:`recheck_status` later moves a pending tip on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from roulette.auth.address import to_checksum_address
from roulette.chain.abi import LogEntry, erc20_transfers
from roulette.chain.records import TipRecord, TipStatus
from roulette.errors import BadRequest, Conflict, Forbidden
from roulette.identity import Address

__all__ = [
    "CLOCK_SLACK_SECONDS",
    "TipClaim",
    "TipRules",
    "TxFacts",
    "already_recorded",
    "judge_tip",
    "parse_facts",
    "parse_tx_hash",
    "recheck_status",
]

CLOCK_SLACK_SECONDS = 15.0
"""Block timestamps are set by the block's proposer and drift a little from our clock."""

_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)


def parse_tx_hash(raw: str) -> str:
    """Canonicalise a transaction hash to ``0x`` + 64 lowercase hex digits.

    Raises:
        BadRequest: ``invalid_tx_hash``.
    """
    if not isinstance(raw, str) or _TX_HASH.fullmatch(raw) is None:
        raise BadRequest("a transaction hash is 0x and 64 hex digits", code="invalid_tx_hash")
    return raw.lower()


@dataclass(frozen=True, slots=True)
class TxFacts:
    """What the chain says about one mined transaction.

    Attributes:
        tx_hash: the canonical hash.
        chain_id: the EIP-155 chain id signed into it, None for a pre-EIP-155 transaction.
        sender: ``from``.
        to: ``to`` (None for a contract creation).
        value: the native amount sent, in wei.
        succeeded: the receipt's status (EIP-658): True when it did not revert.
        block_number: the block that included it.
        block_timestamp: that block's timestamp (Unix seconds).
        logs: the receipt's event logs.
    """

    tx_hash: str
    chain_id: int | None
    sender: Address
    to: Address | None
    value: int
    succeeded: bool
    block_number: int
    block_timestamp: int
    logs: tuple[LogEntry, ...]


def parse_facts(tx: dict[str, Any], receipt: dict[str, Any], block: dict[str, Any]) -> TxFacts:
    """Build :class:`TxFacts` from ``eth_getTransactionByHash``, ``…Receipt`` and ``…Block``.

    Raises:
        ValueError: a field is missing or malformed (a broken node, not the peer's fault).
    """
    logs = tuple(
        LogEntry(
            address=to_checksum_address(log["address"]),
            topics=tuple(bytes.fromhex(t[2:]) for t in log["topics"]),
            data=bytes.fromhex(log["data"][2:]),
        )
        for log in receipt["logs"]
    )
    chain_id = tx.get("chainId")
    return TxFacts(
        tx_hash=parse_tx_hash(tx["hash"]),
        chain_id=None if chain_id is None else int(chain_id, 16),
        sender=to_checksum_address(tx["from"]),
        to=None if tx.get("to") is None else to_checksum_address(tx["to"]),
        value=int(tx["value"], 16),
        succeeded=int(receipt["status"], 16) == 1,
        block_number=int(receipt["blockNumber"], 16),
        block_timestamp=int(block["timestamp"], 16),
        logs=logs,
    )


@dataclass(frozen=True, slots=True)
class TipClaim:
    """What the caller of ``POST /tips`` says: "I tipped my peer in this session"."""

    caller: Address
    peer: Address
    chain_id: int
    session_id: str
    session_started_at: float
    session_ended_at: float | None


@dataclass(frozen=True, slots=True)
class TipRules:
    """The configured rules: confirmations, the window after a session, accepted tokens."""

    confirmations: int
    window_seconds: float
    tokens: frozenset[Address]
    pending_timeout_seconds: float = 3600.0


def judge_tip(
    facts: TxFacts, claim: TipClaim, rules: TipRules, *, head: int, now: float
) -> TipRecord:
    """Decide whether ``facts`` prove ``claim``, and how final it is.

    Args:
        facts: the mined transaction.
        claim: the caller's claim.
        rules: the configured rules.
        head: the chain's latest block number.
        now: the current time (Unix seconds).

    Returns:
        The record to store: CONFIRMED under ``rules.confirmations`` blocks, else PENDING.

    Raises:
        BadRequest: ``tip_reverted``, ``tip_wrong_chain``, ``tip_wrong_recipient``,
            ``tip_outside_window``.
        Forbidden: ``tip_wrong_sender``, the caller did not send it.
    """
    if not facts.succeeded:
        raise BadRequest("the transaction reverted", code="tip_reverted")
    if facts.chain_id is not None and facts.chain_id != claim.chain_id:
        raise BadRequest("the transaction was signed for another chain", code="tip_wrong_chain")
    if facts.sender != claim.caller:
        raise Forbidden("the transaction was sent by someone else", code="tip_wrong_sender")
    token, amount = _payment(facts, claim, rules)
    _check_window(facts.block_timestamp, claim, rules, now)
    final = head - facts.block_number + 1 >= rules.confirmations
    return TipRecord(
        tx_hash=facts.tx_hash,
        chain_id=claim.chain_id,
        session_id=claim.session_id,
        sender=claim.caller,
        recipient=claim.peer,
        token=token,
        amount=str(amount),
        status=TipStatus.CONFIRMED if final else TipStatus.PENDING,
        block_number=facts.block_number,
        created_at=now,
        confirmed_at=now if final else None,
    )


def _payment(facts: TxFacts, claim: TipClaim, rules: TipRules) -> tuple[Address | None, int]:
    """The native value sent to the peer, else the EIP-20 transfers from caller to peer."""
    if facts.to == claim.peer and facts.value > 0:
        return None, facts.value
    # EIP-20: any contract can emit a Transfer event; only the configured tokens count, so a
    # worthless look-alike cannot be shown to the peer as a tip.
    paid: dict[Address, int] = {}
    for transfer in erc20_transfers(facts.logs):
        if (
            transfer.token in rules.tokens
            and transfer.sender == claim.caller
            and transfer.recipient == claim.peer
            and transfer.amount > 0
        ):
            paid[transfer.token] = paid.get(transfer.token, 0) + transfer.amount
    if not paid:
        raise BadRequest(
            "the transaction pays nothing to your peer (in a supported token)",
            code="tip_wrong_recipient",
        )
    token = next(iter(paid))
    return token, paid[token]


def _check_window(block_timestamp: int, claim: TipClaim, rules: TipRules, now: float) -> None:
    ended = claim.session_ended_at if claim.session_ended_at is not None else now
    earliest = claim.session_started_at - CLOCK_SLACK_SECONDS
    latest = ended + rules.window_seconds + CLOCK_SLACK_SECONDS
    if not earliest <= block_timestamp <= latest:
        raise BadRequest(
            "the transaction was not sent during the session or shortly after",
            code="tip_outside_window",
        )


def already_recorded() -> Conflict:
    """The refusal of a transaction hash that was already recorded (a hash counts once)."""
    return Conflict("this transaction is already recorded as a tip", code="tip_already_recorded")


def recheck_status(
    tip: TipRecord,
    *,
    succeeded: bool | None,
    block_number: int | None,
    head: int,
    rules: TipRules,
    now: float,
) -> TipStatus:
    """Where a pending tip stands now.

    Args:
        tip: the pending record.
        succeeded: the receipt's status now, None when no receipt is found (reorganised
            away, or a lagging endpoint: wait rather than fail).
        block_number: the block that includes it now.
        head: the chain's latest block number.
        rules: the configured rules.
        now: the current time.

    Returns:
        CONFIRMED, FAILED (reverted on its new block, or pending past the timeout) or PENDING.
    """
    if succeeded is False:
        return TipStatus.FAILED
    if succeeded and block_number is not None and head - block_number + 1 >= rules.confirmations:
        return TipStatus.CONFIRMED
    if now - tip.created_at >= rules.pending_timeout_seconds:
        return TipStatus.FAILED
    return TipStatus.PENDING
