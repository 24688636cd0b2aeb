"""The workspace and record commands: ``init``, ``status``, ``search``, ``history``, ``opp``,
``contact``, ``event``, ``stage``, ``recover`` (and, through :mod:`.content`, the discussions,
announcements, files and documents).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bullpen.app.fields import ValidationError, currency

from . import content
from .common import (
    add_flags,
    add_json,
    ask_new_passphrase,
    ask_passphrase,
    emit,
    fields_from,
    listening_addrs,
    of_kind,
    open_ws,
    table,
)

if TYPE_CHECKING:
    from bullpen.app.workspace import Workspace


# ----- init / status / search / history ---------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from bullpen.app.workspace import Workspace

    ws = Workspace.create(args.home, args.name, args.workspace,
                          currency=currency(args.currency, "--currency"), ask=ask_new_passphrase)
    data = ws.status()
    ws.close()
    emit(args, data, lambda d: f"created workspace {d['title']!r} ({d['workspace_id']})\n"
                               f"you are {d['name']}, peer id {d['peer_id']}\nhome: {d['home']}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    data = ws.status()
    data["peers"] = _peer_status(ws)
    data["listening"] = listening_addrs(ws)
    ws.close()

    def human(d: dict[str, Any]) -> str:
        lines = [f"{d['title']} ({d['workspace_id']})", f"you: {d['name']} {d['peer_id']}",
                 f"digest: {d['digest']}"]
        lines += [f"listening on {addr}" for addr in d["listening"]]
        for p in d["peers"]:
            seen = p.get("last_seen") or "never"
            state = "connected" if p.get("connected") else f"last seen {seen}"
            refused = p.get("refused") or {}
            state += "".join(f"; holding back {d}: {why}" for d, why in sorted(refused.items()))
            theirs = p.get("held_by_peer") or {}
            state += "".join(f"; it refuses our {d}: {why}" for d, why in sorted(theirs.items()))
            lines.append(f"peer {p.get('name') or p.get('short_id') or p.get('peer_id')}: {state}")
        return "\n".join(lines)

    emit(args, data, human)
    return 0


def _peer_status(ws: Workspace) -> list[dict[str, Any]]:
    try:
        from bullpen.app.network.peer_book import peer_status
    except ImportError:
        return []
    return peer_status(ws)


def cmd_search(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    hits = ws.search(" ".join(args.query), limit=args.limit)
    ws.close()
    emit(args, hits, lambda h: table(h, [("id", "ID"), ("kind", "KIND"), ("title", "TITLE"),
                                         ("snippet", "MATCH")]))
    return 0


def history_rows(ws: Workspace, record_id: str) -> list[dict[str, Any]]:
    from bullpen.app.sales.use_cases import author_names

    names = author_names(ws)  # members who left keep their names
    rows = []
    for entry in ws.history(record_id):
        row = entry.to_json()
        row["by_name"] = names.get(entry.by or "", entry.by)
        rows.append(row)
    return rows


def format_history(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        changes = ", ".join(
            f"{k}: {_short(v['old'])} → {_short(v['new'])}" for k, v in r["fields"].items()
        )
        race = " (concurrent)" if r["concurrent"] else ""
        lines.append(f"{r['at']}  {r['by_name']}  {r['action']}{race}  {changes}")
    return "\n".join(lines) or "(no history)"


def _short(value: Any) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= 30 else text[:29] + "…"


def cmd_history(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    rows = history_rows(ws, args.id)
    ws.close()
    emit(args, rows, format_history)
    return 0


# ----- records ----------------------------------------------------------------------------

OPP_FLAGS: list[tuple[str, str, str]] = [
    ("--account", "account", "account (customer company)"),
    ("--title", "title", "opportunity title"),
    ("--amount", "amount", "amount, e.g. 50000"),
    ("--currency", "currency", "ISO currency, default the workspace's"),
    ("--stage", "stage", "stage id, e.g. proposal"),
    ("--close", "close_date", "expected close date YYYY-MM-DD"),
    ("--probability", "probability", "0-100, default from stage"),
    ("--category", "category", "pipeline|best_case|commit|closed|omitted"),
    ("--owner", "owner", "owner name, default you"),
    ("--next-step", "next_step", "next step"),
    ("--notes", "notes", "notes"),
    ("--contacts", "contact_ids", "linked contact ids, comma-separated"),
    ("--external-id", "external_id", "id in another tool"),
]


OPP_COLUMNS = [("id", "ID"), ("account", "ACCOUNT"), ("title", "TITLE"), ("amount", "AMOUNT"),
               ("currency", "CUR"), ("stage", "STAGE"), ("probability", "%"),
               ("close_date", "CLOSE"), ("owner", "OWNER")]


def show_record(ws: Workspace, args: argparse.Namespace) -> int:
    record = ws.get(args.id)
    record["history"] = history_rows(ws, record["id"])
    ws.close()

    def human(r: dict[str, Any]) -> str:
        skip = {"history", "deleted"}
        lines = [f"{k}: {v}" for k, v in r.items() if k not in skip and v not in (None, "", [])]
        return "\n".join(lines) + "\n\nhistory:\n" + format_history(r["history"])

    emit(args, record, human)
    return 0


CONTACT_FLAGS = [
    ("--name", "name", "full name"), ("--company", "company", "company"),
    ("--title", "title", "job title"), ("--emails", "emails", "emails, comma-separated"),
    ("--phones", "phones", "phones, comma-separated"), ("--notes", "notes", "notes"),
]
EVENT_FLAGS = [
    ("--title", "title", "event title"), ("--start", "start", "start YYYY-MM-DDTHH:MM or date"),
    ("--end", "end", "end"), ("--all-day", "all_day", "yes/no"),
    ("--location", "location", "location"), ("--attendees", "attendees", "emails, comma-separated"),
    ("--opportunity", "opportunity_id", "linked opportunity id"),
    ("--description", "description", "description"), ("--timezone", "timezone", "IANA zone"),
    ("--repeat", "rrule", 'iCalendar rule, e.g. "FREQ=WEEKLY;BYDAY=MO" (see bullpen agenda)'),
]


def simple_kind(
    kind: str,
    flags: list[tuple[str, str, str]],
    columns: list[tuple[str, str]],
    list_filters: tuple[str, ...] = (),
    order: str = "title",
):
    """Handler for a record kind with add / list / show / update / delete."""

    def handler(args: argparse.Namespace) -> int:
        if getattr(args, "repeat", None):
            from bullpen.app.calendar.recurrence import check_rule

            check_rule(args.repeat)
        ws = open_ws(args)
        if args.action in ("update", "show", "delete"):
            args.id = of_kind(ws, args.id, kind)
        if args.action == "add":
            print(ws.add(kind, fields_from(args, flags)))
        elif args.action == "update":
            record = ws.update(args.id, fields_from(args, flags))
            emit(args, record, record["id"])
        elif args.action == "list":
            filters = {name: getattr(args, name) for name in list_filters}
            rows = ws.list(kind, order=order, **filters)
            emit(args, rows, lambda r: table(r, columns))
        elif args.action == "show":
            return show_record(ws, args)
        elif args.action == "delete":
            ws.delete(args.id)
            print(f"deleted {args.id}")
        ws.close()
        return 0

    return handler


def register_kind(
    sub: Any, name: str, kind: str, flags: list[tuple[str, str, str]],
    columns: list[tuple[str, str]], help_text: str, *, list_filters: tuple[str, ...] = (),
    order: str = "title",
) -> None:
    """``bullpen NAME add|update|list|show|delete`` for one record kind; ``list_filters`` are
    ``--FIELD`` options of ``list``."""
    p = sub.add_parser(name, help=help_text)
    actions = p.add_subparsers(dest="action", required=True)
    for action in ("add", "update"):
        a = actions.add_parser(action)
        if action == "update":
            a.add_argument("id")
        add_flags(a, flags)
        add_json(a)
    a = actions.add_parser("list")
    for field_name in list_filters:
        a.add_argument(f"--{field_name}")
    add_json(a)
    for action in ("show", "delete"):
        a = actions.add_parser(action)
        a.add_argument("id")
        add_json(a)
    p.set_defaults(func=simple_kind(kind, flags, columns, list_filters, order))


def cmd_stage(args: argparse.Namespace) -> int:
    from bullpen.app.fields import FORECAST_CATEGORIES, Stage, normalise_choice

    ws = open_ws(args)
    if args.action == "set":
        stages = []
        for spec in args.stages:
            parts = spec.split(":")
            if len(parts) != 3 or parts[2] not in FORECAST_CATEGORIES:
                raise ValidationError(
                    f"stage {spec!r}: use LABEL:PROBABILITY:CATEGORY, category one of "
                    f"{', '.join(FORECAST_CATEGORIES)}"
                )
            label, probability, category = parts
            if not probability.isdigit() or int(probability) > 100:
                raise ValidationError(f"stage {spec!r}: probability must be 0-100")
            stages.append(Stage(normalise_choice(label), label, int(probability), category))
        ws.set_stages(stages)
    rows = [s.__dict__ for s in ws.stages()]
    ws.close()
    emit(args, rows, lambda r: table(r, [("id", "ID"), ("label", "LABEL"),
                                         ("probability", "%"), ("category", "CATEGORY")]))
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from bullpen.app.storage.recover import recover

    report = recover(args.home, ask=ask_passphrase)
    emit(args, report, lambda r: "\n".join(r["messages"]))
    return 0 if report["ok"] else 1


def register(sub: Any) -> None:
    """The commands of this module and of :mod:`.content`, in the order ``--help`` lists them."""
    p = sub.add_parser("init", help="create your identity and a new workspace")
    p.add_argument("--name", required=True, help="your name as teammates see it")
    p.add_argument("--workspace", required=True, help="workspace title")
    p.add_argument("--currency", default="EUR", help="base currency (default EUR)")
    add_json(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("status", help="identity, workspace and sync state")
    add_json(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("search", help="full-text search over everything")
    p.add_argument("query", nargs="+")
    p.add_argument("--limit", type=int, default=50)
    add_json(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("history", help="every change of a record: who, when, what")
    p.add_argument("id")
    add_json(p)
    p.set_defaults(func=cmd_history)

    register_kind(sub, "opp", "opportunity", OPP_FLAGS, OPP_COLUMNS, "opportunities (pipeline)",
                  list_filters=("stage", "owner"), order="updated_at DESC")
    register_kind(sub, "contact", "contact", CONTACT_FLAGS,
                  [("id", "ID"), ("name", "NAME"), ("company", "COMPANY"), ("title", "TITLE"),
                   ("emails", "EMAILS")], "team contacts")
    register_kind(sub, "event", "event", EVENT_FLAGS,
                  [("id", "ID"), ("start", "START"), ("end", "END"), ("title", "TITLE"),
                   ("location", "WHERE")], "team calendar")

    content.register(sub)

    p = sub.add_parser("stage", help="the workspace's pipeline stages")
    actions = p.add_subparsers(dest="action", required=True)
    add_json(actions.add_parser("list"))
    a = actions.add_parser("set", help="replace the stage list")
    a.add_argument("stages", nargs="+", metavar="LABEL:PROBABILITY:CATEGORY",
                   help='e.g. "Discovery:10:pipeline" "Closed Won:100:closed"')
    add_json(a)
    p.set_defaults(func=cmd_stage)

    p = sub.add_parser("recover", help="check the store; salvage a damaged one into a fresh one")
    add_json(p)
    p.set_defaults(func=cmd_recover)

