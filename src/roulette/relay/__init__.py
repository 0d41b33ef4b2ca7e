"""Relay decisions and rate limits, per socket and per key (pure)."""

from roulette.relay.keyed import KeyedLimiter
from roulette.relay.limits import Cooldown, MessageLimiter, TokenBucket, Verdict

__all__ = ["Cooldown", "KeyedLimiter", "MessageLimiter", "TokenBucket", "Verdict"]
