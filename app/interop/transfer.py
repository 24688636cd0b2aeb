"""Import and export use cases: files from other tools in, spreadsheets and address books out.

The format modules (``interop_*``) turn files into validated field dicts and back; this module
decides what those dicts mean for the workspace. A file row matches an existing record when its
external id equals the record's ``external_id`` or the record's own id (our exports write the
record id when there is no external one, as vCard UID and iCalendar UID), so importing the same
file again updates instead of duplicating, and an export read back changes nothing. One import
is one ``add_many`` call: validated first, written as one transaction, all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bullpen.app.interop.common import EXPORT_FORMATS
from bullpen.app.sales.use_cases import author_names, with_names
from bullpen.app.workspace import Workspace
from bullpen.crdt.schema import ValidationError

Rows = list[tuple[int, dict[str, Any]]]  # (row or item number in the file, fields)
# A changed stage brings its default probability and category unless the update says them, so
# when a row moves the stage, its own probability/category must go along even if unchanged.
_STAGE_COMPANIONS = ("probability", "category")


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a refused file, would do)."""

    kind: str
    path: str
    created: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updated: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # row, id, changes
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was kept in another form, and why
    created_ids: list[str] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False

    @property
    def refused(self) -> bool:
        """Bad rows without --skip-bad: nothing was imported."""
        return bool(self.errors) and not self.written and not self.dry_run

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.path,
            "dry_run": self.dry_run,
            "imported": self.written,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "created_ids": self.created_ids,
            "updates": [{"row": n, "id": rid, "changes": ch} for n, rid, ch in self.updated],
            "errors": [{"row": n, "reason": reason} for n, reason in self.errors],
            "ignored_columns": self.ignored_columns,
            "notes": self.notes,
        }

    def error_lines(self) -> list[str]:
        return [f"row {n}: {reason}" for n, reason in self.errors]

    def outcome(self) -> str:
        """One line: what was (or would be) done, or why nothing was."""
        if self.refused:
            good = len(self.created) + len(self.updated)
            return (
                f"{self.path}: {len(self.errors)} bad rows, nothing imported (fix them, or "
                f"use --skip-bad to import the {good} good rows)"
            )
        made, changed = ("would create", "would update") if self.dry_run else ("created", "updated")
        skipped = f", skipped {len(self.errors)} bad rows" if self.errors else ""
        return (
            f"{self.path}: {made} {len(self.created)}, {changed} {len(self.updated)}, "
            f"unchanged {self.unchanged}{skipped}"
        )

    def summary(self) -> str:
        """Human report: bad rows by number first, then the outcome and skipped columns."""
        lines = [*self.error_lines(), *self.notes, self.outcome()]
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        return "\n".join(lines)


# ----- matching -----------------------------------------------------------------------------------


