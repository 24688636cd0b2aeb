"""Ctrl+K: one box over everything (deals, contacts, documents, posts, files, events).

Results come as you type (the last word matches as a prefix) from ``ws.search`` in a worker;
an answer to an older query than the one now in the box is dropped, so fast typing never shows
stale results. Enter opens the highlighted record on its screen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from .context import AppContext

# The kinds a result can be opened as, on their screens (MainWindow.open_record); others
# (action items, forecast submissions, deal rooms) have no screen to open them on yet, so a
# result for them would close the popup and show nothing.
KIND_LABELS = {
    "opportunity": "Deal", "contact": "Contact", "event": "Event", "topic": "Topic",
    "post": "Post", "announcement": "Announcement", "resource": "File",
    "document": "Document",
}


class SearchPopup(QDialog):
    chosen = Signal(str, str)  # (kind, record id)

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Search everything")
        self.setModal(False)
        self.resize(640, 420)
        self.box = QLineEdit(self)
        self.box.setPlaceholderText("Search deals, contacts, documents, posts, files…")
        self.box.setClearButtonEnabled(True)
        self.results = QListWidget(self)
        self.status = QLabel(self)
        self.status.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.addWidget(self.box)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        self._query = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(40)  # coalesce a burst of keystrokes into one query
        self._timer.timeout.connect(self._run)
        self.box.textChanged.connect(lambda _t: self._timer.start())
        self.box.returnPressed.connect(self._choose_current)
        self.box.installEventFilter(self)
        self.results.itemActivated.connect(self._choose)

    def popup(self) -> None:
        self.box.selectAll()
        self.show()
        self.raise_()
        self.activateWindow()
        self.box.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up/Down move through the results while the cursor stays in the box."""
        if watched is self.box and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                return True
        return super().eventFilter(watched, event)

    def _run(self) -> None:
        query = self.box.text().strip()
        self._query = query
        if not query:
            self._waiting = False
            self.results.clear()
            self.status.setText("")
            return
        self._waiting = True
        self.ctx.run(self.ctx.ws.search, query, 50,
                     done=lambda rows, q=query: self._show(q, rows), what="Searching")

    _waiting = False
    _choose_when_ready = False

    def _show(self, query: str, rows: list[dict[str, Any]]) -> None:
        if query != self._query:
            return  # an older query answered late
        self._waiting = False
        self.results.clear()
        rows = [row for row in rows if row["kind"] in KIND_LABELS]
        for row in rows:
            label = KIND_LABELS[row["kind"]]
            snippet = " ".join((row.get("snippet") or "").split())
            item = QListWidgetItem(f"{label}:  {row.get('title') or '(untitled)'}\n    {snippet}")
            item.setData(Qt.ItemDataRole.UserRole, (row["kind"], row["id"]))
            self.results.addItem(item)
        if rows:
            self.results.setCurrentRow(0)
        self.status.setText(f"{len(rows)} results" if rows else "Nothing found")
        if self._choose_when_ready:
            self._choose_when_ready = False
            if rows:
                self._choose(self.results.item(0))

    def _choose_current(self) -> None:
        if self._timer.isActive() or self._waiting:
            # Enter right after typing: choose the first result of what is in the box now.
            self._choose_when_ready = True
            if self._timer.isActive():
                self._timer.stop()
                self._run()
            return
        item = self.results.currentItem()
        if item is not None:
            self._choose(item)

    def _choose(self, item: QListWidgetItem) -> None:
        kind, record_id = item.data(Qt.ItemDataRole.UserRole)
        self.hide()
        self.chosen.emit(kind, record_id)
