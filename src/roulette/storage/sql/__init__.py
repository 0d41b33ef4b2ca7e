"""The durable store in SQL (SQLite embedded, PostgreSQL in production): schema, migrations,
and the :class:`~roulette.storage.ports.Moderation` and
:class:`~roulette.storage.ports.TokenFamilies` ports.
"""

from __future__ import annotations

from roulette.storage.sql.database import (
    begin,
    connect,
    create_engine,
    current_revision,
    head_revision,
    upgrade,
)
from roulette.storage.sql.moderation import SqlModeration
from roulette.storage.sql.schema import declared_metadata, metadata
from roulette.storage.sql.tokens import SqlTokenFamilies

__all__ = [
    "SqlModeration",
    "SqlTokenFamilies",
    "begin",
    "connect",
    "create_engine",
    "current_revision",
    "declared_metadata",
    "head_revision",
    "metadata",
    "upgrade",
]