def _by_key(existing: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Lookup by external id, then by record id (an external id wins a clash)."""
    records = list(existing)
    keys: dict[str, Mapping[str, Any]] = {
        r["external_id"]: r for r in records if r.get("external_id")
    }
    for record in records:
        keys.setdefault(record["id"], record)
    return keys


def _changes(target: Mapping[str, Any], fields: dict[str, Any], key: str) -> dict[str, Any]:
    """The fields of a row that differ from the record it matched."""
    if key == target["id"] and target.get("external_id") != key:
        fields = {k: v for k, v in fields.items() if k != "external_id"}  # our own id, not theirs
    changes = {k: v for k, v in fields.items() if target.get(k) != v}
    if "stage" in changes:
        changes.update({k: fields[k] for k in _STAGE_COMPANIONS if k in fields})
    return changes


def plan(report: ImportReport, existing: Iterable[Mapping[str, Any]], rows: Rows) -> None:
    """Sort rows into creates, updates and unchanged; a repeated external id is a bad row."""
    keys = _by_key(existing)
    seen: dict[str, int] = {}
    for number, fields in rows:
        key = fields.get("external_id") or ""
        if key in seen:
            report.errors.append((number, f"external_id {key!r} repeats row {seen[key]}"))
            continue
        if key:
            seen[key] = number
        target = keys.get(key) if key else None
        if target is None:
            report.created.append((number, fields))
            continue
        changes = _changes(target, fields, key)
        if changes:
            report.updated.append((number, target["id"], changes))
        else:
            report.unchanged += 1
    report.errors.sort()


def apply(ws: Workspace, report: ImportReport, *, dry_run: bool, skip_bad: bool) -> ImportReport:
    """Write the plan in one ``add_many`` unless it is a dry run or has bad rows to refuse."""
    report.dry_run = dry_run
    if dry_run or (report.errors and not skip_bad):
        return report
    if report.created or report.updated:
        try:
            report.created_ids = ws.add_many(
                report.kind,
                [f for _, f in report.created],
                [(rid, ch) for _, rid, ch in report.updated],
            )
        except ValidationError as exc:
            raise ValidationError(f"{report.path}: {exc}; nothing imported") from None
    report.written = True
    return report


def _import(
    ws: Workspace,
    kind: str,
    path: str | os.PathLike[str],
    read: Callable[[], tuple[Rows, list[tuple[int, str]], list[str]]],
    *,
    dry_run: bool,
    skip_bad: bool,
) -> ImportReport:
    rows, errors, ignored = read()
    report = ImportReport(kind, str(path), errors=list(errors), ignored_columns=ignored)
    plan(report, ws.list(kind), rows)
    return apply(ws, report, dry_run=dry_run, skip_bad=skip_bad)


# ----- opportunities ------------------------------------------------------------------------------


def import_opportunities(
    ws: Workspace,
    path: str | os.PathLike[str],
    mapping: Mapping[str, str] | None = None,
    *,
    dry_run: bool = False,
    skip_bad: bool = False,
) -> ImportReport:
    """Import a CRM export (CSV/XLSX); bad rows refuse the whole file unless ``skip_bad``."""
    from bullpen.app.interop.opportunities import EXPORT_COLUMNS, read_opportunities

    def read() -> tuple[Rows, list[tuple[int, str]], list[str]]:
        stages = tuple(s.id for s in ws.stages())
        result = read_opportunities(path, dict(mapping or {}), stages)
        # Our own export's read-only columns (id, created_by ...) are no news to the user.
        ignored = [c for c in result.ignored_columns if c not in EXPORT_COLUMNS]
        return result.rows, result.errors, ignored

    return _import(ws, "opportunity", path, read, dry_run=dry_run, skip_bad=skip_bad)


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["Deal Value=amount", "Region=ignore"]`` as {column: field}."""
    out = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip():
            raise ValidationError(f"--map {item!r}: use COLUMN=FIELD, e.g. 'Deal Value=amount'")
        out[column.strip()] = target.strip()
    return out


def export_format(path: str | os.PathLike[str], fmt: str | None) -> str:
    chosen = (fmt or Path(path).suffix.lstrip(".") or "csv").lower()
    if chosen not in EXPORT_FORMATS:
        raise ValidationError(f"--format {chosen!r}: use {' or '.join(EXPORT_FORMATS)}")
    return chosen


def export_opportunities(
    ws: Workspace, path: str | os.PathLike[str], fmt: str | None = None
) -> int:
    """Write the pipeline for a spreadsheet; authors as names; returns the record count."""
    from bullpen.app.interop.opportunities import write_opportunities

    names = author_names(ws)
    records = []
    for record in ws.list("opportunity", order="close_date"):
        row = with_names(record, names)
        row["external_id"] = record.get("external_id") or record["id"]  # as vCard/iCal UIDs
        records.append(row)
    write_opportunities(path, records, export_format(path, fmt))
    return len(records)


# ----- contacts and calendar ----------------------------------------------------------------------


def _numbered(
    items: list[dict[str, Any]],
) -> tuple[Rows, list[tuple[int, str]], list[str]]:
    return list(enumerate(items, start=1)), [], []


def import_contacts(
    ws: Workspace, path: str | os.PathLike[str], *, dry_run: bool = False
) -> ImportReport:
    """Import a .vcf address book; a contact matches on external_id = vCard UID."""
    from bullpen.app.interop.vcard import read_vcards

    return _import(
        ws, "contact", path, lambda: _numbered(read_vcards(path)), dry_run=dry_run, skip_bad=False
    )


def export_contacts(ws: Workspace, path: str | os.PathLike[str]) -> int:
    from bullpen.app.interop.vcard import write_vcards

    contacts = ws.list("contact", order="title")
    write_vcards(path, contacts)
    return len(contacts)


def import_calendar(
    ws: Workspace, path: str | os.PathLike[str], *, dry_run: bool = False
) -> ImportReport:
    """Import an .ics calendar; an event matches on external_id = UID (#RECURRENCE-ID)."""
    from bullpen.app.interop.ical import read_ical

    notes: list[str] = []
    report = _import(ws, "event", path, lambda: _numbered(read_ical(path, notes)),
                     dry_run=dry_run, skip_bad=False)
    report.notes = notes
    return report


def export_calendar(ws: Workspace, path: str | os.PathLike[str]) -> int:
    from bullpen.app.interop.ical import write_ical

    events = ws.list("event")
    events.sort(key=lambda e: (e.get("start") or "", e["id"]))
    write_ical(path, events)
    return len(events)


IMPORTERS = {
    "opportunities": import_opportunities,
    "contacts": import_contacts,
    "calendar": import_calendar,
}
EXPORTERS = {
    "opportunities": export_opportunities,
    "contacts": export_contacts,
    "calendar": export_calendar,
}
