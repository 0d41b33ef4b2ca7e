"""EIP-4361 messages: strict parsing, our checks, and sign-in with real wallets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from roulette.auth.siwe import SiweMessage, SiweRules, check_message, parse_message, verify_sign_in
from roulette.errors import PayloadTooLarge, Unauthenticated

from .siwe_wallet import DEFAULT_DOMAIN as DOMAIN
from .siwe_wallet import build_message, sign

NOW_DT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW = NOW_DT.timestamp()
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
NONCE = "Xk3pQ9z7Lm2Rt5Vw8Yb1Ce"


def _text(address: str = ADDRESS, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "domain": DOMAIN,
        "uri": f"http://{DOMAIN}",
        "chain_id": 1,
        "nonce": NONCE,
        "issued_at": NOW_DT,
    }
    return build_message(address, **(fields | overrides))


def _invalid(text: str, code: str = "invalid_siwe_message") -> str:
    with pytest.raises(Unauthenticated) as caught:
        parse_message(text)
    assert caught.value.code == code
    return caught.value.message


def _replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


# --- parsing: what is accepted ---------------------------------------------------------------


def test_a_message_with_every_field_parses_to_those_fields() -> None:
    text = _text(
        statement="I accept the Terms of Service: https://example.org/tos",
        expiration_time=NOW_DT + timedelta(minutes=10),
        not_before=NOW_DT - timedelta(minutes=1),
        request_id="req-42",
        resources=[
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "https://example.org/x",
        ],
        scheme="https",
    )
    assert parse_message(text) == SiweMessage(
        domain=DOMAIN,
        address=ADDRESS,  # type: ignore[arg-type]
        statement="I accept the Terms of Service: https://example.org/tos",
        uri="http://localhost:3001",
        version="1",
        chain_id=1,
        nonce=NONCE,
        issued_at=NOW,
        expiration_time=NOW + 600,
        not_before=NOW - 60,
        request_id="req-42",
        resources=(
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "https://example.org/x",
        ),
        scheme="https",
    )


def test_without_a_statement_the_address_is_followed_by_two_blank_lines() -> None:
    text = _text(statement=None)
    assert f"{ADDRESS}\n\n\nURI: " in text
    message = parse_message(text)
    assert message.statement is None
    assert message.uri == f"http://{DOMAIN}"


def test_the_older_clients_layout_with_one_blank_line_and_no_statement_parses() -> None:
    """siwe before 2022 and viem before mid-2024 wrote one blank line without a statement."""
    text = _text(statement=None).replace("\n\n\nURI: ", "\n\nURI: ")
    assert parse_message(text) == parse_message(_text(statement=None))


def test_a_statement_that_looks_like_a_uri_field_is_still_a_statement() -> None:
    message = parse_message(_text(statement="URI: https://evil.example"))
    assert message.statement == "URI: https://evil.example"
    assert message.uri == f"http://{DOMAIN}"


def test_a_statement_is_free_unicode_text() -> None:
    assert parse_message(_text(statement="Привет, 世界 — ✓")).statement == "Привет, 世界 — ✓"


def test_one_trailing_newline_is_accepted() -> None:
    assert parse_message(_text() + "\n") == parse_message(_text())


def test_optional_fields_and_an_empty_resource_list_parse() -> None:
    message = parse_message(_text(request_id="", resources=[]))
    assert message.request_id == ""
    assert message.resources == ()
    assert message.expiration_time is None
    assert message.not_before is None


def test_a_lowercase_address_is_accepted_and_canonicalised() -> None:
    assert parse_message(_text(ADDRESS.lower())).address == ADDRESS


def test_an_uppercase_address_is_accepted_and_canonicalised() -> None:
    assert parse_message(_text("0x" + ADDRESS[2:].upper())).address == ADDRESS


@pytest.mark.parametrize(
    ("written", "unix"),
    [
        ("2024-05-01T12:00:00Z", NOW),
        ("2024-05-01t12:00:00z", NOW),
        ("2024-05-01T12:00:00.5Z", NOW + 0.5),
        ("2024-05-01T12:00:00.123456789Z", NOW + 0.123456),
        ("2024-05-01T14:30:00+02:30", NOW),
        ("2024-05-01T04:00:00-08:00", NOW),
        ("2024-05-01T12:00:00+00:00", NOW),
        ("2024-05-01T12:00:00-00:00", NOW),
    ],
)
def test_rfc3339_timestamps_in_any_zone_become_unix_seconds(written: str, unix: float) -> None:
    text = _replace_line(_text(), "Issued At: 2024-05-01T12:00:00Z", f"Issued At: {written}")
    assert parse_message(text).issued_at == pytest.approx(unix, abs=1e-6)


def test_a_scheme_before_the_domain_is_kept() -> None:
    assert parse_message(_text(scheme="https")).scheme == "https"
    assert parse_message(_text()).scheme is None


# --- parsing: what is refused ----------------------------------------------------------------


def test_a_message_over_the_byte_limit_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        parse_message("x" * 2049)
    assert caught.value.code == "siwe_message_too_large"


def test_the_byte_limit_counts_utf8_bytes_not_characters() -> None:
    text = _text(statement="é" * 1000)
    size = len(text.encode())
    assert len(text) < 2048 < size
    with pytest.raises(PayloadTooLarge):
        parse_message(text)
    assert parse_message(text, max_bytes=size).statement == "é" * 1000
    with pytest.raises(PayloadTooLarge):
        parse_message(text, max_bytes=size - 1)


def test_a_message_of_lone_surrogates_is_measured_without_crashing() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_message("\ud800" * 700)  # 3 bytes each under surrogatepass


def test_a_message_that_is_not_valid_unicode_is_refused() -> None:
    assert "Unicode" in _invalid(_text(statement="bad \ud800 text"))


def test_carriage_returns_are_refused() -> None:
    assert "carriage return" in _invalid(_text().replace("\n", "\r\n"))


def test_two_trailing_newlines_are_refused() -> None:
    assert "line 11" in _invalid(_text() + "\n\n")


def test_a_wrong_mixed_case_checksum_is_refused() -> None:
    wrong = ADDRESS[:-1] + ADDRESS[-1].upper()
    assert "line 2" in _invalid(_text(wrong), code="invalid_address")


@pytest.mark.parametrize("address", [ADDRESS[:-1], ADDRESS[2:], "vitalik.eth", ""])
def test_an_address_line_that_is_not_an_address_is_refused(address: str) -> None:
    assert "line 2" in _invalid(_text(address), code="invalid_address")


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (" wants you to sign in", " wants you to log in", "line 1"),
        ("localhost:3001 wants", "local host:3001 wants", "line 1"),
        ("localhost:3001 wants", "1http://localhost:3001 wants", "line 1"),
        ("localhost:3001 wants", "localhost:3001%zz wants", "line 1"),
        ("localhost:3001 wants", " wants", "line 1"),
        (f"{ADDRESS}\n\n", f"{ADDRESS}\nx\n", "line 3"),
        ("Sign in to Web3 Chat Roulette.\n\n", "Sign in to Web3 Chat Roulette.\n", "line 4"),
        ("URI: http://localhost:3001", "URI: http://localhost:3001/a b", "line 6"),
        ("URI: http://localhost:3001", "URI: /relative", "line 6"),
        ("URI: http://localhost:3001", "URI:http://localhost:3001", "line 6"),
        ("URI: http://localhost:3001", "URI: http://localhost:3001/%4", "line 6"),
        ("Version: 1", "Version: one", "line 7"),
        ("Version: 1", "version: 1", "line 7"),
        ("Chain ID: 1", "Chain ID: 0x1", "line 8"),
        ("Chain ID: 1", "Chain ID: -1", "line 8"),
        ("Chain ID: 1", "Chain ID: \u0661", "line 8"),
        (f"Nonce: {NONCE}", "Nonce: short7x", "line 9"),
        (f"Nonce: {NONCE}", "Nonce: has-a-dash-123", "line 9"),
        (f"Nonce: {NONCE}", "Nonce: ", "line 9"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2024-05-01T12:00:00", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2024-05-01 12:00:00Z", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2024-02-30T12:00:00Z", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2024-05-01T24:00:00Z", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2016-12-31T23:59:60Z", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2024-05-01T12:00:00+24:00", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 2024-05-01T12:00:00+01:60", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 0000-01-01T00:00:00Z", "line 10"),
        ("Issued At: 2024-05-01T12:00:00Z", "Issued At: 1714564800", "line 10"),
    ],
)
def test_a_malformed_line_is_refused_naming_that_line(old: str, new: str, where: str) -> None:
    assert where in _invalid(_replace_line(_text(), old, new))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "localhost:3001 wants you to sign in with your Ethereum account:",
        f"localhost:3001 wants you to sign in with your Ethereum account:\n{ADDRESS}",
        f"localhost:3001 wants you to sign in with your Ethereum account:\n{ADDRESS}\n",
        f"localhost:3001 wants you to sign in with your Ethereum account:\n{ADDRESS}\n\n",
        f"localhost:3001 wants you to sign in with your Ethereum account:\n{ADDRESS}\n\nhi",
    ],
)
def test_a_truncated_message_is_refused(text: str) -> None:
    _invalid(text)


def test_fields_out_of_order_are_refused() -> None:
    text = _text(
        expiration_time=NOW_DT + timedelta(minutes=5), not_before=NOW_DT - timedelta(minutes=1)
    )
    expiry, not_before = text.split("\n")[-2:]
    swapped = "\n".join([*text.split("\n")[:-2], not_before, expiry])
    assert "line 12" in _invalid(swapped)


def test_a_repeated_field_is_refused() -> None:
    _invalid(_text() + "\nIssued At: 2024-05-01T12:00:00Z")
    _invalid(_text(request_id="a") + "\nRequest ID: b")


def test_an_unknown_trailing_field_is_refused() -> None:
    _invalid(_text() + "\nFavourite Colour: blue")


def test_a_resource_that_is_not_a_uri_is_refused() -> None:
    assert "line 13" in _invalid(_text(resources=["https://ok.example", "not a uri"]))


def test_a_request_id_outside_rfc3986_pchars_is_refused() -> None:
    _invalid(_text(request_id="has space"))


def test_a_required_field_may_not_be_left_out() -> None:
    text = "\n".join(line for line in _text().split("\n") if not line.startswith("Version:"))
    assert "'Version:'" in _invalid(text)


# --- checks against our rules ----------------------------------------------------------------


def _message(**overrides: Any) -> SiweMessage:
    return replace(parse_message(_text()), **overrides)


def _check_fails(message: SiweMessage, rules: SiweRules, code: str, now: float = NOW) -> None:
    with pytest.raises(Unauthenticated) as caught:
        check_message(message, rules, now=now)
    assert caught.value.code == code


def test_a_message_meeting_every_rule_passes(rules: SiweRules) -> None:
    check_message(_message(), rules, now=NOW)


@pytest.mark.parametrize("domain", ["localhost:3002", "localhost", "LOCALHOST:3001", "evil.com"])
def test_the_domain_must_be_exactly_ours(rules: SiweRules, domain: str) -> None:
    _check_fails(_message(domain=domain), rules, "domain_mismatch")


@pytest.mark.parametrize(("scheme", "ok"), [("http", True), ("https", True), ("ftp", False)])
def test_a_scheme_in_the_header_must_be_http_or_https(
    rules: SiweRules, scheme: str, ok: bool
) -> None:
    if ok:
        check_message(_message(scheme=scheme), rules, now=NOW)
    else:
        _check_fails(_message(scheme=scheme), rules, "domain_mismatch")


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:3001",
        "https://localhost:3001/",
        "https://localhost:3001/app?x=1#top",
        "HTTP://localhost:3001/login",
    ],
)
def test_a_uri_within_our_origin_passes(rules: SiweRules, uri: str) -> None:
    check_message(_message(uri=uri), rules, now=NOW)


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:3001.evil.com",
        "http://localhost:3001@evil.com",
        "http://evil.com@localhost:3001",
        "http://user:pass@localhost:3001/",
        "https://localhost:3002",
        "http://localhost",
        "http://localhost:03001",
        "ws://localhost:3001",
        "http:localhost:3001",
        "http:/localhost:3001",
        "//localhost:3001",
        "http://[::1",
        "did:pkh:eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    ],
)
def test_a_uri_outside_our_origin_is_refused(rules: SiweRules, uri: str) -> None:
    _check_fails(_message(uri=uri), rules, "uri_mismatch")


def test_only_version_1_is_supported(rules: SiweRules) -> None:
    _check_fails(parse_message(_text(version="2")), rules, "unsupported_version")


def test_the_chain_must_be_allowed(rules: SiweRules) -> None:
    check_message(_message(chain_id=137), rules, now=NOW)
    _check_fails(_message(chain_id=5), rules, "chain_not_allowed")


@pytest.mark.parametrize(
    ("issued_at", "ok"),
    [(NOW - 300, True), (NOW - 300.001, False), (NOW + 60, True), (NOW + 60.001, False)],
)
def test_issued_at_must_lie_within_max_age_and_future_skew(
    rules: SiweRules, issued_at: float, ok: bool
) -> None:
    if ok:
        check_message(_message(issued_at=issued_at), rules, now=NOW)
    else:
        _check_fails(_message(issued_at=issued_at), rules, "issued_at_out_of_range")


def test_the_issued_at_window_follows_the_rules(rules: SiweRules) -> None:
    strict = replace(rules, max_age=10, future_skew=0)
    _check_fails(_message(issued_at=NOW - 11), strict, "issued_at_out_of_range")
    _check_fails(_message(issued_at=NOW + 1), strict, "issued_at_out_of_range")


def test_a_message_is_expired_at_its_expiration_time(rules: SiweRules) -> None:
    check_message(_message(expiration_time=NOW + 0.001), rules, now=NOW)
    _check_fails(_message(expiration_time=NOW), rules, "message_expired")


def test_a_message_is_valid_from_its_not_before_time(rules: SiweRules) -> None:
    check_message(_message(not_before=NOW), rules, now=NOW)
    _check_fails(_message(not_before=NOW + 0.001), rules, "message_not_yet_valid")


# --- sign-in with real wallets ---------------------------------------------------------------


def test_a_real_wallet_signs_in(wallet: LocalAccount, rules: SiweRules) -> None:
    text = _text(wallet.address)
    message = verify_sign_in(text, sign(wallet, text), rules, now=NOW + 5)
    assert message.address == str(wallet.address)
    assert message.nonce == NONCE


def test_a_wallet_signing_with_a_lowercase_address_signs_in_canonically(
    wallet: LocalAccount, rules: SiweRules
) -> None:
    text = _text(wallet.address.lower(), statement=None)
    assert verify_sign_in(text, sign(wallet, text), rules, now=NOW).address == str(wallet.address)


def test_a_signature_by_someone_else_is_a_mismatch(
    wallet: LocalAccount, other_wallet: LocalAccount, rules: SiweRules
) -> None:
    text = _text(wallet.address)
    with pytest.raises(Unauthenticated) as caught:
        verify_sign_in(text, sign(other_wallet, text), rules, now=NOW)
    assert caught.value.code == "signature_mismatch"


def test_a_message_changed_after_signing_is_a_mismatch(
    wallet: LocalAccount, rules: SiweRules
) -> None:
    signed = _text(wallet.address)
    tampered = signed.replace("Chain ID: 1", "Chain ID: 137")
    with pytest.raises(Unauthenticated) as caught:
        verify_sign_in(tampered, sign(wallet, signed), rules, now=NOW)
    assert caught.value.code == "signature_mismatch"


def test_a_malformed_signature_is_refused(wallet: LocalAccount, rules: SiweRules) -> None:
    with pytest.raises(Unauthenticated) as caught:
        verify_sign_in(_text(wallet.address), "0x1234", rules, now=NOW)
    assert caught.value.code == "invalid_signature"


def test_the_rules_are_checked_before_any_signature_work(rules: SiweRules) -> None:
    """A stale message is refused for being stale, even with a garbage signature."""
    with pytest.raises(Unauthenticated) as caught:
        verify_sign_in(_text(), "garbage", rules, now=NOW + 3600)
    assert caught.value.code == "issued_at_out_of_range"


def test_an_oversized_message_is_refused_before_anything_else(rules: SiweRules) -> None:
    with pytest.raises(PayloadTooLarge):
        verify_sign_in(_text(statement="x" * 2048), "garbage", rules, now=NOW)
    text = _text(statement="x" * 100)
    with pytest.raises(PayloadTooLarge):
        verify_sign_in(text, "garbage", rules, now=NOW, max_bytes=len(text) - 1)


def test_every_timestamp_field_is_honoured_end_to_end(
    wallet: LocalAccount, rules: SiweRules
) -> None:
    zone = timezone(timedelta(hours=-5))
    text = _text(
        wallet.address,
        issued_at=NOW_DT.astimezone(zone),
        expiration_time=datetime(2024, 5, 1, 12, 5, tzinfo=UTC),
        not_before=datetime(2024, 5, 1, 12, 1, tzinfo=UTC),
    )
    signature = sign(wallet, text)
    for now, code in [(NOW + 30, "message_not_yet_valid"), (NOW + 300, "message_expired")]:
        with pytest.raises(Unauthenticated) as caught:
            verify_sign_in(text, signature, rules, now=now)
        assert caught.value.code == code
    assert verify_sign_in(text, signature, rules, now=NOW + 120).address == str(wallet.address)
