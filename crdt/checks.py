"""Checks of single values every record field goes through, bounded against hostile input.

A modified client or a crafted import file can send any value: these keep what is stored
valid Unicode, finite, within ranges every peer represents exactly, in ISO 4217 and IANA
vocabularies, and events in time order. Kept apart from ``schema`` (which says which field
has which check) so each stays short.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .iso4217 import currency_code


class ValidationError(ValueError):
    """User input that cannot become a record; the message names the field and the problem."""


# Bounds on what a record may hold, so a hostile or mistyped value cannot reach the forecast
# as ``inf``, overflow automerge's 64-bit integers, or make one field megabytes long.
MAX_AMOUNT = 1e15  # a thousand trillion in any currency: far above any real deal
MAX_INT = 2**53  # integers every peer (and JSON) represents exactly
MAX_TEXT = 100_000  # characters in one text field (long texts are co-edited documents)


def text(value: Any, name: str) -> str:
    """``value`` as text automerge can store: valid Unicode (a command-line argument of
    undecodable bytes arrives as lone surrogates) and at most MAX_TEXT characters."""
    out = str(value)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{name}: not valid text (undecodable bytes)") from None
    if len(out) > MAX_TEXT:
        raise ValidationError(f"{name}: longer than {MAX_TEXT:,} characters")
    return out


def currency(value: Any, name: str = "currency") -> str:
    """An ISO 4217 code, upper case (``usd`` is ``USD``)."""
    code = currency_code(value)
    if code is None:
        raise ValidationError(f"{name}: {value!r} is not an ISO 4217 currency code "
                              f"(three-letter, e.g. USD)")
    return code


def timezone(value: Any, name: str = "timezone") -> str:
    """An IANA time zone name this machine knows (``Europe/Paris``)."""
    key = text(value, name).strip()
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"{name}: {value!r} is not an IANA time zone "
                              f"(e.g. Europe/Paris)") from None
    return key


def check_span(values: dict[str, Any]) -> None:
    """An event ends at or after its start (compared as local times when only one side
    has an offset, dates as their midnight)."""
    start, end = values.get("start"), values.get("end")
    if not start or not end:
        return
    try:
        first, last = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
    except (TypeError, ValueError):  # a stored value from elsewhere that is no time: no order
        return
    if (first.tzinfo is None) != (last.tzinfo is None):
        first, last = first.replace(tzinfo=None), last.replace(tzinfo=None)
    if last < first:
        raise ValidationError(f"end {end} is before start {start}")
