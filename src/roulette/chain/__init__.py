"""On-chain features: balances, verified tips, token-gated queues, ENS names, contract wallets.

Talks to real chains over JSON-RPC (:mod:`roulette.chain.rpc`); the rules live in pure modules
(``tipping``, ``gates``, ``ens``, ``signatures``, ``policy``) and :class:`ChainService` is the
thin I/O layer between them and the node. See docs/chain.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roulette.chain.recheck import TipRechecker, tip_received_message
    from roulette.chain.records import Balances, TipLedger, TipRecord, TipStatus, TokenBalance
    from roulette.chain.rpc import RpcClient, RpcError
    from roulette.chain.service import ChainService
    from roulette.chain.settings import ChainSettings, GatedQueue, TokenStandard

__all__ = [
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

# Names resolve on first use (PEP 562): the settings module is imported by the node's config
# at every start, and must not drag in the RPC client and the ABI codecs with it.
_HOMES = {
    "Balances": "roulette.chain.records",
    "ChainService": "roulette.chain.service",
    "ChainSettings": "roulette.chain.settings",
    "GatedQueue": "roulette.chain.settings",
    "RpcClient": "roulette.chain.rpc",
    "RpcError": "roulette.chain.rpc",
    "TipLedger": "roulette.chain.records",
    "TipRechecker": "roulette.chain.recheck",
    "TipRecord": "roulette.chain.records",
    "TipStatus": "roulette.chain.records",
    "TokenBalance": "roulette.chain.records",
    "TokenStandard": "roulette.chain.settings",
    "tip_received_message": "roulette.chain.recheck",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
