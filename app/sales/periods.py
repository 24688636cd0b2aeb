"""Reporting periods: years, quarters, months and ISO weeks, named the way people type them.

A period is parsed once into inclusive ISO date bounds so that callers can test membership by
comparing ``YYYY-MM-DD`` strings as text, which is much cheaper than parsing a date per record
when a forecast walks ten thousand opportunities.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

PERIOD_KINDS = ("year", "quarter", "month", "week")

_FORMS = "use 2026 (year), 2026-Q4 (quarter), 2026-11 (month) or 2026-W48 (ISO week)"
_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?:[Qq](?P<quarter>\d)|[Ww](?P<week>\d{1,2})|(?P<month>\d{1,2})))?$"
)


class Period(NamedTuple):
    """Inclusive date range plus the canonical label used as a key (quotas, snapshots)."""

    start: dt.date
    end: dt.date
    label: str

    @property
    def kind(self) -> str:
        """Which of ``PERIOD_KINDS`` this is, read back from the canonical label."""
        if len(self.label) == 4:
            return "year"
        marker = self.label[5]
        return {"Q": "quarter", "W": "week"}.get(marker, "month")

    @property
    def start_iso(self) -> str:
        return self.start.isoformat()

    @property
    def end_iso(self) -> str:
        return self.end.isoformat()

    def contains(self, iso_date: str | None) -> bool:
        """Whether an ISO date (or date-time: only its date part counts) falls in the period."""
        if not iso_date:
            return False
        day = iso_date[:10]
        return self.start_iso <= day <= self.end_iso


def _year(year: int) -> Period:
    return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), f"{year:04d}")


def _month(year: int, month: int) -> Period:
    start = dt.date(year, month, 1)
    following = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return Period(start, following - dt.timedelta(days=1), f"{year:04d}-{month:02d}")


def _quarter(year: int, quarter: int) -> Period:
    first = _month(year, 3 * quarter - 2)
    last = _month(year, 3 * quarter)
    return Period(first.start, last.end, f"{year:04d}-Q{quarter}")


def _week(year: int, week: int) -> Period:
    start = dt.date.fromisocalendar(year, week, 1)
    return Period(start, start + dt.timedelta(days=6), f"{year:04d}-W{week:02d}")


def _weeks_in(year: int) -> int:
    """ISO years have 52 or 53 weeks; 28 December is always in the last one."""
    return dt.date(year, 12, 28).isocalendar().week


def parse_period(text: str | Period) -> Period:
    """Parse ``2026``, ``2026-Q4``, ``2026-11`` or ``2026-W48``; a Period passes through.

    Raises ValueError naming the input and the accepted forms, because this text usually comes
    straight from a user (CLI flag, filter box).
    """
    if isinstance(text, Period):
        return text
    raw = str(text).strip()
    match = _PATTERN.match(raw)
    if match is None:
        raise ValueError(f"period {text!r} is not understood: {_FORMS}")
    year = int(match["year"])
    if year < 1:
        raise ValueError(f"period {text!r}: year must be 0001 or later")
    if match["quarter"] is not None:
        quarter = int(match["quarter"])
        if not 1 <= quarter <= 4:
            raise ValueError(f"period {text!r}: quarter must be Q1 to Q4")
        return _quarter(year, quarter)
    if match["month"] is not None:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"period {text!r}: month must be 01 to 12")
        return _month(year, month)
    if match["week"] is not None:
        week = int(match["week"])
        last = _weeks_in(year)
        if not 1 <= week <= last:
            raise ValueError(f"period {text!r}: ISO year {year} has weeks W01 to W{last}")
        return _week(year, week)
    return _year(year)


def current_period(kind: str, today: dt.date | None = None) -> Period:
    """The year, quarter, month or ISO week containing ``today`` (default: the local date)."""
    day = today or dt.date.today()
    if isinstance(day, dt.datetime):
        day = day.date()
    if kind == "year":
        return _year(day.year)
    if kind == "quarter":
        return _quarter(day.year, (day.month - 1) // 3 + 1)
    if kind == "month":
        return _month(day.year, day.month)
    if kind == "week":
        iso = day.isocalendar()
        return _week(iso.year, iso.week)
    raise ValueError(f"period kind {kind!r} is not one of: {', '.join(PERIOD_KINDS)}")


def week_label(iso_datetime: str) -> str:
    """ISO week label (``2026-W48``) of an ISO date or date-time, for weekly bucketing."""
    try:
        day = dt.date.fromisoformat(iso_datetime[:10])
    except ValueError:
        raise ValueError(f"{iso_datetime!r} is not an ISO date or date-time") from None
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"
