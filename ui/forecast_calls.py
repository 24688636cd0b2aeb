"""The forecast call under the Forecast screen: per rep, per team and in total, the number the
rep submitted, the manager's adjustment (with who), the pipeline's computed number and the
one that counts, each as commit / best case; and who has not submitted yet.

The figures are ``app.sales.submissions.status``, computed in a worker by the Forecast screen
with its period; this widget only shows them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .records_model import money

HEADERS = ["Who", "Submitted", "Submitted at", "Adjusted", "Computed", "Final"]


def pair(figures: dict[str, Any] | None, *, by: bool = False) -> str:
    """'commit / best case' (and ' by NAME' for an adjustment); a dash when there is none."""
    if not figures:
        return "—"
    text = f"{money(figures.get('commit'))} / {money(figures.get('best_case'))}"
    return f"{text} by {figures['by']}" if by and figures.get("by") else text


class CallPanel(QWidget):
    """Submitted, adjusted, computed and final numbers of the period's forecast call."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        heading = QLabel("Forecast call (commit / best case)", self)
        heading.setObjectName("title")
        self.missing = QLabel(self)
        self.missing.setObjectName("muted")
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("A manager's adjustment never changes the rep's own number; "
                              "bullpen forecast submit|adjust")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(self.missing)
        layout.addWidget(self.table, 1)

    def show_call(self, data: dict[str, Any]) -> None:
        lines = ([(r["key"], r) for r in data["reps"]]
                 + [(f"Team {t['key']}", t) for t in data["teams"]]
                 + [("Total", data["total"])])
        self.table.setRowCount(len(lines))
        for r, (name, row) in enumerate(lines):
            submitted = row["submitted"]
            cells = [name, pair(submitted), (submitted or {}).get("at", "")[:16].replace("T", " "),
                     pair(row["adjusted"], by=True), pair(row["computed"]), pair(row["final"])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if row["adjusted"] and c == 3:
                    item.setToolTip(row["adjusted"].get("comment") or "")
                if submitted and c == 1:
                    item.setToolTip(submitted.get("comment") or "")
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        names = ", ".join(data["not_submitted"])
        self.missing.setText(f"{data['period']}: not submitted: {names}" if names
                             else f"{data['period']}: everyone has submitted")
