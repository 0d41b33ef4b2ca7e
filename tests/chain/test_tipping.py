"""The tip rules as pure functions: table-like cases, no node and no event loop."""

from __future__ import annotations

from dataclasses import replace

import pytest

from roulette.chain.abi import TRANSFER_TOPIC, LogEntry
from roulette.chain.records import TipStatus
from roulette.chain.tipping import (
    CLOCK_SLACK_SECONDS,
    TipClaim,
    TipRules,
    TxFacts,
    judge_tip,
    parse_facts,
    parse_tx_hash,
    recheck_status,
)
from roulette.errors import BadRequest, Forbidden, PeerError
from roulette.identity import Address

CALLER = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
PEER = Address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
OTHER = Address("0x90F79bf6EB2c4f870365E785982E1f101E93b906")
TOKEN = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
HASH = "0x" + "ab" * 32
START = 1_000_000.0

CLAIM = TipClaim(CALLER, PEER, 1, "s1", START, None)
RULES = TipRules(confirmations=3, window_seconds=300, tokens=frozenset({TOKEN}))
NATIVE = TxFacts(HASH, 1, CALLER, PEER, 10, True, 100, int(START) + 60, ())


def _transfer(sender: Address, recipient: Address, amount: int, token: Address = TOKEN) -> LogEntry:
    topics = (
        TRANSFER_TOPIC,
        bytes(12) + bytes.fromhex(sender[2:]),
        bytes(12) + bytes.fromhex(recipient[2:]),
    )
    return LogEntry(token, topics, amount.to_bytes(32, "big"))


def test_a_native_tip_under_enough_confirmations_is_confirmed() -> None:
    tip = judge_tip(NATIVE, CLAIM, RULES, head=102, now=START + 100)

    assert (tip.status, tip.token, tip.amount, tip.confirmed_at) == (
        TipStatus.CONFIRMED, None, "10", START + 100,
    )  # fmt: skip
    assert (tip.sender, tip.recipient, tip.session_id, tip.block_number) == (
        CALLER,
        PEER,
        "s1",
        100,
    )


def test_a_tip_under_too_few_confirmations_is_pending() -> None:
    tip = judge_tip(NATIVE, CLAIM, RULES, head=101, now=START + 100)

    assert (tip.status, tip.confirmed_at) == (TipStatus.PENDING, None)


def test_token_transfers_to_the_peer_are_summed() -> None:
    logs = (_transfer(CALLER, PEER, 5), _transfer(CALLER, OTHER, 7), _transfer(CALLER, PEER, 6))
    facts = replace(NATIVE, to=TOKEN, value=0, logs=logs)

    tip = judge_tip(facts, CLAIM, RULES, head=200, now=START)

    assert (tip.token, tip.amount) == (TOKEN, "11")


@pytest.mark.parametrize(
    ("facts", "claim", "error", "code"),
    [
        (replace(NATIVE, succeeded=False), CLAIM, BadRequest, "tip_reverted"),
        (replace(NATIVE, chain_id=5), CLAIM, BadRequest, "tip_wrong_chain"),
        (replace(NATIVE, sender=OTHER), CLAIM, Forbidden, "tip_wrong_sender"),
        (replace(NATIVE, to=OTHER), CLAIM, BadRequest, "tip_wrong_recipient"),
        (replace(NATIVE, value=0), CLAIM, BadRequest, "tip_wrong_recipient"),
        (
            replace(NATIVE, to=TOKEN, value=0, logs=(_transfer(CALLER, PEER, 5, OTHER),)),
            CLAIM,
            BadRequest,
            "tip_wrong_recipient",
        ),
        (
            replace(NATIVE, to=TOKEN, value=0, logs=(_transfer(OTHER, PEER, 5),)),
            CLAIM,
            BadRequest,
            "tip_wrong_recipient",
        ),
        (
            replace(NATIVE, block_timestamp=int(START - CLOCK_SLACK_SECONDS) - 1),
            CLAIM,
            BadRequest,
            "tip_outside_window",
        ),
        (
            replace(NATIVE, block_timestamp=int(START) + 1000),
            replace(CLAIM, session_ended_at=START + 600),
            BadRequest,
            "tip_outside_window",
        ),
    ],
)
def test_a_forged_tip_is_refused(
    facts: TxFacts, claim: TipClaim, error: type[PeerError], code: str
) -> None:
    with pytest.raises(error) as caught:
        judge_tip(facts, claim, RULES, head=200, now=START + 5000)
    assert caught.value.code == code


def test_a_tip_within_the_window_after_the_session_is_accepted() -> None:
    facts = replace(NATIVE, block_timestamp=int(START) + 800)
    claim = replace(CLAIM, session_ended_at=START + 600)

    assert judge_tip(facts, claim, RULES, head=200, now=START + 900).amount == "10"


def test_a_pre_eip155_transaction_has_no_chain_to_compare() -> None:
    assert judge_tip(replace(NATIVE, chain_id=None), CLAIM, RULES, head=200, now=START).amount


@pytest.mark.parametrize("raw", ["0x" + "ab" * 31, "ab" * 32, "0x" + "zz" * 32, 5])
def test_a_malformed_hash_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_tx_hash(raw)
    assert caught.value.code == "invalid_tx_hash"


def test_a_hash_is_canonicalised_to_lowercase() -> None:
    assert parse_tx_hash("0x" + "AB" * 32) == HASH


def test_node_objects_are_parsed_into_facts() -> None:
    log = _transfer(CALLER, PEER, 5)
    tx = {"hash": HASH, "chainId": "0x1", "from": CALLER.lower(), "to": None, "value": "0x0"}
    receipt = {
        "status": "0x1",
        "blockNumber": "0x64",
        "logs": [{"address": TOKEN.lower(), "topics": ["0x" + t.hex() for t in log.topics],
                  "data": "0x" + log.data.hex()}],
    }  # fmt: skip

    facts = parse_facts(tx, receipt, {"timestamp": "0x10"})

    assert facts == TxFacts(HASH, 1, CALLER, None, 0, True, 100, 16, (log,))


def test_a_node_object_without_a_field_is_malformed() -> None:
    with pytest.raises(KeyError):
        parse_facts({"hash": HASH}, {"logs": []}, {})


PENDING = judge_tip(NATIVE, CLAIM, RULES, head=100, now=START)


@pytest.mark.parametrize(
    ("succeeded", "block", "head", "now", "status"),
    [
        (True, 100, 102, START + 10, TipStatus.CONFIRMED),
        (True, 100, 101, START + 10, TipStatus.PENDING),
        (False, 100, 150, START + 10, TipStatus.FAILED),
        (None, None, 150, START + 10, TipStatus.PENDING),
        (None, None, 150, START + 3600, TipStatus.FAILED),
        (True, 100, 101, START + 3600, TipStatus.FAILED),
        (True, 140, 142, START + 10, TipStatus.CONFIRMED),
    ],
)
def test_a_pending_tip_moves_on_when_rechecked(
    succeeded: bool | None, block: int | None, head: int, now: float, status: TipStatus
) -> None:
    assert (
        recheck_status(
            PENDING, succeeded=succeeded, block_number=block, head=head, rules=RULES, now=now
        )
        is status
    )
