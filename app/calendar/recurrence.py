"""Which days an event covers in a window: recurrences expanded, all-day ends exclusive.

Events keep their RRULE and EXDATEs as iCalendar wrote them (``app.interop.ical``), and an
all-day event's end date is the day *after* its last day (RFC 5545). The calendar asks for one
visible week or month at a time, so a rule without an end is only expanded over that window.
Times are compared as the wall-clock times the event was stored in (its own zone), which is
also what the calendar shows.

Rules come from anyone's calendar file, so expansion is bounded: a rule is followed only up to
the window's end and at most MAX_SPAN_YEARS from its start, at most MAX_SCANNED occurrences
from its start and for BUDGET_S seconds (:func:`_expand`), and at most MAX_OCCURRENCES are
kept per window: ``FREQ=SECONDLY;COUNT=999999999`` costs milliseconds instead of ten
seconds. Qt-free, so the CLI and the desktop app's worker threads share it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sys
import time
import warnings
from collections.abc import Iterable, Set
from typing import Any

from dateutil.rrule import rrule, rrulestr

from bullpen.app.interop.ical import split_override_id, zone

_UNTIL_UTC = re.compile(r"UNTIL=(\d{8})(T\d{6})?Z", re.IGNORECASE)
MAX_DAYS = 366  # one event never paints more than a year of days (a bad end date)
MAX_OCCURRENCES = 500  # of one event in one window: more cannot be told apart on screen
MAX_SCANNED = 20_000  # occurrences read from a rule's start on the way to the window
MAX_SPAN_YEARS = 200  # how far after its start a rule is followed
BUDGET_S = 0.1  # per event and window
Shown = dict[dt.date, list[tuple[dict[str, Any], dt.datetime]]]


def parse_when(text: str | None) -> dt.datetime | None:
    """An ISO date or date-time as a naive wall-clock datetime (None if unreadable)."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text) if len(text) > 10 else \
            dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    except ValueError:
        return None
    return value.replace(tzinfo=None)


def _event_zone(event: dict[str, Any]) -> dt.tzinfo | None:
    """The zone the event's wall-clock times are in: its named zone, else its start's offset."""
    named = zone(event.get("timezone"))
    if named is not None:
        return named
    try:
        return dt.datetime.fromisoformat(event.get("start") or "").tzinfo
    except ValueError:
        return None


