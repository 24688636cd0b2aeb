"""``bullpen agenda`` and ``event --repeat``: the CLI expands recurring events as the desktop
calendar does (issue 14: the expansion moved out of ui/ so the CLI could use it)."""

from __future__ import annotations


def test_a_weekly_call_shows_on_each_of_its_days(cli):
    call = cli.out("event", "add", "--title", "Forecast call", "--start", "2026-12-07T09:00",
                   "--end", "2026-12-07T09:30", "--repeat", "FREQ=WEEKLY;BYDAY=MO")
    cli.out("event", "add", "--title", "Offsite", "--start", "2026-12-09", "--all-day", "yes")
    rows = cli.json("agenda", "--from", "2026-12-01", "--days", "21")
    assert [(r["day"], r["title"]) for r in rows] == [
        ("2026-12-07", "Forecast call"), ("2026-12-09", "Offsite"),
        ("2026-12-14", "Forecast call"), ("2026-12-21", "Forecast call")]
    assert {r["id"] for r in rows if r["repeats"]} == {call}
    assert [r["start"] for r in rows if not r["all_day"]] == [
        "2026-12-07T09:00", "2026-12-14T09:00", "2026-12-21T09:00"]
    assert "Forecast call (repeats)" in cli.out("agenda", "--from", "2026-12-14", "--days", "1")


def test_bad_input_is_one_line_and_nothing_is_written(cli):
    cli.fails("event", "add", "--title", "X", "--start", "2026-12-07T09:00", "--repeat",
              "garbage", needle="not an iCalendar rule")
    cli.fails("agenda", "--from", "2026-13-01", needle="use a date")
    cli.fails("agenda", "--days", "0", needle="--days must be 1 to 366")
    assert cli.json("event", "list") == []
    assert cli.out("agenda") == "nothing on the calendar in those days"
