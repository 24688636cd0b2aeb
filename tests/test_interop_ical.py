"""iCalendar import/export: Outlook zones and overrides, Google all-day/UTC, damage, round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bullpen.app.interop.errors import InteropError
from bullpen.app.interop.ical import read_ical, write_ical

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
OUTLOOK_UID = "040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5"


def test_outlook_windows_zones_exdates_and_override() -> None:
    assert read_ical(FIXTURES / "outlook_calendar.ics") == [
        {
            "title": "Pipeline-Review",
            "start": "2026-12-15T09:00:00+01:00",
            "end": "2026-12-15T10:00:00+01:00",
            "all_day": False,
            "timezone": "Europe/Berlin",  # from "W. Europe Standard Time"
            "location": "Konferenzraum Köln",
            "attendees": ["anne.smith@contoso.com", "lee@example.com"],
            "description": "Weekly pipeline review.\nBring your forecast, please.",
            "rrule": "FREQ=WEEKLY;UNTIL=20270126T080000Z;INTERVAL=1;BYDAY=TU;WKST=MO",
            "exdates": ["2026-12-22T09:00:00+01:00", "2026-12-29T09:00:00+01:00"],
            "external_id": OUTLOOK_UID,
        },
        {
            "title": "Pipeline-Review (moved)",
            "start": "2027-01-05T10:30:00+01:00",
            "end": "2027-01-05T11:30:00+01:00",
            "all_day": False,
            "timezone": "Europe/Berlin",
            "location": "Teams",
            "external_id": f"{OUTLOOK_UID}#2027-01-05T09:00:00+01:00",
        },
        {  # daylight saving time in July
            "title": "Call with Contoso (summer)",
            "start": "2026-07-10T14:00:00-04:00",
            "end": "2026-07-10T15:00:00-04:00",
            "all_day": False,
            "timezone": "America/New_York",
            "external_id": "outlook-contoso-call",
        },
    ]


def test_google_all_day_utc_and_rrule() -> None:
    assert read_ical(FIXTURES / "google_calendar.ics") == [
        {  # DTEND of all-day events is exclusive, as in iCalendar and the Google API
            "title": "Office closed",
            "start": "2026-12-24",
            "end": "2026-12-26",
            "all_day": True,
            "external_id": "holiday-2026@google.com",
        },
        {
            "title": "Northwind demo",
            "start": "2026-12-15T17:00:00+00:00",
            "end": "2026-12-15T17:30:00+00:00",
            "all_day": False,
            "timezone": "UTC",
            "attendees": ["zoe@northwind.example", "sam@example.com"],
            "description": "Demo of the new reporting module. Join: "
            "https://meet.example.com/abc-defg-hij",
            "external_id": "7kukuqrfedlm2f9t0vr4g6frft@google.com",
        },
        {
            "title": "Stand-up",
            "start": "2026-12-01T09:00:00-05:00",
            "end": "2026-12-01T09:15:00-05:00",
            "all_day": False,
            "timezone": "America/New_York",
            "rrule": "FREQ=DAILY;COUNT=10;BYDAY=MO,TU,WE,TH,FR",
            "external_id": "standup-2026@google.com",
        },
        {
            "title": "New Year",
            "start": "2027-01-01",
            "end": "2027-01-02",
            "all_day": True,
            "rrule": "FREQ=YEARLY",
            "exdates": ["2028-01-01"],
            "external_id": "newyear@google.com",
        },
    ]


CUSTOM_ZONE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:custom
DTSTART;TZID="Customized Time Zone":20261215T100000
DURATION:PT45M
END:VEVENT
BEGIN:VEVENT
UID:floating
SUMMARY:Lunch
DTSTART:20261215T120000
END:VEVENT
END:VCALENDAR
"""


