"""The durable tables, in SQLAlchemy Core: one ``MetaData`` that the migrations must match.

Timestamps are Unix seconds in a double-precision column, the unit every port speaks: no time
zone to convert, the same comparison semantics on SQLite (which has no date type) and
PostgreSQL, and an exact round trip of the caller's ``now``.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import (
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

__all__ = [
    "ADDRESS_LENGTH",
    "ID_LENGTH",
    "audit_log",
    "bans",
    "blocks",
    "declared_metadata",
    "metadata",
    "reports",
    "session_history",
    "token_families",
    "users",
]

ADDRESS_LENGTH = 42
"""An EIP-55 address: ``0x`` and 40 hex digits."""

ID_LENGTH = 64
"""Identifiers we generate (token families, token ids, session ids) and short labels."""

# Deterministic constraint names, so that later migrations can name what they alter or drop
# on both backends (SQLite and PostgreSQL otherwise name them differently, or not at all).
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def declared_metadata() -> MetaData:
    """:data:`metadata` with every table of the package registered on it.

    A store module may declare its table beside its queries (``tips.py`` does); that table
    joins ``metadata`` only once the module is imported. Whatever compares the schema with
    the migrations (autogenerate, the schema test, a truncation) must see all of them.
    """
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not module.ispkg:  # ``migrations`` is a package and declares no table
            importlib.import_module(f"{package}.{module.name}")
    return metadata


def _address(name: str, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(ADDRESS_LENGTH), nullable=nullable)


def _seconds(name: str, *, nullable: bool = False) -> Column[float]:
    return Column(name, Double(), nullable=nullable)


# Moderation rows carry no foreign key to ``users``: an operator may ban (and a user report
# or block) an address that never signed in here, and that fact must still be stored.

users = Table(
    "users",
    metadata,
    Column("address", String(ADDRESS_LENGTH), primary_key=True),
    _seconds("first_seen"),
    _seconds("last_seen"),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _address("reporter"),
    _address("target"),
    Column("reason", Text, nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=True),
    Column("notes", Text, nullable=True),
    _seconds("created_at"),
    # The review queue (migration 0003): a report is open until a moderator resolves it.
    Column("status", String(16), nullable=False, server_default=text("'open'")),
    _seconds("resolved_at", nullable=True),
    Column("resolved_by", String(ID_LENGTH), nullable=True),
    Column("resolution", Text, nullable=True),
    Index(None, "target"),
    Index(None, "reporter"),
    Index(None, "status"),
)

blocks = Table(
    "blocks",
    metadata,
    _address("blocker"),
    _address("target"),
    Column("reason", Text, nullable=True),
    _seconds("created_at"),
    # The primary key serves "whom did X block"; the index serves "who blocked X".
    PrimaryKeyConstraint("blocker", "target"),
    Index(None, "target"),
)

bans = Table(
    "bans",
    metadata,
    Column("address", String(ADDRESS_LENGTH), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("banned_by", String(ID_LENGTH), nullable=False),
    _seconds("banned_at"),
    Index(None, "banned_at"),  # every node polls "bans since" (roulette.runtime.bans)
    _seconds("expires_at", nullable=True),  # None: until lifted (migration 0003)
)

token_families = Table(
    "token_families",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    _address("address"),
    Column("current_jti", String(ID_LENGTH), nullable=False),
    _seconds("created_at"),
    _seconds("expires_at"),
    _seconds("revoked_at", nullable=True),
    Index(None, "address"),
    Index(None, "revoked_at"),  # every node polls "revoked since" (roulette.runtime.bans)
)

session_history = Table(
    "session_history",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("chain_id", Integer, nullable=False),
    _address("initiator"),
    _address("responder"),
    _seconds("started_at"),
    # Open while the session lives, so a row may be written at the start and closed later.
    _seconds("ended_at", nullable=True),
    Column("end_reason", String(ID_LENGTH), nullable=True),
    Index(None, "initiator"),
    Index(None, "responder"),
)

# Append-only (migration 0003 adds triggers refusing UPDATE and DELETE on both backends): who
# did what to whom, when and why — moderators, the auto-suspension, the auto-scaler.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _seconds("at"),
    Column("actor", String(ID_LENGTH), nullable=False),
    Column("action", String(ID_LENGTH), nullable=False),
    Column("target", String(128), nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", Text, nullable=True),
    Index(None, "target"),
    Index(None, "at"),
)
