"""The one logging set-up: library floors that hold at ``LOG_LEVEL=debug``, and redaction of
every formatted line (message, arguments and traceback)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from roulette.errors import ConfigError
from roulette.observability.logs import LIBRARY_FLOORS, configure_logging
from support.rpc_proxy import running_proxy

KEY = "floor-test-key-0123456789"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the library levels back as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in LIBRARY_FLOORS}
    excepthook = sys.excepthook
    yield
    sys.excepthook = excepthook
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging.captureWarnings(False)


@pytest.mark.usefixtures("restore_logging")
def test_httpx_stays_quiet_at_debug_even_without_known_secrets() -> None:
    """The floor alone keeps a keyed URL out: httpx logs each request's URL at INFO."""
    out = io.StringIO()
    configure_logging("debug", {}, stream=out)
    with running_proxy("http://127.0.0.1:9/", path_key=KEY, query_key=KEY) as proxy:
        proxy.failing = True  # a 503 is still a logged request for httpx
        httpx.post(proxy.path_url, content=b"{}")
        httpx.post(proxy.query_url, content=b"{}")
    logging.getLogger("roulette.test").debug("debug lines do come out")
    text = out.getvalue()
    assert "debug lines do come out" in text
    assert KEY not in text
    assert "HTTP Request" not in text


@pytest.mark.usefixtures("restore_logging")
def test_a_floor_never_lets_through_what_the_root_level_hides() -> None:
    out = io.StringIO()
    configure_logging("error", {}, stream=out)
    logging.getLogger("httpx").warning("below the root's level")
    assert out.getvalue() == ""


@pytest.mark.usefixtures("restore_logging")
def test_messages_arguments_and_tracebacks_are_redacted() -> None:
    out = io.StringIO()
    configure_logging("info", {"ADMIN_TOKEN": "admin-token-in-traceback"}, stream=out)
    log = logging.getLogger("roulette.test")
    log.info("calling url=%s", "https://rpc.example/v2/arg-key-0123456789")
    try:
        raise ValueError("bad token admin-token-in-traceback at redis://:pw-0123456789@h:1/0")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    for secret in ("arg-key-0123456789", "admin-token-in-traceback", "pw-0123456789"):
        assert secret not in text
    assert "Traceback" in text and "https://rpc.example/***" in text


@pytest.mark.usefixtures("restore_logging")
def test_the_previous_handlers_are_replaced() -> None:
    configure_logging("info", {}, stream=io.StringIO())
    handler = configure_logging("info", {}, stream=io.StringIO())
    assert logging.getLogger().handlers == [handler]


def test_an_uncaught_exception_is_logged_redacted() -> None:
    script = (
        "from roulette.observability.logs import configure_logging\n"
        "configure_logging('info', {'ADMIN_TOKEN': 'uncaught-admin-token-01'})\n"
        "raise RuntimeError('failed with uncaught-admin-token-01')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 1
    assert "uncaught_exception" in result.stderr and "RuntimeError" in result.stderr
    assert "uncaught-admin-token-01" not in result.stderr


def test_an_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        configure_logging("loud", {})
