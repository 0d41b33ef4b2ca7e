"""On-chain features: balances, verified tips, token-gated queues, ENS names, contract wallets.

Talks to real chains over JSON-RPC (:mod:`roulette.chain.rpc`); the rules live in pure modules
(``tipping``, ``gates``, ``ens``, ``signatures``, ``policy``) and :class:`ChainService` is the
thin I/O layer between them and the node. See docs/chain.md.
"""

from __future__ import annotations

from roulette.chain.policy import RateLimit
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
    "RateLimit",
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
