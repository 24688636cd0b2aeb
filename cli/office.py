"""CLI for running the team: the forecast call (``bullpen forecast submit|adjust|status``) and
action items (``bullpen task add|list|done|reopen|edit``, also ``bullpen action ...``).

Thin argument parsing over ``app/sales/submissions.py`` and ``app/sales/action_items.py``
(imported when a command runs); output follows ``common.py``: ``--json`` everywhere data is
printed, one-line errors, a non-zero exit on a refusal.
"""

from __future__ import annotations

import argparse
from typing import Any

from bullpen.app.fields import ValidationError

from .common import add_json, cell, emit, open_ws, table

CALL_ACTIONS = ("submit", "adjust", "status")

# ----- the forecast call ----------------------------------------------------------------------


def add_call_arguments(p: argparse.ArgumentParser) -> None:
    """The forecast command's arguments for submit, adjust and status."""
    p.add_argument("who", nargs="?", metavar="WHO",
                   help="adjust: the rep (or, with --team, the team's manager)")
    p.add_argument("--commit", metavar="AMOUNT", help="submit/adjust: the commit number")
    p.add_argument("--best-case", metavar="AMOUNT",
                   help="submit/adjust: the best case (includes commit)")
    p.add_argument("--comment", default="", help="submit/adjust: why this number")
    p.add_argument("--team", action="store_true", help="adjust: the team's number")


def _money(value: Any) -> str:
    return "—" if value is None else cell(float(value))


def _call(value: dict[str, Any] | None, who: bool = True) -> str:
    if not value:
        return "—"
    by = f" by {value['by']}" if who and value.get("by") else ""
    return f"{_money(value['commit'])} / {_money(value['best_case'])}{by}"


def format_status(data: dict[str, Any]) -> str:
    rows = []
    for group, items in (("rep", data["reps"]), ("team", data["teams"]),
                         ("total", [data["total"]])):  # fmt: skip
        for row in items:
            rows.append({
                "who": row["key"] if group != "team" else f"team {row['key']}",
                "submitted": _call(row["submitted"], who=False),
                "at": (row["submitted"] or {}).get("at", "")[:16],
                "adjusted": _call(row["adjusted"]),
                "computed": _call(row["computed"], who=False),
                "final": _call(row["final"], who=False),
            })  # fmt: skip
    head = f"Forecast call {data['period']} (commit / best case, in {data['currency']})"
    missing = ", ".join(data["not_submitted"]) or "nobody"
    columns = [("who", "WHO"), ("submitted", "SUBMITTED"), ("at", "AT"),
               ("adjusted", "ADJUSTED"), ("computed", "COMPUTED"), ("final", "FINAL")]
    return f"{head}\n{table(rows, columns)}\nnot submitted: {missing}"


def cmd_call(args: argparse.Namespace) -> int:
    """``bullpen forecast submit|adjust|status``."""
    from bullpen.app.sales import submissions

    if args.action != "adjust" and args.who is not None:
        raise ValidationError(f"forecast {args.action} takes no name ({args.who!r})")
    if args.action in ("submit", "adjust") and (args.commit is None or args.best_case is None):
        raise ValidationError(f"forecast {args.action} needs --commit and --best-case")
    ws = open_ws(args)
    try:
        if args.action == "submit":
            made = submissions.submit(ws, args.commit, args.best_case, args.comment,
                                      args.period)
            emit(args, made, f"{made['id']} submitted {made['period']}: commit "
                             f"{_money(made['commit'])}, best case {_money(made['best_case'])}")
        elif args.action == "adjust":
            if args.who is None:
                raise ValidationError("forecast adjust needs the rep (or team manager) to adjust")
            made = submissions.adjust(ws, args.who, args.commit, args.best_case, args.comment,
                                      args.period, team=args.team)
            emit(args, made, f"{made['id']} adjusted {made['period']}: commit "
                             f"{_money(made['commit'])}, best case {_money(made['best_case'])}")
        else:
            emit(args, submissions.status(ws, args.period), format_status)
    finally:
        ws.close()
    return 0


# ----- action items -----------------------------------------------------------------------------

TASK_COLUMNS = [("id", "ID"), ("mark", "!"), ("text", "TEXT"), ("owner", "OWNER"),
                ("due", "DUE"), ("status", "STATUS"), ("created_by", "BY")]


def format_items(rows: list[dict[str, Any]]) -> str:
    shown = [{**r, "id": r["id"][:8], "mark": "overdue" if r["overdue"] else ""} for r in rows]
    return table(shown, TASK_COLUMNS)


def cmd_task(args: argparse.Namespace) -> int:
    from bullpen.app.sales import action_items as tasks

    ws = open_ws(args)
    try:
        if args.action == "add":
            item = tasks.add_item(ws, args.text, args.owner, args.due, deal=args.deal,
                                  meeting=args.meeting)
            emit(args, item, f"{item['id']} for {item['owner']}")
        elif args.action in ("done", "reopen"):
            item = tasks.set_status(ws, args.id, "done" if args.action == "done" else "open")
            emit(args, item, f"{item['id']} {item['status']}")
        elif args.action == "edit":
            item = tasks.edit(ws, args.id, text=args.text, owner=args.owner, due=args.due)
            emit(args, item, f"{item['id']} updated")
        else:
            status = None if args.status == "all" else args.status
            rows = tasks.items(ws, args.owner, everyone=args.all, status=status)
            emit(args, rows, format_items)
    finally:
        ws.close()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("task", aliases=["action"],
                       help="action items: yours (task list), add, done, reopen, edit")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add", help="an action item for you or a teammate (prints its id "
                                      "and owner)")
    a.add_argument("text", help="what is to be done")
    a.add_argument("--owner", metavar="WHO", help="a member's name or id (default: you)")
    a.add_argument("--due", metavar="DATE", help="YYYY-MM-DD")
    a.add_argument("--deal", metavar="ID", help="the deal it is about")
    a.add_argument("--meeting", metavar="ID", help="the meeting (calendar event) it came from")
    add_json(a)
    a = actions.add_parser("list", help="your open action items, overdue first")
    who = a.add_mutually_exclusive_group()
    who.add_argument("--owner", metavar="WHO", help="a teammate's instead of yours")
    who.add_argument("--all", action="store_true", help="the whole team's")
    who.add_argument("--mine", action="store_true", help="yours (the default)")
    a.add_argument("--status", choices=["open", "done", "all"], default="open")
    add_json(a)
    for name, text in (("done", "mark an action item done"), ("reopen", "open it again")):
        a = actions.add_parser(name, help=f"{text} (its owner or a manager)")
        a.add_argument("id", help="the item's id or a unique prefix")
        add_json(a)
    a = actions.add_parser("edit", help="change text, owner or due date (owner or manager)")
    a.add_argument("id")
    a.add_argument("--text")
    a.add_argument("--owner", metavar="WHO")
    a.add_argument("--due", metavar="DATE")
    add_json(a)
    p.set_defaults(func=cmd_task)
