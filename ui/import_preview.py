"""Import opportunities with a preview: which column feeds which field, bad rows, counts.

A CRM export rarely names its columns like ours ("Deal Value", "Region"), and an import is one
all-or-nothing write, so the user sees before anything is stored: the file's columns and the
field each one was matched to (``ImportResult.columns`` / ``ignored_columns``), a drop-down to
change a match, the bad rows by spreadsheet row number, and a dry run of ``app.transfer``
(how many deals would be created and updated). Every read, dry run and the import itself run
in a worker, with the dialog's progress bar moving meanwhile; a change of mapping runs the
preview again.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.fields import OPPORTUNITY

from .context import AppContext, plain_error

IGNORE = "ignore"
FIELDS = [f.name for f in OPPORTUNITY.fields if f.type != "list"]


def file_columns(path: str) -> list[str]:
    """The header of a spreadsheet, for when the file lacks a required column and the app's
    reader refuses it before naming its columns: the user then maps one by hand."""
    from bullpen.app.interop.common import decode_text, read_bytes

    data = read_bytes(path)
    if data.startswith(b"PK\x03\x04"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        for row in sheet.iter_rows(values_only=True):  # type: ignore[union-attr]
            if any(c not in (None, "") for c in row):
                return [str(c).strip() for c in row if c not in (None, "")]
        return []
    text = decode_text(data, path).lstrip("\r\n")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=lambda d: (first.count(d), d == ","))
    return [c.strip() for c in next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
            if c.strip()]


def preview(ws: Any, path: str, mapping: dict[str, str]) -> dict[str, Any]:
    """Read the file with ``mapping`` and dry-run the import (worker thread).

    A file the reader refuses as a whole (no column for a required field) still shows its
    columns, with the reason, so the user can map the missing field."""
    from bullpen.app.interop import transfer
    from bullpen.app.interop.errors import InteropError
    from bullpen.app.interop.opportunities import read_opportunities

    try:
        result = read_opportunities(path, dict(mapping), tuple(s.id for s in ws.stages()))
        report = transfer.import_opportunities(ws, path, mapping, dry_run=True)
    except InteropError as exc:
        columns = {c: mapping.get(c, IGNORE) for c in file_columns(path)}
        return {"columns": columns, "report": None, "problem": plain_error(exc)}
    columns = {**result.columns, **{c: IGNORE for c in result.ignored_columns}}
    return {"columns": columns, "report": report, "problem": ""}


class ImportPreviewDialog(QDialog):
    """The preview and the import of one opportunities file."""

    def __init__(self, ctx: AppContext, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.path = ctx, path
        self.mapping: dict[str, str] = {}  # the user's changes, as transfer's --map
        self.detected: dict[str, str] = {}
        self.report: Any = None
        self.setWindowTitle(f"Import opportunities — {Path(path).name}")
        self.resize(640, 560)
        layout = QVBoxLayout(self)
        intro = QLabel("Check which column fills which field; change one with its drop-down. "
                       "Nothing is stored until you press Import.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Column in the file", "Field"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table, 2)
        self.summary = QLabel(self)
        self.summary.setObjectName("heading")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.bad_rows = QListWidget(self)
        layout.addWidget(self.bad_rows, 1)
        self.skip_bad = QCheckBox("Skip the bad rows and import the others", self)
        self.skip_bad.toggled.connect(self._update_button)
        layout.addWidget(self.skip_bad)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)  # moving while a worker reads or imports
        self.progress.setTextVisible(False)
        layout.addWidget(self.progress)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.run_import)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._busy = False
        self.refresh()

    # --- preview ---

    def refresh(self) -> None:
        """Read and dry-run the file with the current mapping."""
        self._set_busy(True, "Reading the file…")
        mapping = dict(self.mapping)
        self.ctx.run(preview, self.ctx.ws, self.path, mapping,
                     done=lambda result: self._previewed(mapping, result),
                     failed=lambda _e: self._set_busy(False, "The file could not be read."),
                     what=f"Reading {Path(self.path).name}")

    def _previewed(self, mapping: dict[str, str], result: dict[str, Any]) -> None:
        if mapping != self.mapping:
            return  # the user changed a column meanwhile: that preview is on its way
        self.report = result["report"]
        self._show_columns(result["columns"])
        self.bad_rows.clear()
        if result["problem"]:
            self.summary.setText(result["problem"])
        else:
            report = self.report
            self.summary.setText(
                f"Would create {len(report.created)} and update {len(report.updated)} deals"
                f" ({report.unchanged} unchanged)"
                + (f"; {len(report.errors)} bad rows:" if report.errors else "."))
            self.bad_rows.addItems(report.error_lines())
        self.bad_rows.setVisible(self.bad_rows.count() > 0)
        self.skip_bad.setVisible(bool(self.report and self.report.errors))
        self._set_busy(False)

    def _show_columns(self, columns: dict[str, str]) -> None:
        for column, field in columns.items():  # what the reader chose by itself
            if column not in self.mapping:
                self.detected[column] = field
        self.table.setRowCount(len(columns))
        for row, (column, field) in enumerate(columns.items()):
            self.table.setItem(row, 0, QTableWidgetItem(column))
            box = QComboBox(self.table)
            box.addItem("— not imported —", IGNORE)
            for name in FIELDS:
                box.addItem(name.replace("_", " "), name)
            box.setCurrentIndex(max(box.findData(field), 0))
            box.currentIndexChanged.connect(
                lambda _i, c=column, b=box: self.set_mapping(c, b.currentData()))
            self.table.setCellWidget(row, 1, box)

    def set_mapping(self, column: str, field: str) -> None:
        """The user matched ``column`` to ``field`` (or "ignore"): preview again."""
        if self.detected.get(column) == field:
            self.mapping.pop(column, None)
        else:
            self.mapping[column] = field
        self.refresh()

    def combo(self, column: str) -> QComboBox:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == column:
                return self.table.cellWidget(row, 1)  # type: ignore[return-value]
        raise KeyError(column)

    # --- importing ---

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self.progress.setVisible(busy)
        if text:
            self.summary.setText(text)
        self.table.setEnabled(not busy)
        self._update_button()

    def _update_button(self) -> None:
        report = self.report
        ready = report is not None and not self._busy and bool(report.created or report.updated)
        if report is not None and report.errors and not self.skip_bad.isChecked():
            ready = False
        self.import_button.setEnabled(ready)

    def run_import(self) -> None:
        """Write for real (one all-or-nothing ``add_many``), then report and close."""
        from bullpen.app.interop import transfer

        if not self.import_button.isEnabled():
            return
        mapping, skip = dict(self.mapping), self.skip_bad.isChecked()
        self._set_busy(True, "Importing…")

        def done(report: Any) -> None:
            self._set_busy(False)
            message = (f"Imported {Path(self.path).name}: created {len(report.created)}, "
                       f"updated {len(report.updated)}"
                       + (f", skipped {len(report.errors)} bad rows" if report.errors else ""))
            self.ctx.status.emit(message)
            self.accept()

        self.ctx.run(lambda: transfer.import_opportunities(self.ctx.ws, self.path, mapping,
                                                           skip_bad=skip),
                     done=done, failed=lambda _e: self._set_busy(False),
                     what=f"Importing {Path(self.path).name}")


def import_opportunities(ctx: AppContext, parent: QWidget, path: str) -> ImportPreviewDialog:
    """Open the preview for ``path`` (window-modal, never blocking the event loop)."""
    dialog = ImportPreviewDialog(ctx, path, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.open()
    return dialog
