"""Calendar: recurring events on every occurrence, all-day events over the days they cover."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QDate
from ui_helpers import settle

from bullpen.app.calendar.recurrence import days_of, moved_occurrences
from bullpen.app.interop.ical import read_ical

FIXTURES = Path(__file__).parent / "fixtures" / "interop"


def _week_titles(calendar) -> dict[dt.date, list[str]]:
    out = {}
    for i, cards in enumerate(calendar.day_lists):
        day = calendar.week_start + dt.timedelta(days=i)
        out[day] = [cards.item(r).text() for r in range(cards.count())]
    return out


def _open_calendar(qtbot, app_session):
    window = app_session.window
    window.go(list(window.screens).index("Calendar"))
    calendar = window.screen("Calendar")
    settle(qtbot)
    return calendar


def test_weekly_rule_skips_exdates_and_stops(qtbot, session) -> None:
    calendar = _open_calendar(qtbot, session)
    session.ws.add("event", {"title": "Pipeline review", "start": "2031-03-03T09:00",
                             "end": "2031-03-03T10:00", "rrule": "FREQ=WEEKLY;COUNT=4",
                             "exdates": ["2031-03-17T09:00"]})
    session.ws.add("event", {"title": "Standup", "start": "2031-03-04T08:30",
                             "rrule": "FREQ=DAILY;UNTIL=20310306T000000Z"})
    settle(qtbot)
    seen = {}
    for monday in ("2031-03-03", "2031-03-10", "2031-03-17", "2031-03-24", "2031-03-31"):
        calendar.week_start = dt.date.fromisoformat(monday)
        calendar._draw()  # what the ◀ ▶ buttons do
        settle(qtbot)  # expanded on a worker
        for day, lines in _week_titles(calendar).items():
            if any("Pipeline review" in line for line in lines):
                seen[day] = [line for line in lines if "Pipeline review" in line][0]
    assert sorted(seen) == [dt.date(2031, 3, 3), dt.date(2031, 3, 10), dt.date(2031, 3, 24)]
    assert seen[dt.date(2031, 3, 24)].startswith("09:00")
    calendar.week_start = dt.date(2031, 3, 3)
    calendar._draw()
    settle(qtbot)  # expanded on a worker
    standups = [day for day, lines in _week_titles(calendar).items()
                if any("Standup" in line for line in lines)]
    assert standups == [dt.date(2031, 3, 4), dt.date(2031, 3, 5)]  # UNTIL is in UTC

    calendar.pages.setCurrentIndex(1)  # the month view bolds every occurrence
    calendar.calendar.setCurrentPage(2031, 3)
    calendar.calendar.setSelectedDate(QDate(2031, 3, 24))
    calendar._draw()
    settle(qtbot)  # expanded on a worker
    bold = {d.toPython() for d in calendar._bold_days}
    assert {dt.date(2031, 3, 10), dt.date(2031, 3, 24)} <= bold
    assert dt.date(2031, 3, 17) not in bold
    assert any("Pipeline review" in calendar.day_list.item(r).text()
               for r in range(calendar.day_list.count()))


def test_all_day_end_is_exclusive(qtbot, session) -> None:
    calendar = _open_calendar(qtbot, session)
    session.ws.add("event", {"title": "Trade show", "start": "2031-05-06", "end": "2031-05-09",
                             "all_day": True})
    settle(qtbot)
    calendar.week_start = dt.date(2031, 5, 5)
    calendar._draw()
    settle(qtbot)  # expanded on a worker
    days = [day for day, lines in _week_titles(calendar).items()
            if any("Trade show" in line for line in lines)]
    assert days == [dt.date(2031, 5, 6), dt.date(2031, 5, 7), dt.date(2031, 5, 8)]


def test_days_of_handles_overnight_and_bad_rules() -> None:
    overnight = {"start": "2031-01-01T22:00+01:00", "end": "2031-01-02T02:00+01:00"}
    assert sorted(days_of(overnight, dt.date(2031, 1, 1), dt.date(2031, 1, 7))) == [
        dt.date(2031, 1, 1), dt.date(2031, 1, 2)]
    broken = {"start": "2031-01-01T10:00", "rrule": "FREQ=SOMETIMES"}
    assert list(days_of(broken, dt.date(2031, 1, 1), dt.date(2031, 1, 7))) == [
        dt.date(2031, 1, 1)]


def test_outlook_series_skips_its_moved_occurrence_and_keeps_its_last_one() -> None:
    events = read_ical(FIXTURES / "outlook_calendar.ics")
    series = next(e for e in events if e.get("rrule"))
    moved = moved_occurrences(events)[series["external_id"]]
    days = sorted(days_of(series, dt.date(2026, 12, 1), dt.date(2027, 2, 28), moved))
    # 22 and 29 Dec are EXDATEs, 5 Jan was moved to 10:30 (its own event); UNTIL is 26 Jan
    # 08:00 UTC, which is that day's 09:00 occurrence in Berlin
    assert days == [dt.date(2026, 12, 15), dt.date(2027, 1, 12), dt.date(2027, 1, 19),
                    dt.date(2027, 1, 26)]


def test_calendar_shows_a_moved_occurrence_once(qtbot, session) -> None:
    calendar = _open_calendar(qtbot, session)
    for fields in read_ical(FIXTURES / "outlook_calendar.ics"):
        session.ws.add("event", fields)
    settle(qtbot)
    calendar.week_start = dt.date(2027, 1, 4)
    calendar._draw()
    settle(qtbot)  # expanded on a worker
    tuesday = _week_titles(calendar)[dt.date(2027, 1, 5)]
    assert [line for line in tuesday if "Pipeline-Review" in line] == [
        next(line for line in tuesday if "(moved)" in line)]
    assert tuesday[0].startswith("10:30")