def test_unknown_zone_keeps_offset_and_floating_time_stays_floating(tmp_path: Path) -> None:
    path = tmp_path / "custom.ics"
    path.write_text(CUSTOM_ZONE, encoding="utf-8")
    assert read_ical(path) == [
        {
            "title": "(no title)",
            "start": "2026-12-15T10:00:00+05:30",
            "end": "2026-12-15T10:45:00+05:30",
            "all_day": False,
            "external_id": "custom",
        },
        {"title": "Lunch", "start": "2026-12-15T12:00:00", "all_day": False,
         "external_id": "floating"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_dates.ics", r"bad_dates\.ics: event 2 \(broken-2\): bad DTSTART"),
        ("truncated.ics", r"truncated\.ics: file is truncated \(BEGIN:VEVENT never ends\)"),
        ("binary_garbage.bin", r"binary_garbage\.bin: not a text file"),
        ("google_contacts.vcf", r"google_contacts\.vcf: not an iCalendar file"),
    ],
)
def test_malformed_files(name: str, message: str) -> None:
    with pytest.raises(InteropError, match=message):
        read_ical(FIXTURES / name)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("BEGIN:VEVENT\nUID:a\nSUMMARY:x\nEND:VEVENT", r"event 1 \(a\): no DTSTART"),
        ("BEGIN:VEVENT\nUID:b\nDTSTART:20260101T100000Z\nRRULE:FREQ=SOMETIMES\nEND:VEVENT",
         r"event 1 \(b\): bad RRULE"),
        ("BEGIN:VEVENT\nUID:c\nDTSTART:20260101\nEND:VTODO", "END:VTODO does not match"),
        ("BEGIN:VEVENT\nUID:d\nDTSTART:20260101\nNOT A CONTENT LINE\nEND:VEVENT",
         r"event 1 \(d\): bad content line"),
    ],
)  # fmt: skip
def test_malformed_events(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.ics"
    path.write_text(f"BEGIN:VCALENDAR\nVERSION:2.0\n{body}\nEND:VCALENDAR\n", encoding="utf-8")
    with pytest.raises(InteropError, match=message):
        read_ical(path)


EVENTS = [
    {
        "id": "ev-1",
        "title": "QBR, Acme; in person",
        "start": "2026-03-30T09:00:00+02:00",
        "end": "2026-03-30T10:30:00+02:00",
        "all_day": False,
        "timezone": "Europe/Berlin",
        "location": "Berlin",
        "attendees": ["a@example.com", "b@example.com"],
        "description": "Agenda:\n1. numbers\n2. renewal",
        "rrule": "FREQ=MONTHLY;BYDAY=-1MO;COUNT=6",
        "exdates": ["2026-04-27T09:00:00+02:00"],
        "external_id": "ext-1",
    },
    {
        "id": "ev-2",
        "title": "Trade show",
        "start": "2026-06-01",
        "end": "2026-06-04",
        "all_day": True,
        "exdates": ["2026-06-02"],
        "rrule": "FREQ=YEARLY",
    },
    {
        "id": "ev-3",
        "title": "Moved QBR",
        "start": "2026-05-26T14:00:00+02:00",
        "all_day": False,
        "timezone": "Europe/Berlin",
        "external_id": "ext-1#2026-05-25T09:00:00+02:00",
    },
]


def _fields(event: dict) -> dict:
    """What an import yields: no record id; the UID is the external id or else the record id."""
    out = {k: v for k, v in event.items() if k != "id"}
    out.setdefault("external_id", event["id"])
    return out


def test_write_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "out.ics"
    write_ical(path, EVENTS)
    text = path.read_bytes().decode("utf-8")
    for line in (
        "BEGIN:VCALENDAR", "PRODID:-//Bullpen//EN", "VERSION:2.0", "TZID:Europe/Berlin",
        "DTSTART;TZID=Europe/Berlin:20260330T090000", "DTSTART;VALUE=DATE:20260601",
        "EXDATE;VALUE=DATE:20260602", "RRULE:FREQ=MONTHLY;BYDAY=-1MO;COUNT=6",
        "ATTENDEE:mailto:a@example.com", "UID:ev-2",
        "RECURRENCE-ID;TZID=Europe/Berlin:20260525T090000",
    ):  # fmt: skip
        assert line + "\r\n" in text
    assert "BEGIN:VTIMEZONE" in text
    assert read_ical(path) == [_fields(e) for e in EVENTS]


def test_fixture_round_trip(tmp_path: Path) -> None:
    events = read_ical(FIXTURES / "outlook_calendar.ics") + read_ical(
        FIXTURES / "google_calendar.ics"
    )
    path = tmp_path / "rt.ics"
    write_ical(path, events)
    assert read_ical(path) == events


def test_offset_without_zone_is_written_in_utc(tmp_path: Path) -> None:
    """iCalendar cannot say "+05:30" without a zone; the instant survives, in UTC."""
    path = tmp_path / "utc.ics"
    write_ical(path, [{"title": "x", "start": "2026-12-15T10:00:00+05:30", "external_id": "u"}])
    (event,) = read_ical(path)
    assert event["start"] == "2026-12-15T04:30:00+00:00"
    assert dt.datetime.fromisoformat(event["start"]) == dt.datetime.fromisoformat(
        "2026-12-15T10:00:00+05:30"
    )


def test_write_refuses_a_bad_rrule(tmp_path: Path) -> None:
    with pytest.raises(InteropError, match=r"bad\.ics: event 1 \(x\)"):
        write_ical(tmp_path / "bad.ics", [{"title": "x", "start": "2026-01-01", "all_day": True,
                                           "rrule": "FREQ=SOMETIMES"}])  # fmt: skip
