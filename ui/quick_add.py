"""Ctrl+N: add a deal in a few keystrokes.

One line ("Acme renewal 50k proposal Dec 15") is parsed as you type (``app.sales.quick_add``) into a
compact form underneath, which shows what will be saved and lets the rep fix any field (account
with auto-complete) before pressing Enter. Defaults are visible, never silent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.fields import Stage
from bullpen.app.sales.quick_add import parse_quick_add


class QuickAddDialog(QDialog):
    """Returns the new opportunity's fields from :meth:`fields` after ``exec()``."""

    def __init__(self, stages: list[Stage], accounts: list[str], currency: str,
                 parent: QWidget | None = None, today: dt.date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New opportunity")
        self.setMinimumWidth(520)
        self.stages = stages
        self.accounts = sorted(set(accounts), key=str.lower)
        self.today = today or dt.date.today()
        self.line = QLineEdit(self)
        self.line.setPlaceholderText('e.g. "Acme renewal 50k proposal Dec 15"')
        self.line.textEdited.connect(self._parse)
        self.hint = QLabel("Type the deal in one line, or fill in the fields.", self)
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)

        self.account = QLineEdit(self)
        completer = QCompleter(self.accounts, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.account.setCompleter(completer)
        self.title_edit = QLineEdit(self)
        self.amount = QDoubleSpinBox(self)
        self.amount.setRange(0, 1e12)
        self.amount.setDecimals(0)
        self.amount.setGroupSeparatorShown(True)
        self.amount.setSuffix(f" {currency}")
        self.stage = QComboBox(self)
        for s in stages:
            self.stage.addItem(s.label, s.id)
        self.close_date = QDateEdit(self)
        self.close_date.setCalendarPopup(True)
        self.close_date.setDisplayFormat("yyyy-MM-dd")
        form = QFormLayout()
        form.addRow("Account", self.account)
        form.addRow("Title", self.title_edit)
        form.addRow("Amount", self.amount)
        form.addRow("Stage", self.stage)
        form.addRow("Close date", self.close_date)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.line)
        layout.addWidget(self.hint)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._parse("")

    def _parse(self, text: str) -> None:
        if not text.strip():
            self._show({"account": "", "title": "", "amount": 0.0,
                        "stage": self.stages[0].id if self.stages else "",
                        "close_date": (self.today + dt.timedelta(days=30)).isoformat()})
            return
        try:
            result = parse_quick_add(text, self.stages, self.accounts, self.today)
        except ValueError as exc:
            self.hint.setText(str(exc))
            return
        self._show(result.fields)
        self.hint.setText(
            "Defaults: " + ", ".join(f.replace("_", " ") for f in result.defaulted)
            if result.defaulted else "Press Enter to add.")

    def _show(self, fields: dict[str, Any]) -> None:
        self.account.setText(fields["account"])
        self.title_edit.setText(fields["title"])
        self.amount.setValue(float(fields["amount"]))
        found = self.stage.findData(fields["stage"])
        if found >= 0:
            self.stage.setCurrentIndex(found)
        self.close_date.setDate(QDate.fromString(fields["close_date"], "yyyy-MM-dd"))

    def _accept(self) -> None:
        if not self.account.text().strip() or not self.title_edit.text().strip():
            self.hint.setText("An account and a title are needed.")
            return
        self.accept()

    def fields(self) -> dict[str, Any]:
        return {
            "account": self.account.text().strip(),
            "title": self.title_edit.text().strip(),
            "amount": self.amount.value(),
            "stage": self.stage.currentData(),
            "close_date": self.close_date.date().toString("yyyy-MM-dd"),
        }
