"""Import and export calendar events as iCalendar (.ics) for Outlook, Google and Apple.

Meetings with customers live in the reps' own calendars, so Bullpen reads what those programs
export and writes files they open. Times are kept as ISO text in the event's own time zone
(a 9:00 meeting in Berlin stays "09:00+01:00", not a UTC instant) because that is what a person
reads and what survives a trip through another calendar. Outlook names zones the Windows way
("W. Europe Standard Time"); those are mapped to IANA names so every peer can compute offsets.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from bullpen.app.interop.common import read_text, unique, write_atomically
from bullpen.app.interop.errors import InteropError
from bullpen.crdt.schema import ValidationError
from bullpen.crdt.validation import validate

PRODID = "-//Bullpen//EN"
UNTITLED = "(no title)"
_UTC_NAMES = {"UTC", "Etc/UTC", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT", "Z"}
_OVERRIDE_SEP = "#"  # external_id of a changed occurrence: "UID#RECURRENCE-ID"


def zone(name: str | None) -> ZoneInfo | None:
    """An IANA zone for an IANA or Windows zone name, or None when neither is known."""
    if not name:
        return None
    name = name.strip().strip('"')
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --- reading -------------------------------------------------------------------------------


def read_ical(path: str | os.PathLike[str], notes: list[str] | None = None
              ) -> list[dict[str, Any]]:
    """Read every VEVENT in an .ics file as event fields (validated for the "event" kind).

    A changed occurrence of a recurring meeting (RECURRENCE-ID) becomes an event of its own
    with external_id "UID#<original start>", so it can be matched again on the next import.
    Raises InteropError naming the file (and the event) for anything that is not a usable
    calendar: bad dates, bad recurrence rules, a truncated file. What was kept in another
    form (a time zone no one knows) is added to ``notes``, for the user to see.
    """
    text = read_text(path)
    _check_nesting(text, path)
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except ValueError as exc:
        reason = str(exc).splitlines()[0]
        raise InteropError(f"{path}: damaged calendar file ({reason})") from None
    events = []
    for calendar in calendars:
        for number, event in enumerate(calendar.walk("VEVENT"), start=len(events) + 1):
            where = f"{path}: event {number} ({event.get('UID', 'no UID')})"
            try:
                events.append(validate("event", _event_fields(event, where, notes)))
            except ValidationError as exc:
                raise InteropError(f"{where}: {exc}") from None
    return events


def _check_nesting(text: str, path: str | os.PathLike[str]) -> None:
    """Refuse truncated files up front: icalendar quietly drops an unterminated VEVENT."""
    open_blocks: list[str] = []
    for line in text.splitlines():
        key, _, name = line.rstrip().upper().partition(":")  # folded lines start with a space
        if key == "BEGIN":
            open_blocks.append(name)
        elif key == "END" and (not open_blocks or open_blocks.pop() != name):
            raise InteropError(f"{path}: END:{name} does not match an open BEGIN")
    if open_blocks:
        raise InteropError(f"{path}: file is truncated (BEGIN:{open_blocks[-1]} never ends)")
    if "BEGIN:VCALENDAR" not in text.upper():
        raise InteropError(f"{path}: not an iCalendar file (no BEGIN:VCALENDAR)")


def _event_fields(event: icalendar.Event, where: str, notes: list[str] | None = None
                  ) -> dict[str, Any]:
    if event.errors:
        prop, reason = event.errors[0]
        raise InteropError(f"{where}: bad {prop or 'content line'} ({reason})")
    start_prop = _one(event, "DTSTART", where)
    if start_prop is None:
        raise InteropError(f"{where}: no DTSTART")
    start = start_prop.dt
    tzid = start_prop.params.get("TZID")
    tz = _event_zone(start, tzid)
    all_day = not isinstance(start, dt.datetime)
    if tzid and tz is None and not all_day and notes is not None:
        kept = "fixed UTC offsets" if start.tzinfo else "floating local times (no zone)"
        notes.append(f"{where}: unknown time zone {str(tzid)!r}: its times are kept as {kept}")
    end_prop, duration = _one(event, "DTEND", where), _one(event, "DURATION", where)
    end: Any = end_prop.dt if end_prop is not None else None
    if end is None and duration is not None:
        end = start + duration.dt
    uid = str(_one(event, "UID", where) or "").strip()
    recurrence_id = _one(event, "RECURRENCE-ID", where)
    if recurrence_id is not None and uid:
        uid = f"{uid}{_OVERRIDE_SEP}{_iso(recurrence_id.dt, tz)}"
    fields: dict[str, Any] = {
        "title": str(_one(event, "SUMMARY", where) or "").strip() or UNTITLED,
        "start": _iso(start, tz),
        "end": _iso(end, tz) if end is not None else None,
        "all_day": all_day,
        "timezone": tz.key if tz is not None and not all_day else None,
        "location": _text(event.get("LOCATION")),
        "attendees": unique(_email(a) for a in _as_list(event.get("ATTENDEE"))),
        "description": _text(event.get("DESCRIPTION")),
        "rrule": _rrule_text(event.get("RRULE")),
        "exdates": [_iso(d.dt, tz) for prop in _as_list(event.get("EXDATE")) for d in prop.dts],
        "external_id": uid,
    }
    return {k: v for k, v in fields.items() if v not in (None, "", [])}


def _one(event: icalendar.Event, name: str, where: str) -> Any:
    """The event's one ``name`` property (None if absent); a file that gives it twice has no
    one meaning, and icalendar would hand over a list."""
    value = event.get(name)
    if isinstance(value, list):
        raise InteropError(f"{where}: {name} is given {len(value)} times")
    return value


def _event_zone(start: dt.date, tzid: str | None) -> ZoneInfo | None:
    """The IANA zone an event's times are shown in: its own zone, else the TZID's mapping.

    Outlook's VTIMEZONE blocks become anonymous zones in icalendar; the TZID name ("W. Europe
    Standard Time") is what tells us the real zone. Unknown custom zones give None, and the
    times keep the offsets their VTIMEZONE defined.
    """
    if not isinstance(start, dt.datetime) or start.tzinfo is None:
        return None
    key = getattr(start.tzinfo, "key", None)
    if key in _UTC_NAMES or (not tzid and start.utcoffset() == dt.timedelta(0)):
        return ZoneInfo("UTC")
    return zone(key) or zone(tzid)


def _iso(value: dt.date, tz: ZoneInfo | None) -> str:
    """ISO text: a date for all-day values, local time with offset for zoned times."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None and tz is not None:
        value = value.astimezone(tz)
    return value.isoformat()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).replace("\r\n", "\n").strip() or None


