"""Opportunity import/export: CRM exports, sloppy numbers and dates, bad rows, round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from bullpen.app.interop.common import parse_amount, parse_loose_date
from bullpen.app.interop.errors import InteropError
from bullpen.app.interop.opportunities import (
    EXPORT_COLUMNS,
    map_stage,
    read_opportunities,
    write_opportunities,
)
from bullpen.crdt.schema import FORECAST_CATEGORIES, OPPORTUNITY

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
GERMAN_MAP = {
    "Titel": "title",
    "Firma": "account",
    "Betrag": "amount",
    "Phase": "stage",
    "Abschlussdatum": "close_date",
    "Besitzer": "owner",
    "Notizen": "notes",
}


# --- parsing helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", (1234.5, None)),
        ("1.234,50 €", (1234.5, "EUR")),
        ("EUR 50,000", (50000.0, "EUR")),
        ("50k", (50000.0, None)),
        ("1.5M", (1500000.0, None)),
        ("£ 99", (99.0, "GBP")),
        ("1 234,50", (1234.5, None)),
        ("1'234.50", (1234.5, None)),
        ("12,5", (12.5, None)),
        ("1.234", (1.234, None)),  # a dot alone is a decimal point (our own exports)
        ("(500)", (-500.0, None)),
        ("1e+16", (1e16, None)),
        (42, (42.0, None)),
    ],
)
def test_parse_amount(text: object, expected: tuple[float, str | None]) -> None:
    assert parse_amount(text) == expected


def test_parse_amount_decimal_comma_column() -> None:
    assert parse_amount("50.000", comma_decimal=True) == (50000.0, None)
    assert parse_amount("1,234", comma_decimal=True) == (1.234, None)


@pytest.mark.parametrize("text", ["lots", "", "1,2.3.4", "€", "12 apples"])
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("2026-12-15", False, dt.date(2026, 12, 15)),
        ("2026-12-15T10:00:00", False, dt.date(2026, 12, 15)),
        ("12/15/2026", False, dt.date(2026, 12, 15)),
        ("12/15/26", False, dt.date(2026, 12, 15)),
        ("15.12.2026", False, dt.date(2026, 12, 15)),
        ("15/12/2026", False, dt.date(2026, 12, 15)),
        ("05/06/2026", False, dt.date(2026, 5, 6)),
        ("05/06/2026", True, dt.date(2026, 6, 5)),
        ("Dec 15, 2026", False, dt.date(2026, 12, 15)),
        ("15 December 2026", False, dt.date(2026, 12, 15)),
        ("12/15/2026 10:00 AM", False, dt.date(2026, 12, 15)),
        (dt.datetime(2026, 12, 15, 8, 30), False, dt.date(2026, 12, 15)),
    ],
)
def test_parse_loose_date(text: object, day_first: bool, expected: dt.date) -> None:
    assert parse_loose_date(text, day_first) == expected


@pytest.mark.parametrize("text", ["31/31/2026", "someday", "Dec 15", "2026-02-30"])
def test_parse_loose_date_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_loose_date(text)


def test_map_stage_only_guesses_into_existing_stages() -> None:
    assert map_stage("Negotiation/Review", STAGES) == "negotiation"
    assert map_stage("closedwon", STAGES) == "closed_won"
    assert map_stage("Closed Won", ("lead", "won")) == "Closed Won"  # left for validation
    assert map_stage("Won", ("lead", "won")) == "won"
    assert map_stage("Demo Booked", ("lead", "demo_booked")) == "demo_booked"


# --- CRM exports -------------------------------------------------------------------------------


def test_salesforce_export() -> None:
    result = read_opportunities(FIXTURES / "salesforce_opportunities.csv")
    assert result.errors == []
    assert [n for n, _ in result.rows] == [2, 3, 4, 5, 6, 7, 8]
    assert result.ignored_columns == ["Fiscal Period", "Lead Source"]
    assert result.rows[0][1] == {
        "owner": "Dana Whitfield",
        "account": "Acme, Inc.",
        "title": "Acme - 500 Widgets",
        "stage": "prospecting",
        "amount": 1234.0,
        "probability": 10,
        "close_date": "2026-12-15",
        "next_step": "Intro call",
        "category": "pipeline",
        "external_id": "0065g00000AbCdEAAV",
        "notes": 'Initial "widget" interest',
    }
    fields = [r for _, r in result.rows]
    assert [r["stage"] for r in fields] == [
        "prospecting", "qualification", "proposal", "proposal", "negotiation", "closed_won",
        "closed_lost",
    ]  # fmt: skip
    assert [r["category"] for r in fields] == [
        "pipeline", "pipeline", "best_case", "best_case", "commit", "closed", "omitted",
    ]  # fmt: skip
    assert fields[1]["amount"] == 25000.5
    assert fields[1]["close_date"] == "2027-01-05"
    assert "next_step" not in fields[1]  # empty cells are absent, not ""
    assert fields[2]["notes"] == "Multi-line\nnote with, commas"
    assert fields[5]["amount"] == 9999.99
    assert fields[6]["amount"] == 0.0


def test_hubspot_export() -> None:
    result = read_opportunities(FIXTURES / "hubspot_deals.csv")
    assert result.errors == []
    assert result.ignored_columns == ["Pipeline", "Create Date"]
    fields = [r for _, r in result.rows]
    assert fields[0] == {
        "external_id": "9876543210",
        "title": "Northwind - Annual",
        "stage": "prospecting",
        "amount": 5000.0,
        "close_date": "2026-12-15",
        "owner": "Sam Jones",
        "account": "Northwind Traders",
    }
    assert [r["stage"] for r in fields] == [
        "prospecting", "qualification", "proposal", "proposal", "negotiation", "closed_won",
        "closed_lost",
    ]  # fmt: skip
    assert [r["amount"] for r in fields] == [5000, 12500.75, 50000, 800, 3200, 15000, 2000]


def test_cp1252_file_needs_a_map_for_foreign_headers() -> None:
    path = FIXTURES / "outlook_cp1252.csv"
    with pytest.raises(InteropError, match=r"outlook_cp1252\.csv: no column for account, title"):
        read_opportunities(path)
    result = read_opportunities(path, GERMAN_MAP)
    assert result.errors == []
    assert result.rows == [
        (2, {
            "title": "Großauftrag Müller", "account": "Müller & Söhne GmbH", "amount": 1234.5,
            "currency": "EUR", "stage": "proposal", "close_date": "2026-12-15",
            "owner": "Jörg Weiß", "notes": "Café-Gespräch – „dringend“",
        }),
        (3, {
            "title": "Zürich Ausbau", "account": "Bäckerei Zürich AG", "amount": 50000.0,
            "currency": "EUR", "stage": "negotiation", "close_date": "2027-01-31",
            "owner": "Jörg Weiß",
        }),
        # "05/02/2027" is read day-first because the column also holds "31/01/2027"
        (4, {
            "title": "Kleinauftrag", "account": "Ålesund AS", "amount": 750.0,
            "stage": "qualification", "close_date": "2027-02-05", "owner": "Renée Dubois",
            "notes": "naïve résumé",
        }),
    ]  # fmt: skip


def test_bad_rows_are_reported_with_spreadsheet_row_numbers() -> None:
    result = read_opportunities(FIXTURES / "bad_rows.csv")
    assert [n for n, _ in result.rows] == [2, 8]
    assert result.errors == [
        (3, "amount: '-$500' is negative"),
        (4, "stage: unknown value 'Daydreaming' (one of: " + ", ".join(STAGES) + ")"),
        (5, "close_date: '31/31/2026' is not a date"),
        (6, "missing title"),
        (7, "amount: 'lots' is not a number; close_date: 'someday' is not a date"),
    ]
    assert result.rows[1] == (8, {
        "title": "Also good", "account": "Beta", "amount": 2000.0, "stage": "negotiation",
        "close_date": "2027-01-10", "probability": 90, "category": "commit",
    })  # fmt: skip


def test_out_of_range_probability_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("title,account,amount,stage,close_date,probability\nA,B,1,proposal,2026-01-01,150%\n")
    result = read_opportunities(path)
    assert result.errors == [(2, "probability: 150 must be at most 100")]


def test_binary_garbage_is_refused() -> None:
    with pytest.raises(InteropError, match=r"binary_garbage\.bin: not a text file"):
        read_opportunities(FIXTURES / "binary_garbage.bin")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old Excel .xls format"),
        (b"PK\x03\x04not really a zip", "not a readable XLSX workbook"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(content)
    with pytest.raises(InteropError, match=f"deals.csv: {message}"):
        read_opportunities(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InteropError, match="nope.csv: cannot read file"):
        read_opportunities(tmp_path / "nope.csv")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "d.csv"
    lines = ["Deal Name,Company,Amount,Stage,Close Date", 'X,"Y, Inc",10,proposal,2026-01-02']
    if delimiter != ",":
        lines = ["Deal Name;Company;Amount;Stage;Close Date", "X;Y, Inc;10;proposal;2026-01-02"]
        lines = [line.replace(";", delimiter) for line in lines]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_opportunities(path).rows == [(2, {
        "title": "X", "account": "Y, Inc", "amount": 10.0, "stage": "proposal",
        "close_date": "2026-01-02",
    })]  # fmt: skip


def test_mapping_overrides_and_ignores(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "Name,Customer,Value,Stage,Date,Description\n"
        "Big one,Acme,5,Proposal,2026-03-04,ignore me\n",
        encoding="utf-8",
    )
    mapping = {"customer": "account", "VALUE": "amount", "Date": "close_date", "Description": ""}
    result = read_opportunities(path, mapping)
    assert result.errors == []
    assert result.rows == [(2, {
        "title": "Big one", "account": "Acme", "amount": 5.0, "stage": "proposal",
        "close_date": "2026-03-04",
    })]  # fmt: skip
    assert result.ignored_columns == ["Description"]
    with pytest.raises(InteropError, match="no field 'worth'"):
        read_opportunities(path, {**mapping, "Value": "worth"})
    with pytest.raises(InteropError, match="--map column 'Price' is not in the file"):
        read_opportunities(path, {**mapping, "Price": "amount"})


def test_custom_stages(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "title,account,amount,stage,close_date\nA,B,1,Won,2026-01-01\nC,D,1,Closed Won,2026-01-01\n"
    )
    result = read_opportunities(path, stages=("lead", "won"))
    assert result.rows == [(2, {"title": "A", "account": "B", "amount": 1.0, "stage": "won",
                                "close_date": "2026-01-01"})]  # fmt: skip
    assert result.errors == [(3, "stage: unknown value 'Closed Won' (one of: lead, won)")]


def test_xlsx_with_typed_cells(tmp_path: Path) -> None:
    """A Salesforce report saved from Excel: real dates, numbers, a percent column."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Opportunity Name", "Account Name", "Amount", "Stage", "Close Date",
                  "Probability (%)", "Opportunity ID"])  # fmt: skip
    sheet.append(["Typed", "Acme", 1234.5, "Closed Won", dt.datetime(2026, 12, 15), 0.75, 12345])
    sheet.append(["Texty", "Beta", "$1,000.00", "Prospecting", "12/01/2026", "10%", "0065x"])
    sheet.append([None] * 7)  # blank rows are skipped but still counted
    sheet.append(["Serial", "Gamma", 10, "proposal", 46371, None, None])
    sheet.append(["Broken", "Delta", -1, "proposal", "soon", None, None])
    sheet["F2"].number_format = "0%"
    path = tmp_path / "report.xlsx"
    workbook.save(path)

    result = read_opportunities(path)
    assert result.rows == [
        (2, {"title": "Typed", "account": "Acme", "amount": 1234.5, "stage": "closed_won",
             "close_date": "2026-12-15", "probability": 75, "external_id": "12345"}),
        (3, {"title": "Texty", "account": "Beta", "amount": 1000.0, "stage": "prospecting",
             "close_date": "2026-12-01", "probability": 10, "external_id": "0065x"}),
        (5, {"title": "Serial", "account": "Gamma", "amount": 10.0, "stage": "proposal",
             "close_date": "2026-12-15"}),
    ]  # fmt: skip
    assert result.errors == [(6, "amount: '-1' is negative; close_date: 'soon' is not a date")]


