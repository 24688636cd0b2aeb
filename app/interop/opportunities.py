"""Import opportunities from CRM exports (CSV/XLSX) and export the pipeline for spreadsheets.

Sales teams move to Bullpen with a Salesforce or HubSpot export in hand and keep sending the
pipeline to finance as a spreadsheet, so the reader accepts those exports as they come (column
names, stage names, "$1,234.00", US dates) and reports bad rows by the row number the user sees
in Excel instead of failing the whole file. Everything here is pure: dicts in, dicts out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bullpen.app.interop.common import (
    decimal_comma,
    decode_text,
    parse_amount,
    parse_loose_date,
    read_bytes,
    slash_date_order,
    write_atomically,
)
from bullpen.app.interop.errors import InteropError
from bullpen.app.interop.guard import (
    MAX_ROWS,
    check_unpacked_size,
    csv_cell,
    root_reason,
    unescape_formula,
)
from bullpen.crdt.schema import DEFAULT_STAGES, OPPORTUNITY, ValidationError
from bullpen.crdt.validation import normalise_choice, validate

DEFAULT_STAGE_IDS: tuple[str, ...] = tuple(s.id for s in DEFAULT_STAGES)

EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "external_id", "account", "title", "amount", "currency", "stage", "probability",
    "category", "close_date", "owner", "next_step", "notes", "created_at", "created_by",
    "updated_at", "updated_by",
)  # fmt: skip

# Header (lower case, single spaces) -> field, most specific first: when two columns claim one
# field, the earlier alias wins, so our export's "external_id" beats its record "id" column.
_ALIASES: tuple[tuple[str, str], ...] = (
    *((name, name) for name in OPPORTUNITY.by_name),
    ("opportunity name", "title"), ("deal name", "title"), ("name", "title"),
    ("opportunity", "title"),
    ("account name", "account"), ("company name", "account"), ("company", "account"),
    ("associated company", "account"), ("organization", "account"),
    ("opportunity amount", "amount"), ("deal amount", "amount"),
    ("opportunity currency", "currency"), ("currency code", "currency"),
    ("deal stage", "stage"), ("opportunity stage", "stage"), ("sales stage", "stage"),
    ("probability (%)", "probability"), ("deal probability", "probability"),
    ("forecast category", "category"), ("forecast category name", "category"),
    ("close date", "close_date"), ("expected close date", "close_date"),
    ("closing date", "close_date"),
    ("opportunity owner", "owner"), ("deal owner", "owner"), ("owner name", "owner"),
    ("next step", "next_step"),
    ("description", "notes"), ("deal description", "notes"), ("note", "notes"),
    ("opportunity id", "external_id"), ("record id", "external_id"), ("deal id", "external_id"),
    ("id", "external_id"),
)  # fmt: skip
_ALIAS_RANK = {alias: rank for rank, (alias, _) in enumerate(_ALIASES)}
_ALIAS_FIELD = dict(_ALIASES)

# Salesforce and HubSpot default stages onto the default workspace stages. Keys are compared
# without separators so "closedwon" (HubSpot internal id) and "Closed Won" (label) both match.
_STAGE_ALIASES = {
    "needsanalysis": "qualification",
    "valueproposition": "proposal",
    "iddecisionmakers": "proposal",
    "perceptionanalysis": "proposal",
    "proposalpricequote": "proposal",
    "negotiationreview": "negotiation",
    "appointmentscheduled": "prospecting",
    "qualifiedtobuy": "qualification",
    "presentationscheduled": "proposal",
    "decisionmakerboughtin": "proposal",
    "contractsent": "negotiation",
    "closedwon": "closed_won",
    "closedlost": "closed_lost",
    "won": "closed_won",
    "lost": "closed_lost",
}
_CATEGORY_ALIASES = {
    "bestcase": "best_case",
    "mostlikely": "best_case",
    "notforecasted": "omitted",
    "closedwon": "closed",
}
_IGNORE = {"", "-", "ignore"}
_EXCEL_SERIALS = (1, 2958465)  # 1900-01-01 .. 9999-12-31 as Excel day numbers


@dataclass
class ImportResult:
    """Valid rows ready to store, and the rows that were rejected with a reason.

    Row numbers are what a spreadsheet shows (header = row 1), so a user can find the row.
    ``columns`` says which file column fed each field and ``ignored_columns`` lists the rest,
    so the CLI can tell the user that "Pipeline" or a misspelt header was skipped.
    """

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)


def read_opportunities(
    path: str | os.PathLike[str],
    mapping: dict[str, str] | None = None,
    stages: tuple[str, ...] = DEFAULT_STAGE_IDS,
) -> ImportResult:
    """Read a CSV or XLSX export into validated opportunity fields.

    ``mapping`` ({"Column": "field"}, from ``--map``) overrides the recognised column names;
    map a column to "" or "ignore" to skip it. ``stages`` are the workspace's stage ids.
    Raises InteropError when the file as a whole is unusable (unreadable, no header, missing
    required columns); single bad rows are reported in ``ImportResult.errors``.
    """
    data = read_bytes(path)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InteropError(f"{path}: old Excel .xls format; save it as .xlsx or CSV")
    if data.startswith(b"PK\x03\x04") or Path(path).suffix.lower() in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(data, path)
    else:
        rows = _csv_rows(decode_text(data, path), path)
    table = list(itertools.islice(rows, MAX_ROWS + 1))
    if len(table) > MAX_ROWS:
        raise InteropError(f"{path}: more than {MAX_ROWS:,} rows; split the file")
    return _import_table(table, path, mapping or {}, stages)


def _csv_rows(text: str, path: str | os.PathLike[str]) -> Iterator[tuple[int, list[Any]]]:
    """Yield (spreadsheet row number, cells); the delimiter is whatever the header uses most."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(",;\t|", key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [unescape_formula(c) for c in cells]
    except csv.Error as exc:
        raise InteropError(f"{path}: broken CSV near line {reader.line_num} ({exc})") from None


