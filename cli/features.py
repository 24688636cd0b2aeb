"""CLI for the sales features: forecast, quotas, rates, import/export, notifications, kudos.

Thin argument parsing over ``sales``, ``transfer`` and ``inbox`` (imported when a command runs);
output follows ``common.py`` (``--json`` everywhere data is printed, one-line errors).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bullpen.app.fields import ValidationError
from bullpen.app.interop.common import EXPORT_FORMATS, FILE_KINDS
from bullpen.app.sales.forecast import COLUMNS, GROUPINGS

from .common import add_json, emit, open_ws, table
from .office import CALL_ACTIONS, add_call_arguments, cmd_call
from .records import OPP_COLUMNS

# ----- forecast ---------------------------------------------------------------------------------

FIGURES = [("closed_won", "WON"), ("commit", "COMMIT"), ("best_case", "BEST CASE"),
           ("pipeline", "PIPELINE"), ("weighted", "WEIGHTED"), ("count", "#")]  # fmt: skip


def forecast_lines(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One table line per group (per group and currency where a rate is missing)."""
    lines = []
    for row in [*data["rows"], data["total"]]:
        quota = row.get("quota")
        attainment = row.get("attainment")
        per = {data["base_currency"]: row["amounts"]} if row["amounts"] else row["currencies"]
        for i, (currency, figures) in enumerate((per or {data["base_currency"]: None}).items()):
            lines.append({
                "group": row["key"], "currency": currency, **(figures or {"count": 0}),
                "quota": quota if i == 0 else None,  # the quota once per group
                "attainment": f"{attainment:.1%}" if attainment is not None else None,
            })  # fmt: skip
    return lines


def format_forecast(data: dict[str, Any]) -> str:
    head = (f"Forecast {data['period']} ({data['start']} – {data['end']}) by {data['by']}, "
            f"in {data['base_currency']}")  # fmt: skip
    columns = [("group", data["by"].upper()), ("currency", "CUR"), *FIGURES,
               ("quota", "QUOTA"), ("attainment", "ATTAIN")]  # fmt: skip
    text = f"{head}\n{table(forecast_lines(data), columns)}"
    if data["missing_rates"]:
        missing = ", ".join(data["missing_rates"])
        text += (f"\nno exchange rate for {missing}: those figures are shown per currency "
                 f"(set one with `bullpen rate set {data['missing_rates'][0]} RATE`)")  # fmt: skip
    return text