# --- export ------------------------------------------------------------------------------------

RECORD = {
    "id": "opp-1",
    "external_id": "0065g00000AbCdEAAV",
    "account": "Acme, Inc.",
    "title": "=HYPERLINK(\"x\") looks like a formula",
    "amount": 1234.5,
    "currency": "EUR",
    "stage": "proposal",
    "probability": 75,
    "category": "best_case",
    "close_date": "2026-12-15",
    "owner": "Jörg",
    "next_step": None,
    "notes": "line one\nline two, with \"quotes\"",
    "created_at": "2026-11-01T09:30:00+01:00",
    "created_by": "peer-a",
    "updated_at": "2026-11-02T10:00:00+00:00",
    "updated_by": "peer-b",
}
# Export columns that are opportunity fields; id and the created/updated stamps are metadata.
FIELDS = [c for c in EXPORT_COLUMNS if c in OPPORTUNITY.by_name]


def _stored(record: dict) -> dict:
    """The fields an import should produce for ``record``."""
    return {k: v for k, v in record.items() if k in FIELDS and v not in (None, "")}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_round_trip(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"pipeline.{fmt}"
    write_opportunities(path, [RECORD], fmt)
    result = read_opportunities(path)
    assert result.errors == []
    assert result.rows == [(2, _stored(RECORD))]


def test_csv_export_layout(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_opportunities(path, [RECORD], "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM so Excel reads UTF-8
    assert raw.decode("utf-8-sig").splitlines()[0] == ",".join(EXPORT_COLUMNS)


def test_xlsx_export_layout(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_opportunities(path, [RECORD])  # format from the extension
    sheet = load_workbook(path).active
    assert [c.value for c in sheet[1]] == list(EXPORT_COLUMNS)
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    row = {name: sheet.cell(row=2, column=i).value for i, name in enumerate(EXPORT_COLUMNS, 1)}
    assert row["amount"] == 1234.5 and isinstance(row["probability"], int)
    assert row["close_date"] == dt.datetime(2026, 12, 15)
    assert row["created_at"] == dt.datetime(2026, 11, 1, 8, 30)  # UTC
    assert sheet.cell(row=2, column=EXPORT_COLUMNS.index("title") + 1).data_type == "s"
    widths = [sheet.column_dimensions[chr(ord("A") + i)].width for i in range(len(EXPORT_COLUMNS))]
    assert all(8 <= w <= 60 for w in widths)


def test_xlsx_export_drops_characters_xml_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    write_opportunities(path, [{**RECORD, "title": "a\x01b\ufffec"}])
    assert read_opportunities(path).rows[0][1]["title"] == "abc"


def test_unknown_export_format(tmp_path: Path) -> None:
    with pytest.raises(InteropError, match="unknown export format 'ods'"):
        write_opportunities(tmp_path / "x.ods", [RECORD])


# XLSX (XML) cannot hold control characters or U+FFFE/U+FFFF; the writer drops them.
_chars = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff")
_text = st.text(alphabet=_chars | st.just("\n"), min_size=1).map(str.strip).filter(bool)
_record = st.fixed_dictionaries({
    "id": st.uuids().map(str),
    "external_id": st.none() | _text,
    "account": _text,
    "title": _text,
    # money in cents: XLSX keeps 16 significant digits, far beyond any real amount
    "amount": st.integers(0, 10**13).map(lambda cents: cents / 100),
    "currency": st.sampled_from([None, "USD", "EUR", "JPY"]),
    "stage": st.sampled_from(STAGES),
    "probability": st.none() | st.integers(0, 100),
    "category": st.none() | st.sampled_from(FORECAST_CATEGORIES),
    "close_date": st.dates(dt.date(1901, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat),
    "owner": st.none() | _text,
    "next_step": st.none() | _text,
    "notes": st.none() | _text,
})  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(_record, min_size=1, max_size=5), fmt=st.sampled_from(["csv", "xlsx"]))
def test_round_trip_property(tmp_path: Path, records: list[dict], fmt: str) -> None:
    path = tmp_path / f"rt.{fmt}"
    write_opportunities(path, records, fmt)
    result = read_opportunities(path)
    assert result.errors == []
    assert [fields for _, fields in result.rows] == [_stored(r) for r in records]
