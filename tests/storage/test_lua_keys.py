"""Every key a Lua script touches is declared in KEYS (Redis's scripting contract: a key built
inside a script is undefined behaviour, and on a cluster may live on another shard)."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from roulette.storage.redis.scripts import (
    LOBBY_OPERATIONS,
    lobby_batch_source,
    lobby_source,
    source,
)

CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*,\s*([^,)]+)")
DECLARED = re.compile(r"^(K_[A-Z_]+|KEYS\[(\d+|k)\])$")

SCRIPTS = sorted(
    path.name.removesuffix(".lua")
    for path in (files("roulette.storage.redis") / "lua").iterdir()
    if path.name.endswith(".lua")
)


def test_the_lobby_prelude_names_its_keys_only_from_keys() -> None:
    prelude = source("lobby")
    bound = re.findall(r"local (K_[A-Z_, ]+) = (KEYS\[.*)", prelude)
    names = [n.strip() for group, _ in bound for n in group.split(",")]
    assert "K_INDEX" in names
    assert all(value.startswith("KEYS[") for _, values in bound for value in values.split(", "))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_key_argument_is_declared(name: str) -> None:
    if name == "batch":
        text = lobby_batch_source()
    else:
        text = lobby_source(name) if name in LOBBY_OPERATIONS else source(name)
    calls = CALL.findall(text)
    assert calls, f"{name} calls no command"
    for command, key in calls:
        assert DECLARED.match(key.strip()), f"{name}: {command} on {key.strip()!r}"
