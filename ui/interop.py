"""File menu import/export, one table for all kinds (via ``app.interop.transfer``).

Opportunities open a preview with their column mapping (``ui.import_preview``); the other
imports read and write in a worker with a busy dialog; the outcome (or the bad rows, which
refuse the whole file) is shown in plain words. The screens refresh from the ChangeSets the
import produces like from any other change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from .context import AppContext


@dataclass(frozen=True)
class Format:
    what: str  # transfer's name: opportunities | contacts | calendar
    label: str
    filters: str
    suffix: str


FORMATS = {
    "opportunities": Format("opportunities", "Opportunities",
                            "Spreadsheets (*.csv *.xlsx);;CSV (*.csv);;Excel (*.xlsx)", ".csv"),
    "contacts": Format("contacts", "Contacts", "vCard (*.vcf)", ".vcf"),
    "calendar": Format("calendar", "Calendar", "iCalendar (*.ics)", ".ics"),
}


def busy(parent: QWidget, text: str) -> QProgressDialog:
    """A cancel-less busy indicator for work running in a worker."""
    dialog = QProgressDialog(text, "", 0, 0, parent)
    dialog.setCancelButton(None)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setWindowTitle("Bullpen")
    return dialog


def import_file(ctx: AppContext, parent: QWidget, what: str, path: str | None = None) -> None:
    from bullpen.app.interop import transfer

    fmt = FORMATS[what]
    if path is None:
        path, _ = QFileDialog.getOpenFileName(parent, f"Import {fmt.label.lower()}", "",
                                              fmt.filters)
    if not path:
        return
    if what == "opportunities":  # spreadsheets get a column mapping preview first
        from .import_preview import import_opportunities

        import_opportunities(ctx, parent, path)
        return
    dialog = busy(parent, f"Importing {Path(path).name}…")

    def done(report: Any) -> None:
        dialog.close()
        box = QMessageBox.warning if report.refused else QMessageBox.information
        box(parent, f"Import {fmt.label.lower()}", report.summary().replace(" --skip-bad", ""))

    def failed(_exc: BaseException) -> None:
        dialog.close()

    ctx.run(transfer.IMPORTERS[what], ctx.ws, path, done=done, failed=failed,
            what=f"Importing {Path(path).name}")


def export_file(ctx: AppContext, parent: QWidget, what: str, path: str | None = None) -> None:
    from bullpen.app.interop import transfer

    fmt = FORMATS[what]
    if path is None:
        path, _ = QFileDialog.getSaveFileName(parent, f"Export {fmt.label.lower()}",
                                              f"{what}{fmt.suffix}", fmt.filters)
    if not path:
        return
    if not Path(path).suffix:
        path += fmt.suffix

    def done(count: int) -> None:
        ctx.status.emit(f"Exported {count} {fmt.label.lower()} to {path}")

    ctx.run(transfer.EXPORTERS[what], ctx.ws, path, done=done,
            what=f"Exporting {fmt.label.lower()}")
