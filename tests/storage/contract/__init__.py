"""The store contract suites: run them against every implementation of the ports.

A module for one implementation provides the ``lobby`` and ``nonces`` fixtures (fresh, empty
stores; the lobby built with ``MatchPolicy()``), subclasses the contract classes, and collects
the state machine::

    class TestRedisLobby(LobbyContract): ...
    class TestRedisNonces(NonceStoreContract): ...

    class RedisLobbyMachine(LobbyMachine):
        def open_lobby(self): return redis_lobby()  # an async context manager

    TestRedisLobbyMachine = lobby_machine_test(RedisLobbyMachine)
"""

from .debts_contract import BudgetDebtsContract
from .lobby_contract import LobbyContract
from .lobby_machine import LobbyMachine, lobby_machine_test
from .nonce_contract import NonceStoreContract

__all__ = [
    "BudgetDebtsContract",
    "LobbyContract",
    "LobbyMachine",
    "NonceStoreContract",
    "lobby_machine_test",
]
