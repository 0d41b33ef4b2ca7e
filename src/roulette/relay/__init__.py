"""Relay decisions and per-socket limits (pure)."""

from roulette.relay.limits import Cooldown, MessageLimiter, TokenBucket, Verdict

__all__ = ["Cooldown", "MessageLimiter", "TokenBucket", "Verdict"]
