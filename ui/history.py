"""A record's history: who changed what, when, with member names instead of peer ids.

Read from the CRDT change graph by ``ws.history`` off the GUI thread; concurrent edits of one
field show both values, so a merge that lost someone's edit is visible here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .context import AppContext
from .records_model import when

HIDDEN_FIELDS = {"updated_at", "updated_by", "created_at", "created_by", "kind", "deleted"}


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k[-6:]}: {v}" for k, v in value.items()) or "—"
    text = str(value)
    return text if len(text) < 60 else text[:59] + "…"


class HistoryPanel(QWidget):
    """Shows the history of one record; :meth:`show_for` loads it in a worker."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.record_id: str | None = None
        self.heading = QLabel("History", self)
        self.heading.setObjectName("heading")
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["When", "Who", "What"])
        self.tree.setColumnWidth(0, 120)
        self.tree.setColumnWidth(1, 90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.tree, 1)

    def show_for(self, record_id: str | None, title: str = "") -> None:
        self.record_id = record_id
        self.heading.setText(f"History — {title}" if title else "History")
        self.tree.clear()
        if record_id is None:
            return
        self.ctx.run(self.ctx.ws.history, record_id, done=lambda entries, rid=record_id:
                     self._show(rid, entries), what="Reading history")

    def _show(self, record_id: str, entries: list[Any]) -> None:
        if record_id != self.record_id:
            return  # the user moved on while it loaded
        self.tree.clear()
        for entry in reversed(entries):
            names = [k for k in entry.fields if k not in HIDDEN_FIELDS]
            summary = entry.action if not names else f"{entry.action}: {', '.join(names)}"
            if entry.concurrent:
                summary += " (concurrent edit)"
            item = QTreeWidgetItem([when(entry.at), self.ctx.name_of(entry.by), summary])
            for name in names:
                old, new = entry.fields[name]
                text = _value(new) if entry.action == "created" else \
                    f"{_value(old)} → {_value(new)}"
                item.addChild(QTreeWidgetItem(["", name.replace("_", " "), text]))
            self.tree.addTopLevelItem(item)
            item.setExpanded(entry.action != "created")