def format_history(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        changes = row["changes"] or {}
        parts = []
        for name, value in row["figures"].items():
            delta = changes.get(name)
            moved = f" ({delta:+,.2f})" if delta else ""
            parts.append(f"{name} {value:,.2f}{moved}" if name != "count" else f"# {value}{moved}")
        lines.append(f"{row['week']}  {row['group']}: {', '.join(parts)}")
    return "\n".join(lines) or "(no snapshots for this period yet)"


def cmd_forecast(args: argparse.Namespace) -> int:
    from bullpen.app.sales import use_cases as sales

    if args.action not in ("submit", "adjust") and (
            args.commit is not None or args.best_case is not None or args.comment or args.team):
        # `forecast --commit 120000 ...` without `submit` would just print the roll-up
        raise ValidationError("--commit, --best-case, --comment and --team go with "
                              "`forecast submit` or `forecast adjust`")
    if args.action in CALL_ACTIONS:
        return cmd_call(args)
    ws = open_ws(args)
    try:
        if args.action == "snapshot":
            key = sales.take_snapshot(ws, args.period)
            emit(args, {"snapshot": key}, f"stored forecast snapshot {key}")
        elif args.history:
            emit(args, sales.forecast_history(ws, args.period), format_history)
        elif args.drill is not None:
            _, opps = sales.drill(ws, args.drill, args.column, args.period, args.by)
            emit(args, opps, lambda rows: table(rows, OPP_COLUMNS))
        else:
            result = sales.forecast(ws, args.period, args.by or "owner")
            emit(args, result.to_json(), format_forecast)
    finally:
        ws.close()
    return 0


# ----- quotas and rates ---------------------------------------------------------------------------


def cmd_quota(args: argparse.Namespace) -> int:
    from bullpen.app.sales import use_cases as sales

    ws = open_ws(args)
    try:
        if args.action == "set":
            sales.set_quota(ws, args.owner, args.period, args.amount)
        elif args.action == "remove":
            sales.remove_quota(ws, args.owner, args.period)
        label = sales.period_of(args.period).label if args.period else None
        rows = [{"owner": owner, "period": period, "amount": amount}
                for (owner, period), amount in sorted(sales.quotas(ws).items())
                if label is None or period == label]  # fmt: skip
        currency = ws.currency
    finally:
        ws.close()
    emit(args, rows, lambda r: table(r, [("owner", "OWNER"), ("period", "PERIOD"),
                                         ("amount", f"QUOTA ({currency})")]))  # fmt: skip
    return 0


def cmd_rate(args: argparse.Namespace) -> int:
    from bullpen.app.sales import use_cases as sales

    ws = open_ws(args)
    try:
        if args.action == "set":
            sales.set_rate(ws, args.currency, args.rate)
        base = ws.currency
        rows = [{"currency": cur, "rate": rate, "base": base}
                for cur, rate in sorted(sales.rates(ws).items())]  # fmt: skip
    finally:
        ws.close()
    emit(args, rows, lambda r: table(r, [("currency", "CUR"), ("rate", f"VALUE IN {base}")]))
    return 0


# ----- import / export ----------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from bullpen.app.interop import transfer

    ws = open_ws(args)
    try:
        if args.what == "opportunities":
            count = transfer.export_opportunities(ws, args.output, args.format)
        else:
            count = transfer.EXPORTERS[args.what](ws, args.output)
    finally:
        ws.close()
    emit(args, {"file": args.output, "count": count}, f"wrote {count} {args.what} to {args.output}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from bullpen.app.interop import transfer

    ws = open_ws(args)
    try:
        if args.what == "opportunities":
            report = transfer.import_opportunities(
                ws, args.file, transfer.parse_mapping(args.map or []),
                dry_run=args.dry_run, skip_bad=args.skip_bad)  # fmt: skip
        else:
            report = transfer.IMPORTERS[args.what](ws, args.file, dry_run=args.dry_run)
    finally:
        ws.close()
    if not report.refused:
        emit(args, report.to_json(), lambda _: report.summary())
        return 0
    # Bad rows, nothing imported: the rows on stdout, one line on stderr, non-zero exit.
    emit(args, report.to_json(), "\n".join(report.error_lines()))
    print(f"bullpen: {report.outcome()}", file=sys.stderr)
    return 1


# ----- notifications ------------------------------------------------------------------------------


def on_off(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r}: use on or off")
    return value == "on"


SETTING_FLAGS = ("announcements", "mentions", "own_deals", "replies")


def format_settings(data: dict[str, Any]) -> str:
    lines = [f"{name.replace('_', '-')}: {'on' if data[name] else 'off'}" for name in SETTING_FLAGS]
    over = data["stage_changes_over"]
    lines.append(f"stage-changes-over: {'off' if over is None else f'{over:,.2f}'}")
    lines.append(f"followed topics: {', '.join(data['followed_topics']) or '-'}")
    lines.append(f"followed opportunities: {', '.join(data['followed_opportunities']) or '-'}")
    return "\n".join(lines)


def cmd_notifications(args: argparse.Namespace) -> int:
    from bullpen.app.notifications.inbox import (
        NotificationInbox,
        subscriptions,
        update_subscriptions,
    )

    ws = open_ws(args)
    inbox = NotificationInbox(ws, listen=False)
    try:
        if args.action == "settings":
            changes = {name: getattr(args, name) for name in SETTING_FLAGS}
            changes.update(follow_topic=args.follow_topic, follow_opp=args.follow_opp,
                           unfollow_topic=args.unfollow_topic, unfollow_opp=args.unfollow_opp,
                           stage_changes_over=args.stage_changes_over)  # fmt: skip
            if any(v is not None for v in changes.values()):
                subs = update_subscriptions(ws, **changes)
            else:
                subs = subscriptions(ws)
            emit(args, subs.__dict__, format_settings)
        elif args.action == "read":
            if args.all == (args.id is not None):
                raise ValidationError("give a notification id or --all")
            count = inbox.mark_read(None if args.all else _int_id(args.id))
            print(f"marked {count} read")
        else:
            inbox.remind_due()  # my action items due today or overdue
            rows = inbox.list(unread=args.unread)
            emit(args, rows, lambda r: table(
                [{**n, "new": "" if n["read"] else "•"} for n in r],
                [("id", "ID"), ("new", "NEW"), ("at", "AT"), ("kind", "KIND"),
                 ("title", "TITLE"), ("text", "TEXT"), ("record_id", "RECORD")]))  # fmt: skip
    finally:
        inbox.close()
        ws.close()
    return 0


def _int_id(text: str) -> int:
    if not text.isdigit():
        raise ValidationError(f"notification id {text!r}: give the number from the list")
    return int(text)


# ----- recognition --------------------------------------------------------------------------------


def cmd_kudos(args: argparse.Namespace) -> int:
    from bullpen.app.sales import use_cases as sales

    ws = open_ws(args)
    try:
        record = sales.kudos(ws, args.id, args.reaction)
    finally:
        ws.close()
    reactions = record.get("reactions") or {}
    emit(args, record, f"{record['id']}: {args.reaction} ({len(reactions)} reactions)")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from bullpen.app.sales import use_cases as sales

    ws = open_ws(args)
    try:
        rows = [s.to_json() for s in sales.standings(ws, args.period)]
    finally:
        ws.close()
    emit(args, rows, lambda r: table(r, [
        ("rank", "#"), ("member", "MEMBER"), ("points", "POINTS"), ("posts", "POSTS"),
        ("resources", "SHARED"), ("helpful", "HELPFUL"), ("reactions", "REACTIONS"),
        ("replies", "REPLIES")]))  # fmt: skip
    return 0


# ----- parser -------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    _register_forecast(sub)
    _register_transfer(sub)
    _register_notifications(sub)

    p = sub.add_parser("kudos", help="mark a post, resource or document helpful")
    p.add_argument("id", help="the post, resource or document (id or a unique prefix)")
    p.add_argument("--reaction", default="helpful")
    add_json(p)
    p.set_defaults(func=cmd_kudos)

    p = sub.add_parser("leaderboard", help="who shares what colleagues find useful")
    p.add_argument("--period", help="2026-Q4, 2026-11, 2026 ... (default: this quarter)")
    add_json(p)
    p.set_defaults(func=cmd_leaderboard)


def _register_forecast(sub: Any) -> None:
    p = sub.add_parser("forecast", help="closed won, commit, best case, pipeline per owner/team")
    p.add_argument("action", nargs="?", choices=["snapshot", *CALL_ACTIONS],
                   help="snapshot: store this week's snapshot of the period now; submit: "
                        "your forecast; adjust: a rep's or team's (managers); status: the call")
    add_call_arguments(p)
    p.add_argument("--period", help="2026-Q4, 2026-11, 2026-W48, 2026 (default: this quarter)")
    p.add_argument("--by", choices=GROUPINGS, help="group by owner (default), team or stage")
    p.add_argument("--history", action="store_true", help="how the call moved, week by week")
    p.add_argument("--drill", metavar="OWNER_OR_TEAM",
                   help="list the opportunities behind one number ('(total)' for all)")
    p.add_argument("--column", choices=COLUMNS, default="pipeline", help="with --drill")
    add_json(p)
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser("quota", help="quotas per owner and period (base currency)")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("set")
    a.add_argument("owner", help="a member's name (any case) or id, or a deal owner's name")
    a.add_argument("period")
    a.add_argument("amount")
    add_json(a)
    a = actions.add_parser("remove")
    a.add_argument("owner", help="the owner as `quota list` shows it (any case)")
    a.add_argument("period")
    add_json(a)
    a = actions.add_parser("list")
    a.add_argument("--period")
    add_json(a)
    p.set_defaults(func=cmd_quota, period=None)

    p = sub.add_parser("rate", help="exchange rates into the workspace's base currency")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("set", help="CUR RATE: one CUR is worth RATE base currency")
    a.add_argument("currency")
    a.add_argument("rate")
    add_json(a)
    add_json(actions.add_parser("list"))
    p.set_defaults(func=cmd_rate)


def _register_transfer(sub: Any) -> None:
    p = sub.add_parser("export", help="write opportunities (CSV/XLSX), contacts (.vcf), "
                                      "calendar (.ics)")  # fmt: skip
    what = p.add_subparsers(dest="what", required=True)
    for name in FILE_KINDS:
        a = what.add_parser(name)
        a.add_argument("-o", "--output", required=True)
        if name == "opportunities":
            a.add_argument("--format", choices=EXPORT_FORMATS,
                           help="default: from the file extension")
        add_json(a)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="read opportunities (CSV/XLSX from Salesforce, HubSpot "
                                      "...), contacts (.vcf), calendar (.ics)")  # fmt: skip
    what = p.add_subparsers(dest="what", required=True)
    for name in FILE_KINDS:
        a = what.add_parser(name)
        a.add_argument("file")
        a.add_argument("--dry-run", action="store_true", help="report, import nothing")
        if name == "opportunities":
            a.add_argument("--map", action="append", metavar="COLUMN=FIELD",
                           help="which field a column holds (FIELD 'ignore' skips it)")
            a.add_argument("--skip-bad", action="store_true",
                           help="import the good rows even if some rows are bad")
        add_json(a)
    p.set_defaults(func=cmd_import)


def _register_notifications(sub: Any) -> None:
    p = sub.add_parser("notifications", help="what changed that concerns you")
    p.add_argument("--unread", action="store_true")
    add_json(p)
    actions = p.add_subparsers(dest="action")
    a = actions.add_parser("read", help="mark one notification (or --all) read")
    a.add_argument("id", nargs="?")
    a.add_argument("--all", action="store_true")
    a = actions.add_parser("settings", help="choose what notifies you")
    for name in SETTING_FLAGS:
        a.add_argument(f"--{name.replace('_', '-')}", type=on_off, metavar="on|off")
    a.add_argument("--follow-topic", metavar="ID")
    a.add_argument("--unfollow-topic", metavar="ID")
    a.add_argument("--follow-opp", metavar="ID")
    a.add_argument("--unfollow-opp", metavar="ID")
    a.add_argument("--stage-changes-over", metavar="AMOUNT",
                   help="any stage change of a deal this big notifies you ('off' to stop)")
    add_json(a)
    p.set_defaults(func=cmd_notifications)
