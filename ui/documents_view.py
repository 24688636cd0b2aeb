"""Documents: the list of co-edited documents beside the editor of the one open.

The editor (typing, styles, teammates' edits merged live, the user's own undo) is
:class:`~.document_editor.DocumentEditor`; this screen lists the documents newest first, creates
and renames them, and tells the editor when the open document changed in the CRDT.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.workspace import ChangeSet

from .base_view import BaseView, allow_rename, titled_item
from .context import AppContext
from .document_editor import DocumentEditor


class DocumentsView(BaseView):
    title = "Documents"
    kinds = ("document",)
    wants_raw_changes = True

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.list = QListWidget(self)
        self.list.currentItemChanged.connect(self._selected)
        self.list.setToolTip("F2 or double-click renames a document")
        allow_rename(self, self.list, "document")
        new = QPushButton("New document", self)
        new.setObjectName("primary")
        new.clicked.connect(self.new_document)
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(new)
        column.addWidget(self.list, 1)
        self.editor = DocumentEditor(ctx, self)
        split = QSplitter(self)
        split.addWidget(left)
        split.addWidget(self.editor)
        split.setSizes([260, 850])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(split)
        self._pending: str | None = None

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.list.clear()
        for record in sorted(records, key=lambda r: r.get("updated_at") or "", reverse=True):
            self._add_item(record)
        if self._pending:
            self.show_record(self._pending)
        elif self.list.count() and self.list.currentRow() < 0:
            self.list.setCurrentRow(0)

    def _add_item(self, record: dict[str, Any]) -> QListWidgetItem:
        item = QListWidgetItem()
        title = record.get("title") or ""
        titled_item(item, record["id"], title, title or "(untitled)")
        self.list.addItem(item)
        return item

    def _item(self, record_id: str) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == record_id:
                return item
        return None

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        for rid, record in updates.items():
            item = self._item(rid)
            if record is None:
                if item is not None:
                    self.list.takeItem(self.list.row(item))
            elif item is None:
                self._add_item(record)
            else:
                title = record.get("title") or ""
                titled_item(item, rid, title, title or "(untitled)")
                if rid == self.editor.record_id:
                    self.editor.title.setText(title or "(untitled)")
        if self._pending and self._item(self._pending):
            self.show_record(self._pending)
        open_id = self.editor.record_id
        if open_id and any(c.doc_id == f"doc:{open_id}" for c in changes):
            self.editor.remote_changed()

    def _selected(self, item: QListWidgetItem | None, _previous: Any) -> None:
        if item is not None:
            self.editor.open(item.data(Qt.ItemDataRole.UserRole))

    def show_record(self, record_id: str) -> None:
        item = self._item(record_id) if self.loaded_once else None
        if item is None:
            self._pending = record_id
            self.ensure_loaded()
            return
        self._pending = None
        self.list.setCurrentItem(item)
        self.editor.edit.setFocus()

    def new_document(self) -> None:
        title, ok = QInputDialog.getText(self, "New document", "Title:")
        if not ok or not title.strip():
            return
        self.ctx.run(self.ws.new_document, title.strip(), done=self.show_record,
                     what="Creating the document")

    def shutdown(self) -> None:
        self.editor.shutdown()