def _xlsx_rows(data: bytes, path: str | os.PathLike[str]) -> Iterator[tuple[int, list[Any]]]:
    """Yield (row number, cell values) from the first sheet, percent cells scaled to 0-100."""
    from openpyxl import load_workbook  # deferred: openpyxl is slow to import

    # openpyxl parses with defusedxml when it is installed (a dependency): entity expansion
    # ("billion laughs") and external entities are refused, not expanded.
    check_unpacked_size(data, path)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for damaged files
        raise InteropError(f"{path}: not a readable XLSX workbook ({root_reason(exc)})") from None
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(), start=1):
            yield number, [_xlsx_value(cell) for cell in row]
    except Exception as exc:  # the sheet's XML is read lazily: a cut file fails only here
        raise InteropError(f"{path}: damaged XLSX sheet ({root_reason(exc)})") from None
    finally:
        workbook.close()


def _xlsx_value(cell: Any) -> Any:
    value = cell.value
    fmt = getattr(cell, "number_format", "") or ""
    if isinstance(value, int | float) and not isinstance(value, bool) and "%" in fmt:
        return value * 100
    return value


def _import_table(
    table: Sequence[tuple[int, list[Any]]],
    path: str | os.PathLike[str],
    mapping: dict[str, str],
    stages: tuple[str, ...],
) -> ImportResult:
    body = [(n, cells) for n, cells in table if any(_text(c) for c in cells)]
    if not body:
        raise InteropError(f"{path}: the file is empty")
    (_, header), data_rows = body[0], body[1:]
    result = ImportResult()
    columns = _resolve_columns([_text(h) for h in header], mapping, path, result)
    by_field = {f: i for i, f in columns.items()}

    def column(name: str) -> Iterator[Any]:
        index = by_field.get(name, -1)
        return (cells[index] for _, cells in data_rows if 0 <= index < len(cells))

    style = _Style(slash_date_order(column("close_date")), decimal_comma(column("amount")))
    for number, cells in data_rows:
        raw = {f: cells[i] for i, f in columns.items() if i < len(cells)}
        try:
            result.rows.append((number, _convert_row(raw, stages, style)))
        except ValidationError as exc:
            result.errors.append((number, str(exc)))
    return result


