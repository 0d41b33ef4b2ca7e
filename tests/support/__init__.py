"""Test support: real servers on free ports, real wallets, real WebSocket clients."""
