"""Message Center: announcements (pinned first, unread in bold) and my notifications.

Reading an announcement marks it read for me (``read_by[my peer id]``, a map that merges per
member, so marking read never overwrites a teammate's). My notifications come from the
profile's local inbox (never synced).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.workspace import ChangeSet, now_iso

from .base_view import BaseView, ok_cancel
from .context import AppContext, apply_updates
from .notify_prefs import open_settings
from .records_model import when

ID_ROLE = Qt.ItemDataRole.UserRole


class AnnounceDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New announcement")
        self.title_edit = QLineEdit(self)
        self.text = QPlainTextEdit(self)
        self.pinned = QCheckBox("Pin to the top", self)
        form = QFormLayout(self)
        form.addRow("Title", self.title_edit)
        form.addRow("Text", self.text)
        form.addRow("", self.pinned)
        ok_cancel(self, form)


class MessagesView(BaseView):
    title = "Messages"
    kinds = ("announcement",)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.records: dict[str, dict[str, Any]] = {}
        self.list = QListWidget(self)
        self.list.currentItemChanged.connect(self._selected)
        self.body = QTextBrowser(self)
        self.body.setOpenExternalLinks(False)
        new = QPushButton("New announcement", self)
        new.setObjectName("primary")
        new.clicked.connect(self.announce)
        self.pin = QPushButton("Pin / unpin", self)
        self.pin.clicked.connect(self.toggle_pin)
        self.all_read = QPushButton("Mark all read", self)
        self.all_read.clicked.connect(self.mark_all_read)
        self.unread_label = QLabel(self)
        self.unread_label.setObjectName("muted")
        self.settings = QPushButton("Notification settings…", self)
        self.settings.clicked.connect(lambda: open_settings(ctx, self))
        bar = QHBoxLayout()
        bar.addWidget(self.unread_label, 1)
        bar.addWidget(self.settings)
        bar.addWidget(self.all_read)
        bar.addWidget(self.pin)
        bar.addWidget(new)
        split = QSplitter(self)
        split.addWidget(self.list)
        split.addWidget(self.body)
        split.setSizes([420, 650])
        announcements = QWidget(self)
        column = QVBoxLayout(announcements)
        column.addLayout(bar)
        column.addWidget(split, 1)
        self.notes = QListWidget(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(announcements, "Announcements")
        self.tabs.addTab(self.notes, "My notifications")
        self.tabs.currentChanged.connect(lambda i: self.load_notifications() if i == 1 else None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.tabs)
        self._pending: str | None = None

    def _unread(self, record: dict[str, Any]) -> bool:
        return self.ws.peer_id not in (record.get("read_by") or {})

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.records = {r["id"]: r for r in records}
        self._draw()
        if self._pending:
            self.show_record(self._pending)

    def _draw(self) -> None:
        current = self.list.currentItem().data(ID_ROLE) if self.list.currentItem() else None
        self.list.blockSignals(True)
        self.list.clear()
        ordered = sorted(self.records.values(), key=lambda r: r.get("created_at") or "",
                         reverse=True)
        ordered.sort(key=lambda r: not r.get("pinned"))  # stable: pinned first, newest first
        for record in ordered:
            pin = "★ Pinned · " if record.get("pinned") else ""
            title = record.get("title") or record.get("text", "")[:60]
            item = QListWidgetItem(f"{pin}{title}\n{self.ctx.name_of(record.get('created_by'))}"
                                   f" · {when(record.get('created_at'))}")
            item.setData(ID_ROLE, record["id"])
            if self._unread(record):
                font = item.font()
                font.setWeight(QFont.Weight.Bold)
                item.setFont(font)
            self.list.addItem(item)
            if record["id"] == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        unread = sum(1 for r in self.records.values() if self._unread(r))
        self.unread_label.setText(f"{unread} unread" if unread else "All read")

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        apply_updates(self.records, updates)
        self._draw()
        current = self.list.currentItem()
        if current is not None and current.data(ID_ROLE) in updates:
            self._show_body(current.data(ID_ROLE))
        if self._pending in self.records:
            self.show_record(self._pending)

    def _selected(self, item: QListWidgetItem | None, _previous: Any) -> None:
        if item is None:
            return
        rid = item.data(ID_ROLE)
        self._show_body(rid)
        if self._unread(self.records.get(rid, {})):
            self.ctx.run(self.ws.update, rid, {"read_by": {self.ws.peer_id: now_iso()}},
                         what="Marking read")

    def _show_body(self, rid: str) -> None:
        record = self.records.get(rid)
        if record is None:
            return
        self.body.clear()
        self.body.append(f"<h2>{_esc(record.get('title') or '')}</h2>")
        author = _esc(self.ctx.name_of(record.get("created_by")))
        self.body.append(f"<p style='color:#6b7280'>{author}, "
                         f"{when(record.get('created_at'))}</p>")
        for paragraph in (record.get("text") or "").split("\n"):
            self.body.append(f"<p>{_esc(paragraph)}</p>")
        readers = [self.ctx.name_of(p) for p in (record.get("read_by") or {})]
        if readers:
            self.body.append(f"<p style='color:#6b7280'>Read by {_esc(', '.join(readers))}</p>")

    def show_record(self, record_id: str) -> None:
        self.tabs.setCurrentIndex(0)
        if record_id not in self.records:
            self._pending = record_id
            self.ensure_loaded()
            return
        self._pending = None
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == record_id:
                self.list.setCurrentRow(row)

    def announce(self) -> None:
        dialog = AnnounceDialog(self)
        if not dialog.exec() or not dialog.text.toPlainText().strip():
            return
        fields = {"title": dialog.title_edit.text().strip(),
                  "text": dialog.text.toPlainText().strip(),
                  "pinned": dialog.pinned.isChecked()}
        self.ctx.run(self.ws.add, "announcement", fields, done=self.show_record,
                     what="Announcing")

    def toggle_pin(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        rid = item.data(ID_ROLE)
        pinned = bool(self.records.get(rid, {}).get("pinned"))
        self.ctx.run(self.ws.update, rid, {"pinned": not pinned}, what="Pinning")

    def mark_all_read(self) -> None:
        unread = [rid for rid, r in self.records.items() if self._unread(r)]
        at, me = now_iso(), self.ws.peer_id

        def mark() -> None:
            for rid in unread:
                self.ws.update(rid, {"read_by": {me: at}})

        self.ctx.run(mark, what="Marking read")

    def load_notifications(self) -> None:
        notifier = getattr(self.ctx, "notifier", None)
        if notifier is None:
            return
        self.ctx.run(notifier.inbox.list, limit=200, done=self._show_notes,
                     what="Reading notifications")

    def _show_notes(self, notes: list[dict[str, Any]]) -> None:
        self.notes.clear()
        for note in notes:
            item = QListWidgetItem(f"{note['title']}\n{note['text']}  ·  {when(note['at'])}")
            if not note["read"]:
                font = item.font()
                font.setWeight(QFont.Weight.Bold)
                item.setFont(font)
            self.notes.addItem(item)
        if not notes:
            self.notes.addItem("No notifications yet.")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
