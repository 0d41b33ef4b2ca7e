"""The public API of ``roulette.moderation`` is pinned: the API, the CLI and E7's audit use it."""

from __future__ import annotations

import roulette.moderation


def test_the_package_exports_exactly_its_public_api() -> None:
    assert sorted(roulette.moderation.__all__) == [
        "ReportRecord",
        "ReportStatus",
        "Resolution",
        "SuspendRule",
        "WalletHistory",
        "cooldown_left",
        "should_suspend",
    ]
    for name in roulette.moderation.__all__:
        assert getattr(roulette.moderation, name) is not None
