"""The hand-written migrations produce exactly ``schema.metadata``, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Integer, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.storage.sql.schema import ADDRESS_LENGTH, declared_metadata


def _differences(connection: Connection, target: MetaData | None = None) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, target or declared_metadata()))


def _kinds(differences: list[Any]) -> set[str]:
    # Column changes come grouped in a list of tuples; table and index changes as one tuple.
    return {(item[0] if isinstance(item, list) else item)[0] for item in differences}


async def test_the_migrated_schema_equals_the_metadata(engine: AsyncEngine) -> None:
    """Every table declared in the package, wherever it is declared, and nothing else."""
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    assert differences == []


async def test_the_comparison_sees_types_and_indexes(engine: AsyncEngine) -> None:
    """Guards the test above against comparing nothing at all."""
    metadata = declared_metadata()
    altered = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(altered)
    altered.tables["users"].c.last_seen.type = Integer()
    blocks = altered.tables["blocks"]
    blocks.indexes.discard(next(iter(blocks.indexes)))

    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences, altered)

    assert _kinds(differences) == {"modify_type", "remove_index"}


def test_addresses_fit_an_eip55_address() -> None:
    assert len("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") == ADDRESS_LENGTH
