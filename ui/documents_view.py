"""Documents: co-edited rich text, keystroke by keystroke, merging teammates' edits live.

Local edits: ``QTextDocument.contentsChange`` says where the text changed; the editor keeps a
mirror of the CRDT text, so the splice (position, deleted, inserted) comes from reading only the
changed characters back (``qt_text.editor_text``), never the whole document: a keystroke costs
the size of the edit. Splices and style marks go to ``ws.edit_document`` through one serial
worker, so they reach the CRDT in typing order and the GUI thread never waits on a write.

Remote edits (sync, or another process on this profile): only when the document's ChangeSet
arrives and our own writes have drained, the CRDT text is read and diffed against the mirror in a
worker (``text_mirror.text_patches``); the GUI patches just those pieces through a separate cursor,
so the user's cursor and selection move with the text instead of jumping, and re-applies marks
only over the patched and changed ranges. Our own echo diffs to nothing and draws nothing.
Tables are stored as tab-separated lines under a ``table`` mark and shown as QTextTables.

Undo (Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y) covers the user's own text edits only
(``app/documents/local_undo.LocalUndo``; Qt's stack is off, since it would also undo
teammates' edits).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QFont,
    QKeyEvent,
    QKeySequence,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextListFormat,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextEdit,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.documents.local_undo import LocalUndo, Step, StyleStep
from bullpen.app.documents.text_mirror import (
    Splice,
    marks_under,
    merge_ranges,
    shift_position,
    shifted,
    span_key,
    spans_of,
    splice_between,
    text_patches,
)
from bullpen.app.workspace import ChangeSet

from .base_view import BaseView, allow_rename, titled_item
from .context import AppContext
from .qt_text import editor_text, render_table
from .records_model import when
from .worker import SerialQueue

HEADING_SIZES = {1: 20.0, 2: 16.0, 3: 13.5}
INLINE = ("bold", "italic", "underline", "strike")
REMOTE_DELAY_MS = 120  # coalesce a burst of remote keystrokes (and our own echoes) into a read


def inline_format(name: str, value: Any) -> QTextCharFormat:
    fmt = QTextCharFormat()
    on = value not in (None, False)
    if name == "bold":
        fmt.setFontWeight(QFont.Weight.Bold if on else QFont.Weight.Normal)
    elif name == "italic":
        fmt.setFontItalic(on)
    elif name == "underline":
        fmt.setFontUnderline(on)
    elif name == "strike":
        fmt.setFontStrikeOut(on)
    elif name == "link" and on:
        fmt.setAnchor(True)
        fmt.setAnchorHref(str(value))
        fmt.setFontUnderline(True)
        fmt.setForeground(Qt.GlobalColor.blue)
    return fmt


def has_inline(fmt: QTextCharFormat, name: str) -> bool:
    return {
        "bold": fmt.fontWeight() >= QFont.Weight.DemiBold,
        "italic": fmt.fontItalic(),
        "underline": fmt.fontUnderline() and not fmt.isAnchor(),
        "strike": fmt.fontStrikeOut(),
    }[name]


class DocumentEditor(QWidget):
    """The rich-text editor of one co-edited document."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.record_id: str | None = None
        self.queue = SerialQueue("bullpen-document-edits")
        self._text = ""
        self._spans: list[dict[str, Any]] = []
        self._applying = False
        self._replaying = False  # an undo or redo is being typed into the editor
        self.history = LocalUndo()
        # Ranges the user styled (or undid a style over) since the last echo: the editor's
        # look there was set locally, so the echo redraws them from the stored marks even if
        # the mirror of the marks never saw the intermediate state.
        self._styled: list[tuple[int, int]] = []
        self._local_edits = 0
        self._remote_wanted = False
        self.title = QLabel("No document open", self)
        self.title.setObjectName("title")
        self.info = QLabel(self)
        self.info.setObjectName("muted")
        self.edit = QTextEdit(self)
        self.edit.setObjectName("editor")
        self.edit.document().setDocumentMargin(14)
        self.edit.setAcceptRichText(False)  # pasted HTML would carry styles we don't sync
        self.edit.setUndoRedoEnabled(False)  # see LocalUndo: ours skips teammates' edits
        self.edit.setEnabled(False)
        self.edit.document().contentsChange.connect(self._contents_change)
        self.edit.installEventFilter(self)  # Tab moves between table cells
        font = self.edit.font()
        font.setPointSizeF(11.5)
        self.edit.setFont(font)
        self.toolbar = QToolBar(self)
        self._actions()
        self._remote_timer = QTimer(self)
        self._remote_timer.setSingleShot(True)
        self._remote_timer.setInterval(REMOTE_DELAY_MS)
        self._remote_timer.timeout.connect(self._fetch_remote)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.info)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.edit, 1)

    def _actions(self) -> None:
        def add(text: str, shortcut: str | None, slot: Any, tip: str) -> QAction:
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
            action.triggered.connect(slot)
            self.toolbar.addAction(action)
            self.addAction(action)
            return action

        add("B", "Ctrl+B", lambda: self.toggle_inline("bold"), "Bold")
        add("I", "Ctrl+I", lambda: self.toggle_inline("italic"), "Italic")
        add("U", "Ctrl+U", lambda: self.toggle_inline("underline"), "Underline")
        add("S", None, lambda: self.toggle_inline("strike"), "Strike through")
        self.toolbar.addSeparator()
        add("Normal", "Ctrl+0", lambda: self.set_heading(None), "Normal text")
        for level in (1, 2, 3):
            add(f"H{level}", f"Ctrl+Alt+{level}", lambda _=False, n=level: self.set_heading(n),
                f"Heading {level}")
        self.toolbar.addSeparator()
        add("• List", None, lambda: self.set_list("bullet"), "Bulleted list")
        add("1. List", None, lambda: self.set_list("ordered"), "Numbered list")
        add("Table", None, self.insert_table, "Insert a 2×2 table")
        self.toolbar.addSeparator()
        add("Undo", None, self.undo, "Undo your last edit (Ctrl+Z); teammates' edits stay")
        add("Redo", None, self.redo, "Redo (Ctrl+Shift+Z)")

    # --- opening ---

    def open(self, record_id: str) -> None:
        self.record_id = record_id
        self.ctx.run(self.ctx.ws.document, record_id,
                     done=lambda data, rid=record_id: self._opened(rid, data),
                     what="Opening the document")

    def _opened(self, record_id: str, data: dict[str, Any]) -> None:
        if record_id != self.record_id:
            return
        self._show_meta(data)
        self._render(data["text"], data["spans"])
        self.edit.setEnabled(True)

    def _show_meta(self, data: dict[str, Any]) -> None:
        self.title.setText(data.get("title") or "(untitled)")
        self.info.setText(f"Created by {self.ctx.name_of(data.get('created_by'))}, "
                          f"last change {when(data.get('updated_at'))}")

    def _render(self, text: str, spans: list[dict[str, Any]]) -> None:
        """Show a whole text (opening, or the rare fallback when a patch went wrong)."""
        self._applying = True
        self.history.clear()  # positions of a text that is no longer shown
        try:
            self.edit.setPlainText(text)
            self._text = text
            self._spans = spans
            self._format_range(0, len(text))
            if editor_text(self.edit.document()) != text:  # Qt normalised something
                self._text = editor_text(self.edit.document())
        finally:
            self._applying = False

    # --- local edits ---

    def _contents_change(self, position: int, removed: int, added: int) -> None:
        """A local edit: the splice from what Qt says changed, read from the editor for just
        those characters (the rest of the text is the mirror), so a key costs O(edit)."""
        if self._applying or self.record_id is None:
            return
        doc = self.edit.document()
        old = self._text
        if len(old) - removed + added == doc.characterCount() - 1:
            segment = editor_text(doc, position, position + added)
            part = splice_between(old[position:position + removed], segment)
            splice = None if part is None else (position + part[0], part[1], part[2])
            self._text = old[:position] + segment + old[position + removed:]
        else:  # Qt counted the closing paragraph mark: compare the whole text (rare)
            self._text = editor_text(doc)
            splice = splice_between(old, self._text, position)
        if splice is None:
            return  # a format change only
        if not self._replaying:
            pos, deleted = splice[0], splice[1]
            self.history.edited(pos, old[pos:pos + deleted], splice[2], time.monotonic(),
                                marks_under(self._spans, pos, deleted))
        self._local_edits += 1
        rid = self.record_id
        ws = self.ctx.ws
        self.queue.submit(lambda: ws.edit_document(rid, splice=splice),
                          on_done=self._written, on_error=self._write_failed)
        self._spans = [shifted(s, [splice]) for s in self._spans]
        pos, _deleted, inserted = splice
        if inserted:
            self._sync_typed_styles(pos, len(inserted))

    def _sync_typed_styles(self, pos: int, length: int) -> None:
        """Typed text takes the style it shows (bold on, or bold just switched off)."""
        cursor = QTextCursor(self.edit.document())
        cursor.setPosition(pos + 1)
        shown = cursor.charFormat()
        before = None
        if pos > 0:
            cursor.setPosition(pos)
            before = cursor.charFormat()
        in_heading = cursor.block().blockFormat().headingLevel() > 0
        for name in INLINE:
            if name == "bold" and in_heading:
                continue  # a heading's weight comes from the heading mark
            on = has_inline(shown, name)
            if on or (before is not None and has_inline(before, name)):
                self._submit_style(pos, pos + length, name, True if on else None)

    def _user_style(self, start: int, end: int, name: str, value: Any) -> None:
        """A style the user set over a range: saved, and recorded for undo with the mark's
        spans there until now (from the mirror of the CRDT's marks)."""
        self.history.styled(start, end, name, spans_of(self._spans, name, start, end), value)
        self._styled.append((start, end))
        self._submit_style(start, end, name, value)

    def _submit_style(self, start: int, end: int, name: str, value: Any) -> None:
        if self.record_id is None or end <= start:
            return
        rid, ws = self.record_id, self.ctx.ws
        self.queue.submit(lambda: ws.edit_document(rid, style=(start, end, name, value)),
                          on_done=self._written, on_error=self._write_failed)

    def _written(self, _change: Any) -> None:
        if self._remote_wanted and self.queue.outstanding == 0:
            self._remote_timer.start()

    def _write_failed(self, exc: BaseException) -> None:
        self.ctx.show_error(exc, "Saving the document")
        if self.record_id:  # re-read the truth so the editor never shows unsaved text
            self.open(self.record_id)

    def toggle_inline(self, name: str) -> None:
        cursor = self.edit.textCursor()
        on = not has_inline(cursor.charFormat(), name)
        fmt = inline_format(name, True if on else None)
        if not cursor.hasSelection():
            self.edit.mergeCurrentCharFormat(fmt)  # applies to what is typed next
            return
        self._applying = True
        try:
            cursor.mergeCharFormat(fmt)
        finally:
            self._applying = False
        self._user_style(cursor.selectionStart(), cursor.selectionEnd(), name,
                         True if on else None)

    def _blocks(self) -> list[Any]:
        cursor = self.edit.textCursor()
        doc = self.edit.document()
        first = doc.findBlock(cursor.selectionStart())
        last = doc.findBlock(cursor.selectionEnd())
        blocks = [first]
        while blocks[-1] != last and blocks[-1].next().isValid():
            blocks.append(blocks[-1].next())
        return blocks

    def set_heading(self, level: int | None) -> None:
        blocks = self._blocks()
        self._applying = True
        try:
            for block in blocks:
                self._format_heading(block, level)
        finally:
            self._applying = False
        start = blocks[0].position()
        end = blocks[-1].position() + max(blocks[-1].length() - 1, 0)
        self._user_style(start, end, "heading", level)

    def _format_heading(self, block: Any, level: int | None) -> None:
        """Give ``block`` the heading ``level`` (None: normal text): block format, the size
        and weight of its characters, and its block char format (what typing into an empty
        heading line takes)."""
        cursor = QTextCursor(block)
        fmt = QTextBlockFormat(block.blockFormat())
        fmt.setHeadingLevel(level or 0)
        cursor.setBlockFormat(fmt)
        chars = QTextCharFormat()
        chars.setFontPointSize(HEADING_SIZES.get(level or 0, self.edit.font().pointSizeF()))
        chars.setFontWeight(QFont.Weight.Bold if level else QFont.Weight.Normal)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock,
                            QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(chars)
        cursor.mergeBlockCharFormat(chars)
        if block.position() == 0:
            # Qt (seen in 6.12) reports a block char format change on the first block as
            # contentsChange(0, 0, 0): the layout drops that block's lines, then re-lays out
            # an empty range, so the paragraph has no lines and zero height (its text is
            # invisible, e.g. a title line opened with a heading mark). Lay it out again.
            block.document().markContentsDirty(block.position(), block.length())

    def set_list(self, kind: str) -> None:
        blocks = self._blocks()
        self._applying = True
        try:
            cursor = self.edit.textCursor()
            style = (QTextListFormat.Style.ListDisc if kind == "bullet"
                     else QTextListFormat.Style.ListDecimal)
            cursor.createList(style)
        finally:
            self._applying = False
        start = blocks[0].position()
        end = blocks[-1].position() + max(blocks[-1].length() - 1, 0)
        self._user_style(start, end, "list", kind)

    def insert_table(self) -> None:
        """A 2x2 table; its cell separators go out as a splice (``qt_text`` maps them to
        tabs and line breaks), then the table mark over them."""
        cursor = self.edit.textCursor()
        start = cursor.position()
        table = cursor.insertTable(2, 2)
        self._submit_style(start, start + 5, "table", "2x2")
        self.edit.setTextCursor(table.cellAt(0, 0).firstCursorPosition())  # type in it
        self.edit.setFocus()

    def undo(self) -> None:
        step = self.history.take_undo(self._text)
        if step is not None:
            self._replay(step, undo=True)
            self.history.undone(step)

    def redo(self) -> None:
        step = self.history.take_redo(self._text)
        if step is not None:
            self._replay(step, undo=False)
            self.history.redone(step)

    def _replay(self, step: Step | StyleStep, undo: bool) -> None:
        """Apply an undo or redo: marks go to the CRDT (its echo redraws them); text is typed
        into the editor, saved like any edit but not recorded."""
        if isinstance(step, StyleStep):
            for start, end, value in step.undo_styles() if undo else step.redo_styles():
                self._submit_style(start, end, step.name, value)
            self._styled.append((step.start, step.end))
            return
        pos, deleted, inserted = step.undo_splice() if undo else step.redo_splice()
        cursor = QTextCursor(self.edit.document())
        cursor.setPosition(pos)
        cursor.setPosition(pos + deleted, QTextCursor.MoveMode.KeepAnchor)
        self._replaying = True
        try:
            cursor.insertText(inserted)
        finally:
            self._replaying = False
        self.edit.setTextCursor(cursor)
        if undo and step.marks:  # the deleted text's styles (a table too) come back with it
            for start, end, name, value in step.marks:
                self._submit_style(pos + start, pos + end, name, value)
            self._styled.append((pos, pos + len(inserted)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+Z / Ctrl+Shift+Z go to our own history. Tab / Shift+Tab in a table go to the
        next / previous cell (Qt would type a tab, which the stored grid uses as its cell
        separator); Tab in the last cell adds a row."""
        if watched is not self.edit or event.type() != QEvent.Type.KeyPress or not isinstance(
                event, QKeyEvent):
            return super().eventFilter(watched, event)
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            return True
        if event.matches(QKeySequence.StandardKey.Redo) or (
                event.key() == Qt.Key.Key_Y
                and event.modifiers() == Qt.KeyboardModifier.ControlModifier):
            self.redo()
            return True
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            cursor = self.edit.textCursor()
            table = cursor.currentTable()
            if table is not None:
                cell = table.cellAt(cursor)
                index = cell.row() * table.columns() + cell.column()
                index += -1 if event.key() == Qt.Key.Key_Backtab else 1
                if index >= table.rows() * table.columns():
                    table.appendRows(1)
                index = max(index, 0)
                target = table.cellAt(index // table.columns(), index % table.columns())
                self.edit.setTextCursor(target.firstCursorPosition())
                return True
        return super().eventFilter(watched, event)

    # --- formats from marks ---

    def _format_range(self, start: int, end: int) -> None:
        """Show the marks of ``self._spans`` over ``[start, end)`` (whole blocks for block
        marks); everything else in the range goes back to plain. Tables are built first, as
        they replace their characters."""
        doc = self.edit.document()
        size = doc.characterCount() - 1
        start, end = max(0, min(start, size)), max(0, min(end, size))
        for span in self._spans:
            if span["name"] == "table" and span["value"] and span["start"] <= end \
                    and span["end"] >= start:
                s, e = span["start"], min(span["end"], size)
                render_table(doc, s, e, self._text[s:e])
        last = doc.findBlock(end)  # whole blocks: a heading's look spans its paragraph
        start = doc.findBlock(start).position()
        end = min(size, last.position() + max(last.length() - 1, 0)) if last.isValid() else size
        spans = [s for s in self._spans if s["start"] <= end and s["end"] >= start]
        cursor = QTextCursor(doc)
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(QTextCharFormat())
        block = doc.findBlock(start)
        while block.isValid() and block.position() <= end:
            at = block.position()
            level = next((int(s["value"]) for s in spans if s["name"] == "heading"
                          and s["value"] and s["start"] <= at < max(s["end"], s["start"] + 1)),
                         None)
            if level or block.blockFormat().headingLevel():
                self._format_heading(block, level)
            listed = block.textList()
            if listed is not None and not any(s["name"] == "list" and s["value"]
                                              and s["start"] <= at <= s["end"] for s in spans):
                listed.remove(block)
                fmt = QTextBlockFormat(block.blockFormat())
                fmt.setIndent(0)
                QTextCursor(block).setBlockFormat(fmt)
            block = block.next()
        for span in spans:
            s, e = min(span["start"], size), min(span["end"], size)
            name, value = span["name"], span["value"]
            if name in INLINE or name == "link":
                cursor.setPosition(max(s, start))
                cursor.setPosition(min(e, end), QTextCursor.MoveMode.KeepAnchor)
                cursor.mergeCharFormat(inline_format(name, value))
            elif name == "list" and value:
                style = (QTextListFormat.Style.ListDisc if value == "bullet"
                         else QTextListFormat.Style.ListDecimal)
                first = doc.findBlock(s).textList()
                if first is not None and first.format().style() == style:
                    continue  # shown already
                cursor.setPosition(s)
                cursor.setPosition(e, QTextCursor.MoveMode.KeepAnchor)
                cursor.createList(style)

    # --- remote edits ---

    def remote_changed(self) -> None:
        """The document changed in the CRDT (a peer, another process, or our own echo)."""
        self._remote_wanted = True
        if self.queue.outstanding == 0:
            self._remote_timer.start()

    def _fetch_remote(self) -> None:
        """Read the CRDT and diff it against the mirror in a worker: the GUI thread only
        applies the (usually empty, for our own echo) patches."""
        if self.record_id is None or self.queue.outstanding:
            return
        self._remote_wanted = False
        rid, edits, mirror, ws = self.record_id, self._local_edits, self._text, self.ctx.ws

        def read() -> tuple[dict[str, Any], list[Splice]]:
            data = ws.document(rid)
            return data, text_patches(mirror, data["text"])

        self.ctx.run(read, done=lambda result: self._merge_remote(rid, edits, *result),
                     what="Reading teammates' edits")

    def _merge_remote(self, record_id: str, edits: int, data: dict[str, Any],
                      patches: list[Splice]) -> None:
        if record_id != self.record_id:
            return
        if edits != self._local_edits or self.queue.outstanding:
            self.remote_changed()  # the user typed meanwhile: read again once writes drain
            return
        self._show_meta(data)
        old_spans = {span_key(shifted(s, patches)) for s in self._spans}
        new_spans = {span_key(s): s for s in data["spans"]}
        styled, self._styled = self._styled, []
        if not patches and old_spans == set(new_spans) and not styled:
            return  # our own echo: nothing to draw
        doc = self.edit.document()
        dirty: list[tuple[int, int]] = []
        self._applying = True
        try:
            delta = 0
            for pos, deleted, inserted in patches:  # ascending: later ones shift by delta
                cursor = QTextCursor(doc)
                cursor.setPosition(pos + delta)
                cursor.setPosition(pos + delta + deleted, QTextCursor.MoveMode.KeepAnchor)
                cursor.insertText(inserted, QTextCharFormat())
                dirty.append((pos + delta, pos + delta + len(inserted)))
                delta += len(inserted) - deleted
            self._text = data["text"]
            self._spans = data["spans"]
            self.history.remote(patches)
            if doc.characterCount() - 1 != len(self._text):
                self._render(data["text"], data["spans"])  # the patch went wrong: redraw all
                return
            for key in old_spans.symmetric_difference(new_spans):
                dirty.append((key[0], key[1]))
            dirty += [(shift_position(s, patches), shift_position(e, patches, end=True))
                      for s, e in styled]
            for start, end in merge_ranges(dirty):
                self._format_range(start, end)
        finally:
            self._applying = False

    def shutdown(self) -> None:
        self.queue.close()


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
