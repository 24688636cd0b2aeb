"""Recurrence expansion is bounded in occurrences and time, and the calendar runs it off the
GUI thread: an imported ``FREQ=SECONDLY;COUNT=999999999`` once took 10.7 s there."""

from __future__ import annotations

import datetime as dt
import sys
import time

import pytest
from PySide6.QtCore import QTimer
from ui_helpers import settle, wait

from bullpen.app.calendar import recurrence
from bullpen.app.calendar.recurrence import by_day, occurrence_starts

DECEMBER = (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
EVERY_SECOND = {"start": "2026-12-01T09:00", "rrule": "FREQ=SECONDLY;COUNT=999999999"}
# matches nothing: dateutil searches up to year 9999 without yielding (11 s)
NEVER = {"start": "1900-01-01T09:00", "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}


@pytest.fixture(autouse=True)
def _uncached():
    """Each test expands afresh (expansions of a window are kept between calls)."""
    recurrence._expanded.cache_clear()


def _timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def test_a_rule_firing_every_second_keeps_at_most_the_cap() -> None:
    found, took = _timed(occurrence_starts, EVERY_SECOND, *DECEMBER)
    assert len(found) == recurrence.MAX_OCCURRENCES
    assert found[:2] == [dt.datetime(2026, 12, 1, 9), dt.datetime(2026, 12, 1, 9, 0, 1)]
    assert took < 2


def test_a_rule_that_never_matches_stops_at_its_budget() -> None:
    found, took = _timed(occurrence_starts, NEVER, *DECEMBER)
    assert found == []
    assert took < 2  # BUDGET_S is 0.1 s; unbounded, this takes seconds


def test_a_rule_started_long_before_the_window_is_given_up_not_followed() -> None:
    """Reaching December second by second from November is MAX_SCANNED occurrences away."""
    early = {**EVERY_SECOND, "start": "2026-11-01T09:00"}
    found, took = _timed(occurrence_starts, early, *DECEMBER)
    assert found == [] and took < 2


def test_bounds_leave_ordinary_rules_alone_and_restore_the_profiler() -> None:
    def profiler(_frame, _event, _arg):
        return None

    sys.setprofile(profiler)
    try:
        weekly = {"start": "2020-01-06T09:00", "rrule": "FREQ=WEEKLY;BYDAY=MO"}
        assert occurrence_starts(weekly, *DECEMBER) == [
            dt.datetime(2026, 12, d, 9) for d in (7, 14, 21, 28)]
        birthday = {"start": "1990-12-05", "rrule": "FREQ=YEARLY", "all_day": True}
        assert occurrence_starts(birthday, *DECEMBER) == [dt.datetime(2026, 12, 5)]
        three = {"start": "2026-12-30T09:00", "rrule": "FREQ=DAILY;COUNT=3"}
        assert occurrence_starts(three, *DECEMBER) == [dt.datetime(2026, 12, 30, 9),
                                                       dt.datetime(2026, 12, 31, 9)]
        assert sys.getprofile() is profiler
    finally:
        sys.setprofile(None)


def test_by_day_over_many_hostile_events_is_bounded() -> None:
    # distinct starts: one window's expansion of a rule and start is kept and reused
    events = [{**NEVER, "id": f"n{i}", "title": "x", "start": f"1900-01-01T09:{i:02d}"}
              for i in range(10)]
    events.append({**EVERY_SECOND, "id": "s", "title": "every second"})
    shown, took = _timed(by_day, events, *DECEMBER)
    # its 500 occurrences all fall on its first day, which shows it once
    assert shown == {dt.date(2026, 12, 1): [(events[-1], dt.datetime(2026, 12, 1, 9))]}
    assert took < 10  # 11 budgets of 0.1 s; unbounded, over two minutes


def test_the_calendar_expands_off_the_gui_thread(qtbot, session) -> None:
    """Twenty rules that each use their whole budget: two seconds of expansion, during
    which the GUI thread keeps turning."""
    window = session.window
    window.go(list(window.screens).index("Calendar"))
    calendar = window.screen("Calendar")
    settle(qtbot)  # its first load done, so it cannot land after the events below
    for n in range(20):
        session.ws.add("event", {"title": f"Never {n}", "start": f"2000-01-03T09:{n:02d}",
                                 "rrule": NEVER["rrule"]})
    session.ws.add("event", {"title": "Every second", "start": "2031-03-03T09:00",
                             "rrule": EVERY_SECOND["rrule"]})
    titles = {f"Never {n}" for n in range(20)} | {"Every second"}
    wait(qtbot, lambda: titles <= {e.get("title") for e in calendar.events.values()})
    settle(qtbot)
    beats: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start(10)
    calendar.week_start = dt.date(2031, 3, 3)
    started = time.perf_counter()
    calendar._draw()
    returned = time.perf_counter() - started
    settle(qtbot)
    timer.stop()
    assert returned < 0.5  # not the 2 s of expansion
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert gaps and max(gaps) < 1.5, max(gaps)  # on the GUI thread: over 2 s
    monday = [calendar.day_lists[0].item(r).text() for r in range(calendar.day_lists[0].count())]
    assert monday == ["09:00  Every second ⟳"]
