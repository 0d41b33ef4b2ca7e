"""The public API of roulette.chain is pinned."""

from __future__ import annotations

import roulette.chain


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(roulette.chain.__all__) == [
        "Balances",
        "ChainService",
        "ChainSettings",
        "GatedQueue",
        "RpcClient",
        "RpcError",
        "TipLedger",
        "TipRechecker",
        "TipRecord",
        "TipStatus",
        "TokenBalance",
        "TokenStandard",
        "tip_received_message",
    ]
    for name in roulette.chain.__all__:
        assert getattr(roulette.chain, name) is not None
