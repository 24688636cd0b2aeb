"""Period parsing: the boundaries every forecast and leaderboard relies on."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bullpen.app.sales.periods import Period, current_period, parse_period, week_label

D = dt.date


@pytest.mark.parametrize(
    ("text", "start", "end", "label", "kind"),
    [
        ("2026", D(2026, 1, 1), D(2026, 12, 31), "2026", "year"),
        ("2026-Q1", D(2026, 1, 1), D(2026, 3, 31), "2026-Q1", "quarter"),
        ("2026-q4", D(2026, 10, 1), D(2026, 12, 31), "2026-Q4", "quarter"),
        ("2026-11", D(2026, 11, 1), D(2026, 11, 30), "2026-11", "month"),
        ("2026-2", D(2026, 2, 1), D(2026, 2, 28), "2026-02", "month"),
        ("2028-02", D(2028, 2, 1), D(2028, 2, 29), "2028-02", "month"),
        ("2026-12", D(2026, 12, 1), D(2026, 12, 31), "2026-12", "month"),
        ("2026-W48", D(2026, 11, 23), D(2026, 11, 29), "2026-W48", "week"),
        ("2026-w1", D(2025, 12, 29), D(2026, 1, 4), "2026-W01", "week"),
        ("2026-W53", D(2026, 12, 28), D(2027, 1, 3), "2026-W53", "week"),
        (" 2026-Q2 ", D(2026, 4, 1), D(2026, 6, 30), "2026-Q2", "quarter"),
    ],
)
def test_parse(text, start, end, label, kind):
    period = parse_period(text)
    assert period == (start, end, label)
    assert period.kind == kind
    assert parse_period(period) is period


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Q4", "not understood"),
        ("2026-Q5", "quarter must be Q1 to Q4"),
        ("2026-Q0", "quarter must be Q1 to Q4"),
        ("2026-13", "month must be 01 to 12"),
        ("2026-00", "month must be 01 to 12"),
        ("2025-W53", "ISO year 2025 has weeks W01 to W52"),
        ("2026-W00", "W01 to W53"),
        ("26", "not understood"),
        ("2026-11-01", "not understood"),
        ("", "use 2026 (year), 2026-Q4 (quarter), 2026-11 (month) or 2026-W48 (ISO week)"),
    ],
)
def test_bad_input_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_period(text)


def test_contains_is_inclusive_at_both_ends():
    q4 = parse_period("2026-Q4")
    assert q4.contains("2026-10-01")
    assert q4.contains("2026-12-31")
    assert q4.contains("2026-12-31T23:59:59+00:00")
    assert not q4.contains("2026-09-30")
    assert not q4.contains("2027-01-01")
    assert not q4.contains(None)
    assert not q4.contains("")


@pytest.mark.parametrize(
    ("kind", "label"),
    [("year", "2026"), ("quarter", "2026-Q4"), ("month", "2026-11"), ("week", "2026-W48")],
)
def test_current_period(kind, label):
    assert current_period(kind, D(2026, 11, 25)).label == label


def test_current_week_crosses_the_year():
    assert current_period("week", D(2027, 1, 1)).label == "2026-W53"
    assert current_period("quarter", dt.datetime(2026, 3, 31, 23, 0)).label == "2026-Q1"


def test_current_period_rejects_unknown_kind():
    with pytest.raises(ValueError, match="'fortnight' is not one of: year, quarter, month, week"):
        current_period("fortnight", D(2026, 1, 1))


def test_week_label():
    assert week_label("2026-11-25T10:00:00+00:00") == "2026-W48"
    with pytest.raises(ValueError, match="not an ISO date"):
        week_label("yesterday")


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31)),
    st.sampled_from(["year", "quarter", "month", "week"]),
)
def test_current_period_contains_today_and_round_trips(day, kind):
    period = current_period(kind, day)
    assert period.start <= day <= period.end
    assert parse_period(period.label) == period
    assert isinstance(period, Period)
