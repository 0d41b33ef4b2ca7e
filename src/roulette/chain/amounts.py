"""Token amounts: exact integers in base units, shown as decimal strings."""

from __future__ import annotations

__all__ = ["format_units"]


def format_units(raw: int, decimals: int) -> str:
    """``raw`` base units as a decimal string with ``decimals`` places, trailing zeros cut.

    Exact (integer arithmetic only): ``format_units(1_500_000_000_000_000_000, 18) == "1.5"``.

    Args:
        raw: the amount in base units (wei, or the token's smallest unit); never negative.
        decimals: EIP-20 ``decimals()`` (18 for ether).

    Returns:
        The amount, e.g. ``"0"``, ``"12"``, ``"0.000001"``.
    """
    whole, fraction = divmod(raw, 10**decimals)
    if decimals == 0 or fraction == 0:
        return str(whole)
    digits = str(fraction).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{digits}"
