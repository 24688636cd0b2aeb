"""The document editor: co-edited rich text, keystroke by keystroke, teammates' edits live.

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
from PySide6.QtGui import QKeyEvent, QKeySequence, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QTextEdit, QVBoxLayout, QWidget

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

from .context import AppContext
from .doc_format import (
    INLINE,
    format_heading,
    format_range,
    formatting_toolbar,
    has_inline,
    inline_format,
    list_style,
)
from .qt_text import editor_text, next_cell
from .records_model import when
from .worker import SerialQueue

REMOTE_DELAY_MS = 120  # coalesce a burst of remote keystrokes (and our own echoes) into a read


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
        self.toolbar = formatting_toolbar(self)
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
                format_heading(block, level, self.edit.font().pointSizeF())
        finally:
            self._applying = False
        start = blocks[0].position()
        end = blocks[-1].position() + max(blocks[-1].length() - 1, 0)
        self._user_style(start, end, "heading", level)

    def set_list(self, kind: str) -> None:
        blocks = self._blocks()
        self._applying = True
        try:
            cursor = self.edit.textCursor()
            cursor.createList(list_style(kind))
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
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and next_cell(
                self.edit, back=event.key() == Qt.Key.Key_Backtab):
            return True
        return super().eventFilter(watched, event)

    # --- formats from marks ---

    def _format_range(self, start: int, end: int) -> None:
        """Restyle ``[start, end)`` from the mirror of the marks (``doc_format.format_range``)."""
        format_range(self.edit.document(), self._text, self._spans, start, end,
                     self.edit.font().pointSizeF())

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
