"""Web3 chat roulette: Sign-In with Ethereum, random 1:1 matching, WebRTC signaling relay."""

__all__ = ["__version__"]

__version__ = "0.1.0"
