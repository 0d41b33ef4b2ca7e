"""Issue 10, item 5: schemathesis against the OpenAPI schema of a real ``roulette serve``.

Every operation of ``/openapi.json`` gets generated requests (valid and invalid), signed in
as a real wallet; the invariants: no 5xx, and every response conforms to the schema. Bounded
(a few examples per operation) so it runs in CI in well under a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from support.server import RunningServer
from support.users import signed_in_users

EXAMPLES_PER_OPERATION = 25
BUDGET_SECONDS = 60


async def _access_token(server: RunningServer) -> str:
    (user,) = await signed_in_users(server, 1)
    await user.close()  # closes its HTTP client; the token stays valid
    assert user.access_token is not None
    return user.access_token


def _fuzzer(operation: Any, base_url: str, headers: dict[str, str]) -> Callable[[], None]:
    checks = [not_a_server_error, response_schema_conformance]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        case.validate_response(response, checks=checks)

    return fuzz


@pytest.mark.timeout(BUDGET_SECONDS + 60)
def test_fuzzing_the_openapi_schema_finds_no_5xx_and_no_nonconforming_response(
    server: RunningServer,
) -> None:
    headers = {"Authorization": f"Bearer {asyncio.run(_access_token(server))}"}
    schema = schemathesis.openapi.from_url(f"{server.http_url}/openapi.json")
    # An operation the schema cannot build is an Err here, and .ok() raises: the test fails.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10, "the schema lost its operations"
    started = time.monotonic()
    for operation in operations:
        _fuzzer(operation, server.http_url, headers)()
    assert time.monotonic() - started < BUDGET_SECONDS
    assert "Traceback" not in server.log()
