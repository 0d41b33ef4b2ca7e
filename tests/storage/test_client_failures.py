"""Defect 5 of issue 9: what the Redis client raises during a failover is ``Unavailable`` at
the store boundary, whatever its type — and an error of our own still surfaces as itself."""

from __future__ import annotations

import pytest
from redis.asyncio import Connection
from redis.exceptions import ClusterDownError
from redis.exceptions import ConnectionError as RedisConnectionError

from roulette.errors import Unavailable
from roulette.storage.redis.client import is_client_failure, unavailable_on_failure
from storage.redis_fixtures import free_port


async def test_a_write_on_a_connection_closed_under_it_is_unavailable() -> None:
    # The client's own code path of the leak: a connection whose writer is gone.
    connection = Connection(port=free_port())  # nobody listens there: never connected
    with pytest.raises(Unavailable) as caught, unavailable_on_failure():
        await connection._send_packed_command([b"PING\r\n"])
    assert isinstance(caught.value.__cause__, AttributeError)
    assert caught.value.code == "state_unavailable"


async def test_a_refused_connection_is_unavailable() -> None:
    connection = Connection(port=free_port(), socket_connect_timeout=0.5)  # nobody listens
    with pytest.raises(Unavailable), unavailable_on_failure():
        await connection.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("gone"),
        ClusterDownError("CLUSTERDOWN"),
        TimeoutError(),
        ConnectionResetError(),
        OSError("unreachable"),
    ],
)
def test_client_errors_raised_anywhere_are_client_failures(error: Exception) -> None:
    assert is_client_failure(error)


def test_our_own_attribute_and_runtime_errors_are_not_masked() -> None:
    for error in (AttributeError("ours"), RuntimeError("ours"), KeyError("ours")):
        with pytest.raises(type(error)), unavailable_on_failure():
            raise error
