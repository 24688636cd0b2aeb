"""Resource Center: files shared with the team. Drop files on the list to share them.

Adding a file hashes, encrypts and stores it (``ws.add_resource``): seconds for a big file, so
it runs in a worker behind a progress dialog. "Save a copy" writes the decrypted file where the
user chooses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from .base_view import RecordTableScreen
from .context import AppContext
from .interop import busy
from .records_model import Column, human_size, when


class ResourcesView(RecordTableScreen):
    title = "Resources"
    noun = "files"
    kinds = ("resource",)
    placeholder = "Filter files…   (drop files here to share them)"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        self.columns = [
            Column("name", "Name", width=280),
            Column("size", "Size", text=lambda r: human_size(r.get("size")), numeric=True,
                   width=90),
            Column("created_by", "Shared by", text=lambda r: ctx.name_of(r.get("created_by")),
                   width=140),
            Column("created_at", "Date", text=lambda r: when(r.get("created_at")), width=130),
            Column("description", "Description", editable=True),
        ]
        super().__init__(ctx, parent)
        self.model.on_edit = lambda rid, field, value: ctx.run(
            self.ws.update, rid, {field: value}, what="Saving the description")
        self.setAcceptDrops(True)
        self.table.setAcceptDrops(True)
        share = QPushButton("Share files…", self)
        share.setObjectName("primary")
        share.clicked.connect(self.choose_files)
        save = QPushButton("Save a copy…", self)
        save.clicked.connect(self.save_copy)
        self.table.doubleClicked.connect(lambda _i: self.save_copy())
        self.toolbar.addWidget(save)
        self.toolbar.addWidget(share)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.share(paths)

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Share files with the team")
        self.share([Path(n) for n in names])

    def share(self, paths: list[Path]) -> None:
        files = [p for p in paths if p.is_file()]
        if not files:
            return
        dialog = busy(self, f"Sharing {len(files)} file(s)…")

        def add_all() -> list[str]:
            return [self.ws.add_resource(p) for p in files]

        def done(ids: list[str]) -> None:
            dialog.close()
            self.ctx.status.emit(f"Shared {len(ids)} file(s)")
            if ids:
                self.show_record(ids[-1])

        self.ctx.run(add_all, done=done, failed=lambda _e: dialog.close(),
                     what="Sharing files")

    def save_copy(self) -> None:
        rid = self.selected_id()
        if rid is None:
            self.ctx.status.emit("Select a file first")
            return
        record = self.model.record(self.model.row_of(rid) or 0)
        target, _ = QFileDialog.getSaveFileName(self, "Save a copy", record.get("name", ""))
        if target:
            self.ctx.run(self.ws.export_resource, rid, Path(target),
                         done=lambda p: self.ctx.status.emit(f"Saved {p}"),
                         what="Saving a copy")