def _email(address: Any) -> str:
    text = str(address).strip()
    return text[7:] if text.lower().startswith("mailto:") else text


def _rrule_text(value: Any) -> str | None:
    """The RRULE as written (parts in file order), so it round-trips as the same text."""
    rules = _as_list(value)
    if not rules:
        return None
    rule = rules[0]
    parts = []
    for key, vals in rule.items():
        kind = rule.types.get(key, icalendar.vText)
        items = vals if isinstance(vals, list | tuple) else [vals]
        parts.append(key + "=" + ",".join(kind(v).to_ical().decode() for v in items))
    return ";".join(parts)


# --- writing -------------------------------------------------------------------------------


def write_ical(path: str | os.PathLike[str], events: list[dict[str, Any]]) -> None:
    """Write events as one VCALENDAR that Outlook, Google and Apple Calendar import.

    Zoned times are written with TZID and a generated VTIMEZONE, all-day events as VALUE=DATE,
    and an event whose external_id is "UID#RECURRENCE-ID" as an override of that occurrence.
    Reading the file back yields the same field values.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for number, record in enumerate(events, start=1):
        try:
            calendar.add_component(_vevent(record, stamp))
        except (ValueError, TypeError) as exc:
            raise InteropError(f"{path}: event {number} ({record.get('title')}): {exc}") from None
    calendar.add_missing_timezones()
    write_atomically(path, calendar.to_ical())


def _vevent(record: dict[str, Any], stamp: dt.datetime) -> icalendar.Event:
    tz = None if record.get("all_day") else zone(record.get("timezone"))
    all_day = bool(record.get("all_day"))
    event = icalendar.Event()
    uid, recurrence_id = split_override_id(
        str(record.get("external_id") or record.get("id") or ""))
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", str(record.get("title") or UNTITLED))
    event.add("dtstart", _value(record["start"], all_day, tz))
    if record.get("end"):
        event.add("dtend", _value(record["end"], all_day, tz))
    if recurrence_id:
        event.add("recurrence-id", _value(recurrence_id, all_day, tz))
    for name in ("location", "description"):
        if record.get(name):
            event.add(name, str(record[name]))
    if record.get("rrule"):
        icalendar.vRecur.from_ical(record["rrule"])  # refuse a rule calendars cannot parse
        event.add("rrule", icalendar.prop.vInline(record["rrule"]))
    if record.get("exdates"):
        event.add("exdate", [_value(d, all_day, tz) for d in record["exdates"]])
    for email in record.get("attendees") or []:
        event.add("attendee", icalendar.vCalAddress(f"mailto:{email}"))
    return event


def split_override_id(external_id: str) -> tuple[str, str | None]:
    """"UID#2026-12-29T09:00:00+01:00" -> ("UID", "2026-12-29T09:00:00+01:00"): a changed
    occurrence's series and original start; ("UID", None) for any other event."""
    uid, sep, tail = external_id.rpartition(_OVERRIDE_SEP)
    if sep and uid:
        try:
            dt.datetime.fromisoformat(tail)
            return uid, tail
        except ValueError:
            pass
    return external_id, None


def _value(iso: str, all_day: bool, tz: ZoneInfo | None) -> dt.date:
    """An ISO string as the date/datetime icalendar should write.

    Zoned times are written in the event's zone (TZID); times with an offset but no known zone
    are written in UTC, since iCalendar has no way to say "+01:00" without a zone.
    """
    if all_day or len(iso) == 10:
        return dt.date.fromisoformat(iso[:10])
    value = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if tz is not None:
        return value.astimezone(tz) if value.tzinfo else value.replace(tzinfo=tz)
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value
