"""The public API of ``roulette.storage.sql`` is pinned: a change here is a deliberate one."""

from __future__ import annotations

from roulette.storage import sql


def test_the_public_names_are_pinned() -> None:
    assert sorted(sql.__all__) == [
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


def test_every_public_name_exists() -> None:
    assert all(hasattr(sql, name) for name in sql.__all__)
