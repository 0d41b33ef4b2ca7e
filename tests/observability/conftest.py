"""Fixtures of the observability tests: the chain tests' local EVM nodes and contracts."""

from __future__ import annotations

from chain.conftest import anvil_bin, evm, other_evm, world

__all__ = ["anvil_bin", "evm", "other_evm", "world"]  # borrowed fixtures, found by name