def _resolve_columns(
    header: list[str],
    mapping: dict[str, str],
    path: str | os.PathLike[str],
    result: ImportResult,
) -> dict[int, str]:
    """Decide which column feeds which field: ``--map`` first, then known export headers."""
    keys = [_header_key(h) for h in header]
    chosen: dict[str, int] = {}
    for column, target in mapping.items():
        key = _header_key(column)
        if key not in keys:
            raise InteropError(
                f"{path}: --map column {column!r} is not in the file "
                f"(columns: {', '.join(h for h in header if h)})"
            )
        target = target.strip()
        if target.lower() in _IGNORE:
            keys[keys.index(key)] = ""  # ignore it even if its name looks familiar
            continue
        if target not in OPPORTUNITY.by_name:
            raise InteropError(
                f"{path}: --map {column}={target}: opportunities have no field {target!r} "
                f"(fields: {', '.join(OPPORTUNITY.by_name)})"
            )
        chosen[target] = keys.index(key)
    ranked = sorted((i for i, k in enumerate(keys) if k in _ALIAS_RANK), key=lambda i: (
        _ALIAS_RANK[keys[i]], i))  # fmt: skip
    for index in ranked:
        chosen.setdefault(_ALIAS_FIELD[keys[index]], index)
    columns = {index: name for name, index in chosen.items()}
    missing = [f.name for f in OPPORTUNITY.fields if f.required and f.name not in chosen]
    if missing:
        raise InteropError(
            f"{path}: no column for {', '.join(missing)} "
            f"(columns: {', '.join(h for h in header if h)}); name one with --map COLUMN=FIELD"
        )
    result.columns = {header[i]: name for i, name in sorted(columns.items())}
    result.ignored_columns = [h for i, h in enumerate(header) if h and i not in columns]
    return columns


