"""The forecast call under the Forecast screen: per rep, per team and in total, the number the
rep submitted, the manager's adjustment (with who), the pipeline's computed number and the
one that counts, each as commit / best case; and who has not submitted yet.

The figures are ``app.sales.submissions.status``, computed in a worker by the Forecast screen
with its period; this widget shows them, and submits this user's number or (managers) adjusts
a rep's or a team's through a small dialog, off the GUI thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .base_view import ok_cancel
from .context import AppContext
from .records_model import money

HEADERS = ["Who", "Submitted", "Submitted at", "Adjusted", "Computed", "Final"]


def pair(figures: dict[str, Any] | None, *, by: bool = False) -> str:
    """'commit / best case' (and ' by NAME' for an adjustment); a dash when there is none."""
    if not figures:
        return "—"
    text = f"{money(figures.get('commit'))} / {money(figures.get('best_case'))}"
    return f"{text} by {figures['by']}" if by and figures.get("by") else text


class CallDialog(QDialog):
    """Commit, best case and a comment; for an adjustment, whose number (a rep's or a team's)."""

    def __init__(self, title: str, targets: list[tuple[str, tuple[str, bool]]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.who = QComboBox(self)
        for label, target in targets:
            self.who.addItem(label, target)
        self.commit = QLineEdit(self)
        self.best_case = QLineEdit(self)
        self.comment = QLineEdit(self)
        form = QFormLayout(self)
        if targets:
            form.addRow("Whose number", self.who)
        form.addRow("Commit", self.commit)
        form.addRow("Best case", self.best_case)
        form.addRow("Comment", self.comment)
        ok_cancel(self, form)


class CallPanel(QWidget):
    """Submitted, adjusted, computed and final numbers of the period's forecast call."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.data: dict[str, Any] | None = None
        self.dialog: CallDialog | None = None
        heading = QLabel("Forecast call (commit / best case)", self)
        heading.setObjectName("title")
        self.submit_button = QPushButton("Submit my forecast…", self)
        self.submit_button.clicked.connect(lambda: self._ask(adjust=False))
        self.adjust_button = QPushButton("Adjust…", self)
        self.adjust_button.setToolTip("Managers: a rep's or a team's number; the rep's own "
                                      "stays as submitted")
        self.adjust_button.clicked.connect(lambda: self._ask(adjust=True))
        bar = QHBoxLayout()
        bar.addWidget(heading, 1)
        bar.addWidget(self.submit_button)
        bar.addWidget(self.adjust_button)
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
        layout.addLayout(bar)
        layout.addWidget(self.missing)
        layout.addWidget(self.table, 1)

    def _ask(self, *, adjust: bool) -> None:
        """Open the dialog for this period (non-modal: the call keeps updating behind it)."""
        if self.data is None:
            return
        targets = ([(r["key"], (r["key"], False)) for r in self.data["reps"]]
                   + [(f"Team {t['key']}", (t["key"], True)) for t in self.data["teams"]]
                   if adjust else [])
        verb = "Adjust" if adjust else "Submit"
        self.dialog = CallDialog(f"{verb} the {self.data['period']} forecast", targets, self)
        self.dialog.accepted.connect(lambda d=self.dialog, a=adjust: self._send(d, a))
        self.dialog.open()

    def _send(self, dialog: CallDialog, adjust: bool) -> None:
        from bullpen.app.sales import submissions

        ws, period = self.ctx.ws, (self.data or {}).get("period")
        numbers = (dialog.commit.text().strip(), dialog.best_case.text().strip(),
                   dialog.comment.text().strip())
        if adjust:
            who, team = dialog.who.currentData()
            self.ctx.run(lambda: submissions.adjust(ws, who, *numbers, period, team=team),
                         what="Adjusting the forecast")
        else:
            self.ctx.run(submissions.submit, ws, *numbers, period, what="Submitting the forecast")

    def show_call(self, data: dict[str, Any]) -> None:
        self.data = data
        self.adjust_button.setEnabled(self.ctx.ws.role() == "manager")
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