def _wall_clock_rule(rule_text: str, event: dict[str, Any]) -> str:
    """The rule with a UTC UNTIL turned into the event's wall-clock time, the frame the
    expansion runs in. Outlook writes UNTIL as the last occurrence's start in UTC: read as
    wall-clock it would cut that last occurrence off (09:00 CET is 08:00Z)."""
    tz = _event_zone(event)

    def local(found: re.Match[str]) -> str:
        day, time = found.group(1), found.group(2) or "T000000"
        if tz is None:
            return f"UNTIL={day}{time}"
        until = dt.datetime.strptime(day + time, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        return until.astimezone(tz).strftime("UNTIL=%Y%m%dT%H%M%S")

    return _UNTIL_UTC.sub(local, rule_text)


def check_rule(rule_text: str) -> None:
    """Raise ValidationError (one line for the user) unless ``rule_text`` is one iCalendar
    recurrence rule ("FREQ=WEEKLY;BYDAY=MO"): a rule no client can expand would be kept and
    shown nowhere."""
    from bullpen.app.fields import ValidationError

    try:
        rule = rrulestr(rule_text, dtstart=dt.datetime(2000, 1, 1))
    except (ValueError, TypeError):
        raise ValidationError(f"repeat rule {rule_text!r} is not an iCalendar rule such as "
                              f"FREQ=WEEKLY;BYDAY=MO") from None
    if not isinstance(rule, rrule):
        raise ValidationError(f"repeat rule {rule_text!r}: give one rule, not a set")


def is_all_day(event: dict[str, Any]) -> bool:
    return bool(event.get("all_day")) or len(event.get("start") or "") <= 10


def _days_spanned(event: dict[str, Any], start: dt.datetime) -> int:
    """How many calendar days one occurrence covers (at least one)."""
    end = parse_when(event.get("end"))
    if end is None or end <= start:
        return 1
    if is_all_day(event):
        days = (end.date() - start.date()).days  # the end date is exclusive
    else:
        days = ((end - dt.timedelta(microseconds=1)).date() - start.date()).days + 1
    return max(1, min(days, MAX_DAYS))


def moved_occurrences(events: Iterable[dict[str, Any]]) -> dict[str, set[dt.datetime]]:
    """Series external_id -> original starts of its occurrences that were changed.

    Outlook and Google export a moved or retitled occurrence of a recurring meeting as its own
    event (RECURRENCE-ID; imported with external_id "UID#<original start>"), without an
    EXDATE on the series: the series must skip that occurrence, or it shows twice."""
    out: dict[str, set[dt.datetime]] = {}
    for event in events:
        series, original = split_override_id(str(event.get("external_id") or ""))
        when = parse_when(original)
        if when is not None:
            out.setdefault(series, set()).add(when)
    return out


def occurrence_starts(event: dict[str, Any], first: dt.date, last: dt.date,
                      moved: Set[dt.datetime] = frozenset()) -> list[dt.datetime]:
    """Starts of the event's occurrences that touch ``[first, last]`` (days, inclusive),
    without its EXDATEs and the ``moved`` ones (:func:`moved_occurrences`).

    A rule the calendar cannot read shows the first occurrence only, rather than nothing."""
    start = parse_when(event.get("start"))
    if start is None:
        return []
    span = dt.timedelta(days=_days_spanned(event, start) - 1)
    low = dt.datetime.combine(first, dt.time()) - span
    high = dt.datetime.combine(last, dt.time.max)
    rule_text = (event.get("rrule") or "").strip()
    if not rule_text:
        return [start] if low.date() <= start.date() <= high.date() else []
    try:
        # Wall-clock times throughout: a UTC UNTIL would clash with a naive start.
        found = _expanded(_wall_clock_rule(rule_text, event), start, min(low, high), high)
    except (ValueError, TypeError, OverflowError):
        return [start] if low.date() <= start.date() <= high.date() else []
    skipped = ({parse_when(x) for x in event.get("exdates") or []} | set(moved)) - {None}
    skipped_days = {x.date() for x in skipped if x is not None}
    all_day = is_all_day(event)
    return [s for s in found if s not in skipped and not (all_day and s.date() in skipped_days)
            and s.date() >= low.date()]


@functools.lru_cache(maxsize=4096)
def _expanded(rule_text: str, start: dt.datetime, low: dt.datetime, high: dt.datetime
              ) -> tuple[dt.datetime, ...]:
    """Occurrences of one rule in one window, kept: the calendar redraws the same window on
    every change, and a rule that spends its whole budget would spend it each time."""
    rule = rrulestr(rule_text, dtstart=start)
    if not isinstance(rule, rrule):
        raise ValueError("not a single rule")
    return tuple(_expand(rule, start, low, high))


class _OverBudget(Exception):
    """Raised inside dateutil's loop when an expansion's time is spent."""


def _expand(rule: rrule, start: dt.datetime, low: dt.datetime, high: dt.datetime
            ) -> list[dt.datetime]:
    """Occurrences of ``rule`` in ``[low, high]``, within the module's bounds.

    dateutil checks UNTIL only against occurrences it finds: a rule that matches nothing
    (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) searches up to year 9999 without yielding, which
    takes seconds. A profile hook is the one way to stop a loop that never yields: it is
    called on each function call in this thread and raises once BUDGET_S is spent."""
    try:
        horizon = min(high, start.replace(year=start.year + MAX_SPAN_YEARS))
    except ValueError:  # 29 February, or past year 9999
        horizon = high
    if low > horizon:
        return []
    until = rule._until  # noqa: SLF001 - dateutil has no public reader of UNTIL
    with warnings.catch_warnings():
        # UNTIL beside COUNT: deprecated by dateutil but exact (whichever ends first)
        warnings.simplefilter("ignore", DeprecationWarning)
        rule = rule.replace(until=min(until, horizon) if until else horizon)
    deadline = time.monotonic() + BUDGET_S
    armed = True  # cleared before the hook is removed: removing it is a call it sees

    def over_budget(_frame: Any, _event: str, _arg: Any) -> None:
        if armed and time.monotonic() > deadline:
            raise _OverBudget

    found: list[dt.datetime] = []
    previous = sys.getprofile()
    sys.setprofile(over_budget)
    try:
        for scanned, when in enumerate(rule):
            if when >= low:
                found.append(when)
            if len(found) >= MAX_OCCURRENCES or scanned >= MAX_SCANNED:
                break
    except _OverBudget:
        pass
    finally:
        armed = False
        sys.setprofile(previous)
    return found


def by_day(events: Iterable[dict[str, Any]], first: dt.date, last: dt.date) -> Shown:
    """Each day of ``[first, last]`` -> (event, start of its occurrence there), in time order
    (all-day events first): what a calendar shows for that window."""
    events = list(events)
    out: Shown = {}
    moved = moved_occurrences(events)
    for event in events:
        skip = moved.get(str(event.get("external_id") or ""), frozenset())
        for day, begin in days_of(event, first, last, skip).items():
            out.setdefault(day, []).append((event, begin))
    for found in out.values():
        found.sort(key=lambda pair: (not is_all_day(pair[0]), pair[1]))
    return out


def days_of(event: dict[str, Any], first: dt.date, last: dt.date,
            moved: Set[dt.datetime] = frozenset()) -> dict[dt.date, dt.datetime]:
    """Each day in ``[first, last]`` the event covers -> the start of the occurrence there."""
    start = parse_when(event.get("start"))
    if start is None:
        return {}
    length = _days_spanned(event, start)
    out: dict[dt.date, dt.datetime] = {}
    for begin in occurrence_starts(event, first, last, moved):
        for offset in range(length):
            day = begin.date() + dt.timedelta(days=offset)
            if first <= day <= last:
                out.setdefault(day, begin)
    return out
