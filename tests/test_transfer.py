"""Import/export use cases: matching, all-or-nothing, dry runs, lossless round trips."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bullpen.app.interop import transfer
from bullpen.app.interop.errors import InteropError
from bullpen.crdt.schema import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
META = {"id", "created_at", "created_by", "updated_at", "updated_by", "deleted", "kind"}


def fields_of(records, *, drop=()):
    """Records as comparable field sets, regardless of ids and order."""
    skip = META | set(drop)
    return sorted(
        sorted((k, repr(v)) for k, v in r.items() if k not in skip and v not in (None, "", []))
        for r in records
    )


def snapshot(ws, kind):
    return {r["id"]: r for r in ws.list(kind)}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_export_import_is_lossless(make_ws, tmp_path, fmt):
    first, second = make_ws("Dana"), make_ws("Eli")
    for name in ("salesforce_opportunities.csv", "hubspot_deals.csv"):
        report = transfer.import_opportunities(first, FIXTURES / name)
        assert report.written and not report.errors
    out = tmp_path / f"pipeline.{fmt}"
    assert transfer.export_opportunities(first, out) == 14

    before = snapshot(first, "opportunity")
    again = transfer.import_opportunities(first, out)  # into the same workspace: no change
    assert (len(again.created), len(again.updated), again.unchanged) == (0, 0, 14)
    assert snapshot(first, "opportunity") == before

    transfer.import_opportunities(second, out)  # into another: the same records
    assert fields_of(second.list("opportunity")) == fields_of(first.list("opportunity"))


def test_reimport_updates_instead_of_duplicating(ws, tmp_path):
    transfer.import_opportunities(ws, FIXTURES / "salesforce_opportunities.csv")
    out = tmp_path / "pipeline.csv"
    transfer.export_opportunities(ws, out)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    rows[0]["amount"] = "777.0"
    rows[1]["stage"] = "negotiation"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    dry = transfer.import_opportunities(ws, out, dry_run=True)
    assert len(dry.updated) == 2 and not dry.written
    assert ws.get(rows[0]["id"])["amount"] != 777.0

    report = transfer.import_opportunities(ws, out)
    assert len(report.updated) == 2 and not report.created
    assert ws.get(rows[0]["id"])["amount"] == 777.0
    moved = ws.get(rows[1]["id"])
    # The file's own probability stays, not the new stage's default.
    assert moved["stage"] == "negotiation" and moved["probability"] == int(rows[1]["probability"])
    assert len(ws.list("opportunity")) == len(rows)


def test_native_records_match_by_record_id(ws, tmp_path):
    oid = ws.add("opportunity", {"account": "Initech", "title": "Renewal", "amount": 5,
                                 "stage": "proposal", "close_date": "2026-12-15"})
    out = tmp_path / "pipeline.xlsx"
    transfer.export_opportunities(ws, out)
    report = transfer.import_opportunities(ws, out)
    assert report.unchanged == 1 and not report.created
    assert "external_id" not in ws.get(oid)  # our own id did not become an external one


def test_bad_rows_refuse_everything_unless_skipped(ws):
    path = FIXTURES / "bad_rows.csv"
    report = transfer.import_opportunities(ws, path)
    assert report.refused and not report.written
    assert [n for n, _ in report.errors] == [3, 4, 5, 6, 7]
    assert "negative" in dict(report.errors)[3]
    assert ws.list("opportunity") == []

    report = transfer.import_opportunities(ws, path, skip_bad=True)
    assert report.written and len(report.created_ids) == 2
    assert len(ws.list("opportunity")) == 2


def test_repeated_external_id_is_a_bad_row(ws, tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text("id,title,account,amount,stage,close_date\n"
                    "X1,A,Acme,1,proposal,2026-12-01\nX1,B,Acme,2,proposal,2026-12-01\n")
    report = transfer.import_opportunities(ws, path)
    assert report.errors == [(3, "external_id 'X1' repeats row 2")] and report.refused


def test_one_import_is_one_transaction(ws):
    rows_before = ws.store.max_seq()
    transfer.import_opportunities(ws, FIXTURES / "hubspot_deals.csv")
    assert ws.store.max_seq() == rows_before + 1


def test_mapping_and_its_errors(ws):
    path = FIXTURES / "outlook_cp1252.csv"
    with pytest.raises(InteropError, match="--map"):
        transfer.import_opportunities(ws, path)
    mapping = transfer.parse_mapping([
        "Titel=title", "Firma=account", "Betrag=amount", "Phase=stage",
        "Abschlussdatum=close_date", "Besitzer=owner", "Notizen=notes"])  # fmt: skip
    report = transfer.import_opportunities(ws, path, mapping)
    assert report.written and len(ws.list("opportunity")) == len(report.created)
    with pytest.raises(ValidationError, match="COLUMN=FIELD"):
        transfer.parse_mapping(["Titel"])


@pytest.mark.parametrize("name", ["binary_garbage.bin", "truncated.vcf"])
def test_unusable_contact_files_import_nothing(ws, name):
    with pytest.raises(InteropError, match=name):
        transfer.import_contacts(ws, FIXTURES / name)
    assert ws.list("contact") == []


@pytest.mark.parametrize("name", ["truncated.ics", "bad_dates.ics"])
def test_unusable_calendars_import_nothing(ws, name):
    with pytest.raises(InteropError, match=name):
        transfer.import_calendar(ws, FIXTURES / name)
    assert ws.list("event") == []


def test_contacts_round_trip(make_ws, tmp_path):
    first, second = make_ws("Dana"), make_ws("Eli")
    for name in ("google_contacts.vcf", "outlook_contacts.vcf", "apple_contacts.vcf"):
        transfer.import_contacts(first, FIXTURES / name)
    first.add("contact", {"name": "Ann Lee", "emails": ["ann@initech.example"]})
    out = tmp_path / "team.vcf"
    count = transfer.export_contacts(first, out)
    assert count == len(first.list("contact"))

    before = snapshot(first, "contact")
    report = transfer.import_contacts(first, out)
    assert report.unchanged == count and snapshot(first, "contact") == before
    transfer.import_contacts(second, out)
    transfer.import_contacts(second, out)  # twice: still no duplicates
    assert fields_of(second.list("contact"), drop={"external_id"}) == fields_of(
        first.list("contact"), drop={"external_id"})  # fmt: skip


def test_calendar_round_trip(make_ws, tmp_path):
    first, second = make_ws("Dana"), make_ws("Eli")
    for name in ("google_calendar.ics", "outlook_calendar.ics"):
        transfer.import_calendar(first, FIXTURES / name)
    out = tmp_path / "team.ics"
    count = transfer.export_calendar(first, out)
    before = snapshot(first, "event")
    assert transfer.import_calendar(first, out).unchanged == count
    assert snapshot(first, "event") == before
    transfer.import_calendar(second, out)
    transfer.import_calendar(second, out)
    assert fields_of(second.list("event")) == fields_of(first.list("event"))


def test_export_format_checks(ws, tmp_path):
    with pytest.raises(ValidationError, match="--format"):
        transfer.export_opportunities(ws, tmp_path / "x.pdf")
    transfer.export_opportunities(ws, tmp_path / "x.data", "xlsx")
    assert (tmp_path / "x.data").read_bytes()[:2] == b"PK"
