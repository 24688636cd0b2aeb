"""Defences of import and export against hostile files: bounded sizes, zip bombs, the root
cause of a parser's error in one line, and spreadsheet formula injection in CSV cells.

Imported files come from anyone (a CRM export passed around, an attachment), and exported
CSV is opened by spreadsheets that run any cell starting with ``=`` as a formula.
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any

from bullpen.app.interop.errors import InteropError

# Bounds on what one import may make a machine hold: rows (each is validated and kept until
# the whole file is judged) and an .xlsx's unpacked XML (zip compresses it a thousandfold).
MAX_ROWS = 100_000
MAX_XLSX_UNPACKED = 256 << 20


def check_unpacked_size(data: bytes, path: str | os.PathLike[str]) -> None:
    """Refuse a zip bomb (a small .xlsx whose XML unpacks to gigabytes) before parsing it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # load_workbook names what is wrong with it
    if unpacked > MAX_XLSX_UNPACKED:
        raise InteropError(f"{path}: unpacks to more than {MAX_XLSX_UNPACKED >> 20} MB of XML; "
                           f"save it as CSV or split it")


def root_reason(exc: BaseException) -> str:
    """The root cause, in one line (openpyxl wraps the XML parser's error in its own)."""
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# A text cell starting with one of these is run as a formula by Excel, LibreOffice and Google
# Sheets (OWASP "CSV injection": =HYPERLINK(...) leaking data, =cmd|... running programs).
FORMULA_START = tuple("=+-@\t\r")


def csv_cell(value: Any) -> str:
    """One CSV cell: floats in their shortest exact form, formula-like text quoted."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    text = str(value)
    if text.lstrip("'").startswith(FORMULA_START):
        return "'" + text  # shown as text; an existing quote gets one more, so import can undo
    return text


def unescape_formula(cell: str) -> str:
    """Undo :func:`csv_cell`'s quote, so an exported pipeline imports unchanged."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_START):
        return cell[1:]
    return cell
