"""``bullpen agenda``: the team calendar day by day, recurring events expanded.

The same expansion as the desktop calendar (:mod:`bullpen.app.calendar.recurrence`): a weekly
forecast call shows on each of its days, a moved occurrence on its new day only, an all-day
event first.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from .common import add_json, emit, open_ws, table

MAX_DAYS = 366


def _first_day(text: str | None) -> dt.date:
    from bullpen.app.errors import UserError

    if not text:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--from {text!r}: use a date, YYYY-MM-DD") from None


def cmd_agenda(args: argparse.Namespace) -> int:
    from bullpen.app.calendar.recurrence import by_day, is_all_day
    from bullpen.app.errors import UserError

    if not 1 <= args.days <= MAX_DAYS:
        raise UserError(f"--days must be 1 to {MAX_DAYS}")
    first = _first_day(args.start)
    last = first + dt.timedelta(days=args.days - 1)
    ws = open_ws(args)
    try:
        shown = by_day(ws.list("event"), first, last)
    finally:
        ws.close()
    rows: list[dict[str, Any]] = [
        {"day": day.isoformat(), "all_day": is_all_day(event),
         "start": None if is_all_day(event) else begin.isoformat(timespec="minutes"),
         "title": event.get("title", ""), "location": event.get("location", ""),
         "id": event["id"], "repeats": bool(event.get("rrule"))}
        for day in sorted(shown) for event, begin in shown[day]]
    emit(args, rows, _human)
    return 0


def _human(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "nothing on the calendar in those days"
    return table([{**r, "time": "all day" if r["all_day"] else r["start"][11:],
                   "title": r["title"] + (" (repeats)" if r["repeats"] else "")} for r in rows],
                 [("day", "DAY"), ("time", "TIME"), ("title", "TITLE"), ("location", "WHERE"),
                  ("id", "ID")])


def register(sub: Any) -> None:
    p = sub.add_parser("agenda", help="the team calendar day by day, recurring events expanded")
    p.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default today)")
    p.add_argument("--days", type=int, default=7, help="how many days (default 7)")
    add_json(p)
    p.set_defaults(func=cmd_agenda)
