"""Helpers shared by the CSV/XLSX, vCard and iCalendar importers and exporters.

Files from other programs arrive in whatever encoding and number/date style the exporting
machine used, so decoding text, reading loosely formatted numbers and dates, and writing files
without leaving a half-written export behind live here once rather than in each format module.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from dateutil import parser as dateparser

from bullpen.app.interop.errors import InteropError

# What import/export reads and writes (the keys of transfer.IMPORTERS and EXPORTERS) and the
# table formats: named here so the command line offers them without importing the importers.
FILE_KINDS = ("opportunities", "contacts", "calendar")
EXPORT_FORMATS = ("csv", "xlsx")

# C0 control characters that never occur in real text exports (tab, CR, LF, FF are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


# Imports are read whole: a CRM export of 100,000 deals is a few MB, so this bounds memory
# against a huge or endless file (a device, a FIFO) without refusing any real export.
MAX_IMPORT_BYTES = 64 << 20


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a whole file, turning OS errors into an InteropError that names the file."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise InteropError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise InteropError(f"{path}: larger than {MAX_IMPORT_BYTES >> 20} MB; split it")
    return data


def decode_text(data: bytes, path: str | os.PathLike[str]) -> str:
    """Decode exported text the way the exporting program most likely wrote it.

    Modern tools write UTF-8 (Excel adds a BOM), Outlook's "Unicode" exports are UTF-16 with a
    BOM, and older Windows programs write cp1252; latin-1 is the last resort because it accepts
    any byte. Binary data (a spreadsheet saved with the wrong extension, a corrupt download) is
    refused here so the user gets "not a text file" instead of a page of mojibake errors.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InteropError(f"{path}: damaged UTF-16 text") from None
    if b"\x00" in data:
        raise InteropError(f"{path}: not a text file (it contains binary data)")
    text = ""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if len(_CONTROL.findall(text)) > max(1, len(text) // 100):
        raise InteropError(f"{path}: not a text file (it contains binary data)")
    return text


def read_text(path: str | os.PathLike[str]) -> str:
    """Read and decode a text export; see :func:`decode_text` for the encodings tried."""
    return decode_text(read_bytes(path), path)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` in one step so a failed export never leaves a truncated file behind."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InteropError(f"{path}: cannot write file ({exc.strerror or exc})") from None


def unique(items: Iterable[str]) -> list[str]:
    """Non-empty stripped items in first-seen order (a contact's emails, an event's attendees)."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        text = item.strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


# --- numbers -------------------------------------------------------------------------------

_PLAIN_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "bn": 1e9}
_SYMBOLS = (("US$", "USD"), ("€", "EUR"), ("£", "GBP"), ("₹", "INR"), ("$", None), ("¥", None))
_CODE = re.compile(r"^([A-Za-z]{3})\s*(?=[\d.,(+-])|(?<=[\d.)])\s*([A-Za-z]{3})$")
_SUFFIX = re.compile(r"(?<=\d)\s*(k|mm|mn|m|bn)$", re.IGNORECASE)
_DIGITS = re.compile(r"\d[\d.,]*")


def decimal_comma(values: Iterable[object]) -> bool:
    """Decide from a whole column whether "50.000" is fifty thousand (True) or fifty.

    A column that elsewhere writes "1.234,50" or "12,5" comes from a decimal-comma locale;
    otherwise a dot is a decimal point, which keeps our own exports ("1.234") exact.
    """
    for value in values:
        if not isinstance(value, str):
            continue
        digits = re.sub(r"[^\d.,]", "", value)
        comma, dot = digits.rfind(","), digits.rfind(".")
        if comma > dot >= 0 or (dot < 0 and re.search(r",\d{1,2}$", digits)):
            return True
    return False


def parse_amount(value: object, comma_decimal: bool = False) -> tuple[float, str | None]:
    """Read a money amount as people type it; return ``(number, ISO currency or None)``.

    Accepts "$1,234.50", "1.234,50 €", "EUR 50,000", "50k", "(500)" (accounting negative) and
    "1 234,50". A lone separator followed by three digits is a thousands separator for a comma
    ("1,234") but a decimal point for a dot ("1.234"), because our own CSV export writes plain
    Python floats and must read back unchanged, unless ``comma_decimal`` says the column is
    from a decimal-comma locale (see :func:`decimal_comma`). Raises ValueError.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return float(value), None
    text = str(value).strip()
    if _PLAIN_FLOAT.fullmatch(text) and not (comma_decimal and "." in text):
        return float(text), None
    work, currency = text, None
    for symbol, code in _SYMBOLS:
        if symbol in work:
            work = work.replace(symbol, " ")
            currency = currency or code
            break
    work = work.strip()
    negative = False
    if work.startswith("(") and work.endswith(")"):
        negative, work = True, work[1:-1].strip()
    if work.startswith("-") or work.endswith("-"):
        negative, work = True, work.strip("-").strip()
    elif work.startswith("+"):
        work = work[1:].strip()
    code_match = _CODE.search(work)
    if code_match:
        currency = (code_match.group(1) or code_match.group(2)).upper()
        work = _CODE.sub("", work).strip()
    multiplier = 1.0
    suffix = _SUFFIX.search(work)
    if suffix:
        multiplier = _MULTIPLIERS[suffix.group(1).lower()]
        work = work[: suffix.start()].strip()
    work = re.sub(r"[\s\u00a0\u202f']", "", work)
    if not _DIGITS.fullmatch(work):
        raise ValueError(f"{text!r} is not a number")
    number = float(_normalise_separators(work, text, comma_decimal)) * multiplier
    return (-number if negative else number), currency


def _normalise_separators(digits: str, original: str, comma_decimal: bool) -> str:
    """Turn "1.234,50" / "1,234.50" / "1,234" into Python float syntax."""
    commas, dots = digits.count(","), digits.count(".")
    if commas and dots:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        if digits.count(decimal) > 1:
            raise ValueError(f"{original!r} is not a number")
        return digits.replace(thousands, "").replace(decimal, ".")
    if commas:
        head, _, tail = digits.rpartition(",")
        if commas > 1 or (len(tail) == 3 and head.strip("0") and not comma_decimal):
            return digits.replace(",", "")
        return digits.replace(",", ".")
    if dots > 1 or (comma_decimal and len(digits.rpartition(".")[2]) == 3):
        return digits.replace(".", "")
    return digits


# --- dates ---------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ].*)?")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[T ,]+\d{1,2}:\d{2}.*)?")
_LETTERS = re.compile(r"[A-Za-z]")


def slash_date_order(values: Iterable[object]) -> bool:
    """Decide from a whole column whether "05/06/2026" means 5 June (True) or May 6 (False).

    One "15/12/2026" in the column shows the exporter writes day first; without such evidence
    we assume the US order that Salesforce and HubSpot use in their default locale.
    """
    day_first = month_first = False
    for value in values:
        match = _NUMERIC_DATE.fullmatch(str(value).strip()) if isinstance(value, str) else None
        if not match or match.group(2) == ".":
            continue
        first, second = int(match.group(1)), int(match.group(3))
        day_first |= first > 12
        month_first |= second > 12
    return day_first and not month_first


def parse_loose_date(value: object, day_first: bool = False) -> dt.date:
    """Read a date as spreadsheets and CRMs export it; raise ValueError with a plain reason.

    Handles date/datetime objects (Excel cells), ISO "2026-12-15", US "12/15/2026", German
    "15.12.2026", "15/12/2026" (a first number above 12 can only be a day), two-digit years,
    and month names ("Dec 15, 2026"). ``day_first`` settles "05/06/2026".
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        iso = _ISO_DATE.fullmatch(text)
        if iso:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        numeric = _NUMERIC_DATE.fullmatch(text)
        if numeric:
            first, sep, second, year = numeric.groups()
            a, b, y = int(first), int(second), int(year)
            if len(year) == 2:
                y += 2000
            if sep == "." or a > 12 or (day_first and b <= 12):
                return dt.date(y, b, a)
            return dt.date(y, a, b)
        if _LETTERS.search(text):
            sentinel = dt.datetime(1, 1, 1)
            parsed = dateparser.parse(text, dayfirst=day_first, default=sentinel)
            if parsed.year != 1:
                return parsed.date()
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"{text!r} is not a date")
