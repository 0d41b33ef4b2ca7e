"""``roulette ban|unban|bans|reports …``: moderation from a shell, through the audited desk."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from roulette.config import Config
from roulette.moderation.records import ReportStatus, Resolution
from roulette.moderation.views import audit_json, history_json, report_json

if TYPE_CHECKING:
    from roulette.moderation.desk import ModerationDesk

__all__ = ["COMMANDS", "add_parsers", "run"]

_BY_HELP = "who acts, for the audit log (default: cli)"

COMMANDS = frozenset({"ban", "unban", "bans", "reports", "audit"})
"""The top-level commands this module handles."""


def _report_id(raw: str) -> int:
    value = int(raw)
    if not 1 <= value < 2**31:  # a 32-bit SQL integer
        raise argparse.ArgumentTypeError(f"{raw} is not a report id")
    return value


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the moderation commands on ``roulette``'s subparsers."""
    ban = sub.add_parser("ban", help="ban an address")
    ban.add_argument("address")
    ban.add_argument("--reason", required=True)
    ban.add_argument("--expires-in", type=int, metavar="SECONDS", help="lift it after this")
    ban.add_argument("--by", default="cli", help=_BY_HELP)
    unban = sub.add_parser("unban", help="lift a ban")
    unban.add_argument("address")
    unban.add_argument("--reason")
    unban.add_argument("--by", default="cli", help=_BY_HELP)
    sub.add_parser("bans", help="list bans")

    reports = sub.add_parser("reports", help="the review queue")
    verbs = reports.add_subparsers(dest="reports_command", required=True)
    listing = verbs.add_parser("list", help="open reports, oldest first")
    listing.add_argument("--status", choices=["open", "resolved", "all"], default="open")
    listing.add_argument("--limit", type=int, default=50)
    show = verbs.add_parser("show", help="a report with both users' histories (JSON)")
    show.add_argument("report_id", type=_report_id)
    resolve = verbs.add_parser("resolve", help="decide on the reported user")
    resolve.add_argument("report_id", type=_report_id)
    resolve.add_argument("--action", choices=[r.value for r in Resolution], required=True)
    resolve.add_argument("--reason", required=True)
    resolve.add_argument("--expires-in", type=int, metavar="SECONDS", help="for --action ban")
    resolve.add_argument("--by", default="cli", help=_BY_HELP)

    audit = sub.add_parser("audit", help="the audit log, newest first (JSON lines)")
    audit.add_argument("--target")
    audit.add_argument("--limit", type=int, default=50)


async def run(args: argparse.Namespace, config: Config) -> int:
    """Run one moderation command on the configured database; returns the exit code."""
    from roulette.auth.address import to_checksum_address  # noqa: PLC0415 - keep the CLI light
    from roulette.runtime.safety import moderation_desk  # noqa: PLC0415
    from roulette.storage.sql import create_engine, upgrade  # noqa: PLC0415

    config.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(config.sql_url)
    engine = create_engine(config.sql_url)
    desk = moderation_desk(config, engine, lobby=None)
    try:
        if args.command == "ban":
            address = to_checksum_address(args.address)
            expires = None if args.expires_in is None else time.time() + args.expires_in
            await desk.ban(
                address=address, reason=args.reason, actor=_actor(args), expires_at=expires
            )
            print(f"banned {address}" + ("" if expires is None else f" until {int(expires)}"))
        elif args.command == "unban":
            address = to_checksum_address(args.address)
            if not await desk.unban(address=address, actor=_actor(args), reason=args.reason):
                print(f"{address} was not banned", file=sys.stderr)
                return 1
            print(f"unbanned {address}")
        elif args.command == "bans":
            for ban in await desk.moderation.bans():
                expiry = "-" if ban.expires_at is None else str(int(ban.expires_at))
                print(
                    f"{ban.address}\t{ban.reason}\t{ban.banned_by}\t{int(ban.banned_at)}\t{expiry}"
                )
        elif args.command == "audit":
            for entry in await desk.audit.entries(target=args.target, limit=args.limit):
                print(json.dumps(audit_json(entry)))
        else:
            return await _reports(args, desk)
        return 0
    finally:
        await engine.dispose()


async def _reports(args: argparse.Namespace, desk: ModerationDesk) -> int:
    if args.reports_command == "list":
        status = None if args.status == "all" else ReportStatus(args.status)
        for r in await desk.reviews.reports(status=status, limit=args.limit):
            print(
                f"{r.id}\t{int(r.created_at)}\t{r.status.value}\t{r.target}\t{r.reporter}\t{r.reason}"
            )
        return 0
    if args.reports_command == "show":
        report, reporter, target = await desk.show(args.report_id)
        shown = {
            "report": report_json(report),
            "reporter": history_json(reporter),
            "target": history_json(target),
        }
        print(json.dumps(shown, indent=2))
        return 0
    expires = None if args.expires_in is None else time.time() + args.expires_in
    resolved = await desk.resolve(
        args.report_id,
        resolution=Resolution(args.action),
        actor=_actor(args),
        reason=args.reason,
        expires_at=expires,
    )
    print(f"resolved reports {', '.join(map(str, resolved))} ({args.action})")
    return 0


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.by}"[:64]
