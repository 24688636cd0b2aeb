"""Fuzzing every import format (CSV, XLSX, ICS, VCF) with hypothesis, a fixed budget.

Real exports (the interop fixtures, and our own XLSX) are cut, overwritten with random bytes,
given hostile text, or replaced by random bytes; XLSX also inside its zip, where the sheet's
XML is. Any such file imports, or fails with an error the command line shows as one line;
a failed or refused import writes nothing.
"""

from __future__ import annotations

import functools
import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bullpen.app.errors import user_error_types
from bullpen.app.interop import transfer
from bullpen.app.interop.opportunities import write_opportunities
from bullpen.app.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
SEEDS = {
    "opportunities": ["salesforce_opportunities.csv", "hubspot_deals.csv", "bad_rows.csv",
                      "pipeline.xlsx"],
    "contacts": ["outlook_contacts.vcf", "google_contacts.vcf", "apple_contacts.vcf",
                 "vcard4.vcf"],
    "calendar": ["outlook_calendar.ics", "google_calendar.ics"],
}
HOSTILE = [b"\x00", b"\xff\xfe", b"=cmd|' /C calc'!A0", b"\r\n", b"\n ", b",;\t|", b'"',
           b"BEGIN:VEVENT\r\n", b"END:VCARD\r\n", b"9" * 5000, b"1e308", b"-1", b"2026-02-30",
           b"TZID=Mars/Olympus:", b"RRULE:FREQ=SECONDLY;COUNT=999999999\r\n",
           b'<!DOCTYPE x [<!ENTITY a "aaaa">]>', b"&a;", b"</row>", b"<c r=\"A1\">",
           "\u202e\x1b[31m".encode()]  # fmt: skip


@functools.cache
def xlsx_seed() -> bytes:
    """Our own export of a small pipeline (Excel's layout, shared strings and styles)."""
    records = [{"account": f"Acme {i}", "title": f"Deal {i}", "amount": 1000.0 + i,
                "stage": "proposal", "close_date": "2026-12-15", "currency": "EUR"}
               for i in range(5)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pipeline.xlsx"
        write_opportunities(path, records, "xlsx")
        return path.read_bytes()


def seed_bytes(name: str) -> bytes:
    return xlsx_seed() if name == "pipeline.xlsx" else (FIXTURES / name).read_bytes()


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` changed in one to three places (or replaced outright)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2000))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["cut", "overwrite", "insert", "delete"]))
        if how == "cut":
            data = data[:at]
        elif how == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=64))
            data = data[:at] + patch + data[at + len(patch):]
        elif how == "insert":
            data = data[:at] + draw(st.sampled_from(HOSTILE) | st.binary(max_size=64)) + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 200)):]
    return data


@st.composite
def mutated_xlsx(draw: st.DrawFn, data: bytes) -> bytes:
    """An .xlsx whose zip stays valid but one of its XML parts is mutated."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    name = draw(st.sampled_from(sorted(n for n in parts if n.endswith(".xml"))))
    parts[name] = draw(mutated(parts[name]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dest:
        for part, body in parts.items():
            dest.writestr(part, body)
    return out.getvalue()


@st.composite
def hostile_file(draw: st.DrawFn) -> tuple[str, str, bytes]:
    what = draw(st.sampled_from(sorted(SEEDS)))
    name = draw(st.sampled_from(SEEDS[what]))
    data = seed_bytes(name)
    if name.endswith(".xlsx") and draw(st.booleans()):
        return what, name, draw(mutated_xlsx(data))
    return what, name, draw(mutated(data))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace.create(tmp_path_factory.mktemp("fuzz") / "dana", "Dana", "Acme")
    yield workspace
    workspace.close()


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=hostile_file(), dry_run=st.booleans())
def test_any_damaged_import_file_imports_or_is_one_error(
    case: tuple[str, str, bytes], dry_run: bool, ws: Workspace, tmp_path: Path
) -> None:
    what, name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    before = ws.store.max_seq()
    try:
        report = transfer.IMPORTERS[what](ws, path, dry_run=dry_run)
    except user_error_types() as exc:
        assert str(exc), type(exc)
        assert ws.store.max_seq() == before, f"{name}: failed import wrote changes"
        return
    if dry_run or report.refused:
        assert ws.store.max_seq() == before, f"{name}: dry or refused import wrote changes"


def test_the_seeds_import_as_they_are(ws: Workspace, tmp_path: Path) -> None:
    """The fuzz starts from files that import (bad_rows.csv is refused row by row)."""
    for what, names in SEEDS.items():
        for name in names:
            path = tmp_path / name
            path.write_bytes(seed_bytes(name))
            report = transfer.IMPORTERS[what](ws, path, dry_run=True)
            assert report.created or report.updated or report.unchanged or report.errors, name
