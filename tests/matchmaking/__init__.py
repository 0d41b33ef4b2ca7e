"""Tests of the pure matchmaking core (a package: its tests share the socket builders)."""