def _header_key(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").strip().strip('"').lower().split())


def _text(value: Any) -> str:
    """Cell value as text: Excel stores "12345" ids as 12345.0, which must not gain a ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class _Style:
    """How this file writes ambiguous dates and numbers, decided once from whole columns."""

    day_first: bool
    comma_decimal: bool


def _convert_row(raw: dict[str, Any], stages: tuple[str, ...], style: _Style) -> dict[str, Any]:
    """Parse one row's loosely formatted cells and validate them; all problems in one message."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in raw.items():
        if not _text(value):
            continue
        try:
            _convert_cell(fields, name, value, stages, style)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    missing = [f.name for f in OPPORTUNITY.fields if f.required and not _text(raw.get(f.name))]
    if missing:
        problems.insert(0, f"missing {', '.join(missing)}")
    if problems:
        raise ValidationError("; ".join(problems))
    return validate("opportunity", fields, choices={"stage": stages})


def _convert_cell(
    fields: dict[str, Any], name: str, value: Any, stages: tuple[str, ...], style: _Style
) -> None:
    if name == "amount":
        amount, currency = parse_amount(value, style.comma_decimal)
        if amount < 0:
            raise ValueError(f"{_text(value)!r} is negative")
        fields["amount"] = amount
        if currency:
            fields.setdefault("currency", currency)
    elif name == "probability":
        number, _ = parse_amount(_text(value).rstrip("%") if isinstance(value, str) else value)
        fields["probability"] = round(number)
    elif name == "close_date":
        fields["close_date"] = _cell_date(value, style.day_first).isoformat()
    elif name == "stage":
        fields["stage"] = map_stage(_text(value), stages)
    elif name == "category":
        fields["category"] = map_category(_text(value))
    elif name == "currency":
        fields["currency"] = _text(value).upper()
    else:
        spec = OPPORTUNITY.by_name[name]
        fields[name] = _text(value) if spec.type == "str" else value


def _cell_date(value: Any, day_first: bool) -> dt.date:
    """A close date cell: Excel dates, Excel day numbers in unformatted cells, or text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _EXCEL_SERIALS[0] <= value <= _EXCEL_SERIALS[1]:
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date()
        raise ValueError(f"{value!r} is not a date")
    return parse_loose_date(value, day_first)


def _squash(text: str) -> str:
    key = re.sub(r"\s*\([^)]*\)\s*$", "", text)  # HubSpot: "Closed won (Sales Pipeline)"
    return normalise_choice(key).replace("_", "")


def map_stage(text: str, stages: tuple[str, ...]) -> str:
    """A CRM stage name as a workspace stage id, or the text unchanged for validation to reject.

    A workspace stage matching by name wins; Salesforce/HubSpot defaults apply only when
    their target stage exists in the workspace, so custom pipelines are never guessed at.
    """
    direct = normalise_choice(text)
    if direct in stages:
        return direct
    squashed = _squash(text)
    for stage in stages:
        if stage.replace("_", "") == squashed:
            return stage
    target = _STAGE_ALIASES.get(squashed)
    return target if target in stages else text


def map_category(text: str) -> str:
    """Forecast category labels ("Best Case", HubSpot's "Not forecasted") as category ids."""
    squashed = _squash(text)
    return _CATEGORY_ALIASES.get(squashed, normalise_choice(text))


# --- export --------------------------------------------------------------------------------


def write_opportunities(
    path: str | os.PathLike[str], records: list[dict[str, Any]], fmt: str | None = None
) -> None:
    """Write opportunities as CSV (UTF-8 with BOM, so Excel shows accents) or typed XLSX.

    ``fmt`` is "csv" or "xlsx"; by default it follows the file extension. The columns are
    :data:`EXPORT_COLUMNS`; reading the file back yields the same field values.
    """
    fmt = (fmt or Path(path).suffix.lstrip(".") or "csv").lower()
    if fmt == "csv":
        data = _csv_bytes(records)
    elif fmt == "xlsx":
        data = _xlsx_bytes(records)
    else:
        raise InteropError(f"{path}: unknown export format {fmt!r} (use csv or xlsx)")
    write_atomically(path, data)


def _csv_bytes(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        writer.writerow([csv_cell(record.get(c)) for c in EXPORT_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


_WIDTH_LIMITS = (8, 60)
_NUMBER_FORMATS = {"amount": "#,##0.00", "close_date": "yyyy-mm-dd"}
_TIMESTAMP_FORMAT = "yyyy-mm-dd hh:mm:ss"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xlsx_bytes(records: list[dict[str, Any]]) -> bytes:
    """A workbook finance can sort and sum: typed cells, bold frozen header, fitted widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Opportunities"
    sheet.append(list(EXPORT_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(c) for c in EXPORT_COLUMNS]
    for row, record in enumerate(records, start=2):
        for col, name in enumerate(EXPORT_COLUMNS, start=1):
            value = _xlsx_cell_value(name, record.get(name))
            cell = sheet.cell(row=row, column=col, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula stays text
            elif name in _NUMBER_FORMATS:
                cell.number_format = _NUMBER_FORMATS[name]
            elif isinstance(value, dt.datetime):
                cell.number_format = _TIMESTAMP_FORMAT
            shown = len(_TIMESTAMP_FORMAT) if isinstance(value, dt.datetime) else len(_text(value))
            widths[col - 1] = max(widths[col - 1], shown)
    for col, width in enumerate(widths, start=1):
        letter = get_column_letter(col)
        sheet.column_dimensions[letter].width = min(max(width + 2, _WIDTH_LIMITS[0]),
                                                    _WIDTH_LIMITS[1])  # fmt: skip
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell_value(name: str, value: Any) -> Any:
    """Typed cell values: amounts as numbers, the close date as a date, timestamps in UTC.

    Numbers keep 16 significant digits (openpyxl's format; Excel itself shows 15), plenty
    for money.
    Excel has no time zones, so created/updated times are converted to UTC; text loses the
    characters that XML, and so XLSX, cannot store.
    """
    if value is None or value == "":
        return None
    if name == "close_date":
        return dt.date.fromisoformat(str(value))
    if name in ("created_at", "updated_at") and isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
        return stamp
    if isinstance(value, str):
        return _XML_ILLEGAL.sub("", value)
    return value
