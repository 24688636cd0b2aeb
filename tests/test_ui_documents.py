"""Documents: typing and styles persist as splices and marks; remote edits merge live."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from ui_helpers import settle, wait

from bullpen.app.workspace import Workspace


def _open(qtbot, app_session, title: str):
    window = app_session.window
    window.go(2)
    documents = window.screen("Documents")
    settle(qtbot)
    doc = next(d for d in app_session.ws.list("document") if d["title"] == title)
    documents.show_record(doc["id"])
    wait(qtbot, lambda: documents.editor.title.text() == title)
    settle(qtbot)
    # Keys go to the editor as typed: its shortcuts (Ctrl+B ...) need it focused in the
    # active window, which the show above asked for but the window system grants later.
    window.activateWindow()
    documents.editor.edit.setFocus()
    wait(qtbot, lambda: documents.editor.edit.hasFocus())
    return documents.editor, doc["id"]


def test_typing_persists(qtbot, session, home) -> None:
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    editor.edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor.edit, "Pricing call on Friday.")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(editor.edit, "!")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    text = session.ws.document(doc_id)["text"]
    assert text.endswith("Pricing call on Friday!")
    assert text == editor.edit.toPlainText()
    other = Workspace.open(home)  # what a fresh process reads from disk
    try:
        assert other.document(doc_id)["text"] == text
    finally:
        other.close()


def test_bold_and_heading_become_marks(qtbot, session) -> None:
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    start = editor.edit.toPlainText().index("onboarding")  # plain body text (the demo's
    cursor = editor.edit.textCursor()                      # title line is already a heading)
    cursor.setPosition(start)
    cursor.setPosition(start + len("onboarding"), QTextCursor.MoveMode.KeepAnchor)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    editor.set_heading(2)
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    spans = session.ws.document(doc_id)["spans"]
    line = editor.edit.toPlainText().rfind("\n", 0, start) + 1
    assert {"start": start, "end": start + len("onboarding"), "name": "bold",
            "value": True} in spans
    assert any(s["name"] == "heading" and s["value"] == 2 and s["start"] == line
               for s in spans)
    editor.set_list("bullet")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert any(s["name"] == "list" for s in session.ws.document(doc_id)["spans"])


def test_undo_and_redo_a_style(qtbot, session) -> None:
    from bullpen.ui.doc_format import has_inline

    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    start = editor.edit.toPlainText().index("onboarding")
    bold = {"start": start, "end": start + len("onboarding"), "name": "bold", "value": True}

    def bold_stored() -> bool:
        return bold in session.ws.document(doc_id)["spans"]

    def bold_shown() -> bool:
        cursor = QTextCursor(editor.edit.document())
        cursor.setPosition(start + 2)
        return has_inline(cursor.charFormat(), "bold")

    cursor = editor.edit.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(start + len("onboarding"), QTextCursor.MoveMode.KeepAnchor)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    wait(qtbot, bold_stored)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait(qtbot, lambda: not bold_stored() and not bold_shown())
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    wait(qtbot, lambda: bold_stored() and bold_shown())


def test_undoing_a_deletion_brings_back_its_styles_and_tables(
        qtbot, session) -> None:
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    start = editor.edit.toPlainText().index("onboarding")
    end = start + len("onboarding")
    bold = {"start": start, "end": end, "name": "bold", "value": True}
    cursor = editor.edit.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    wait(qtbot, lambda: bold in session.ws.document(doc_id)["spans"])
    text = session.ws.document(doc_id)["text"]
    qtbot.wait(1500)  # a separate step
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Backspace)
    wait(qtbot, lambda: "onboarding" not in session.ws.document(doc_id)["text"])
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait(qtbot, lambda: session.ws.document(doc_id)["text"] == text
         and bold in session.ws.document(doc_id)["spans"])

    cursor.setPosition(0)
    editor.edit.setTextCursor(cursor)
    editor.insert_table()
    qtbot.keyClicks(editor.edit, "Plan")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    wait(qtbot, lambda: editor._text.startswith("\nPlan\t\n"))
    qtbot.wait(1500)
    cursor = editor.edit.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(len("\nPlan\t\n\t\n"), QTextCursor.MoveMode.KeepAnchor)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Delete)
    wait(qtbot, lambda: not _tables(editor))
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait(qtbot, lambda: len(_tables(editor)) == 1)
    assert _cells(_tables(editor)[0]) == [["Plan", ""], ["", ""]]
    stored = session.ws.document(doc_id)
    assert stored["text"].startswith("\nPlan\t\n\t\n")
    assert any(s["name"] == "table" and s["start"] == 0 for s in stored["spans"])


def _teammate_prefixes(qtbot, profile, editor, doc_id: str, prefix: str) -> None:
    """Another process on the profile (as the sync node) inserts ``prefix`` at the start."""
    other = Workspace.open(profile)
    try:
        other.edit_document(doc_id, splice=(0, 0, prefix))
    finally:
        other.close()
    wait(qtbot, lambda: editor.edit.toPlainText().startswith(prefix))


def test_remote_edit_merges_without_moving_the_cursor(qtbot, session, home) -> None:
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    text = editor.edit.toPlainText()
    anchor = text.index("Weaknesses")
    cursor = editor.edit.textCursor()
    cursor.setPosition(anchor)
    editor.edit.setTextCursor(cursor)
    _teammate_prefixes(qtbot, home, editor, doc_id, "DRAFT: ")
    # The cursor stayed before the same word, shifted by the inserted text.
    assert editor.edit.textCursor().position() == anchor + len("DRAFT: ")
    # Typing continues where the user was, and both edits are kept.
    qtbot.keyClicks(editor.edit, "Main ")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert "Main Weaknesses" in session.ws.document(doc_id)["text"]
    assert session.ws.document(doc_id)["text"].startswith("DRAFT: ")


def test_undo_takes_back_own_typing_and_keeps_a_teammates_edit(
        qtbot, session, home) -> None:
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    original = session.ws.document(doc_id)["text"]
    cursor = editor.edit.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClicks(editor.edit, " Call Lee")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    _teammate_prefixes(qtbot, home, editor, doc_id, "DRAFT: ")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert session.ws.document(doc_id)["text"] == "DRAFT: " + original
    assert editor.edit.toPlainText().startswith("DRAFT: ")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.ws.document(doc_id)["text"] == "DRAFT: " + original  # theirs is not ours
    qtbot.keyClick(editor.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert session.ws.document(doc_id)["text"] == "DRAFT: " + original + " Call Lee"
    assert editor._text == session.ws.document(doc_id)["text"]


def test_keystroke_reads_only_the_edit_and_echo_draws_nothing(
        qtbot, session, monkeypatch) -> None:
    from bullpen.ui import document_editor

    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    size = len(editor.edit.toPlainText())
    reads: list[int] = []
    real = document_editor.editor_text

    def counting(doc, start=0, end=None):
        text = real(doc, start, end)
        reads.append(len(text) if end is not None else size)
        return text

    monkeypatch.setattr(document_editor, "editor_text", counting)
    redraws: list[tuple[int, int]] = []
    monkeypatch.setattr(editor, "_format_range", lambda s, e: redraws.append((s, e)))
    monkeypatch.setattr(editor, "_render", lambda *a: redraws.append((-1, -1)))
    editor.edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor.edit, "Call Tuesday")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    qtbot.wait(document_editor.REMOTE_DELAY_MS * 3)  # the echo of our own writes arrives
    settle(qtbot)
    assert reads and max(reads) <= 1, reads  # one character per key, never the document
    assert redraws == []  # our own echo re-renders nothing
    assert session.ws.document(doc_id)["text"].endswith("Call Tuesday")


def test_remote_edits_patch_pieces_keeping_cursor_and_styles(
        qtbot, session, home) -> None:
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    text = editor.edit.toPlainText()
    middle = text.index("Weaknesses")
    cursor = editor.edit.textCursor()
    cursor.setPosition(middle)
    cursor.setPosition(middle + 10, QTextCursor.MoveMode.KeepAnchor)
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    cursor.setPosition(middle + 3)
    editor.edit.setTextCursor(cursor)
    other = Workspace.open(home)
    try:
        length = len(other.document(doc_id)["text"])
        other.edit_document(doc_id, splice=(length, 0, "\nTail note"))
        other.edit_document(doc_id, splice=(0, 0, "DRAFT: "))
    finally:
        other.close()
    wait(qtbot, lambda: editor.edit.toPlainText().startswith("DRAFT: ")
         and editor.edit.toPlainText().endswith("Tail note"))
    assert editor.edit.textCursor().position() == middle + 3 + len("DRAFT: ")
    probe = QTextCursor(editor.edit.document())
    probe.setPosition(middle + len("DRAFT: ") + 5)
    assert probe.charFormat().fontWeight() >= 600  # the bold word in between stayed bold
    probe.setPosition(3)
    assert probe.charFormat().fontWeight() < 600  # the inserted text is plain
    assert editor._text == session.ws.document(doc_id)["text"]


def _tables(editor):
    from PySide6.QtGui import QTextTable

    frames = editor.edit.document().rootFrame().childFrames()
    return [f for f in frames if isinstance(f, QTextTable)]


def _cells(table) -> list[list[str]]:
    def text(cell) -> str:
        cursor = cell.firstCursorPosition()
        cursor.setPosition(cell.lastCursorPosition().position(),
                           QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText()

    return [[text(table.cellAt(r, c)) for c in range(table.columns())]
            for r in range(table.rows())]


def test_table_survives_reopen_and_reaches_a_teammate(qtbot, session, home) -> None:
    from bullpen.ui.documents_view import DocumentsView

    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    cursor = editor.edit.textCursor()
    cursor.setPosition(editor.edit.toPlainText().index("Weaknesses"))
    editor.edit.setTextCursor(cursor)
    editor.insert_table()
    for n, text in enumerate(("Plan", "Price", "Basic", "$10")):
        if n:
            qtbot.keyClick(editor.edit, Qt.Key.Key_Tab)  # to the next cell
        qtbot.keyClicks(editor.edit, text)
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    stored = session.ws.document(doc_id)
    assert "\nPlan\tPrice\nBasic\t$10\n" in stored["text"]
    assert any(s["name"] == "table" for s in stored["spans"])

    fresh = DocumentsView(session.ctx)  # the document opened again in a new view
    qtbot.addWidget(fresh)
    fresh.ensure_loaded()
    wait(qtbot, lambda: fresh.loaded_once)
    fresh.show_record(doc_id)
    wait(qtbot, lambda: _tables(fresh.editor))
    assert [_cells(t) for t in _tables(fresh.editor)] == [[["Plan", "Price"], ["Basic", "$10"]]]
    assert fresh.editor._text == stored["text"]  # positions map one to one
    fresh.shutdown()

    other = Workspace.open(home)  # a teammate's copy receiving a table
    try:
        other.edit_document(doc_id, splice=(0, 0, "\nQ1\tQ2\n"))
        other.edit_document(doc_id, style=(0, 7, "table", "1x2"))
    finally:
        other.close()
    wait(qtbot, lambda: len(_tables(editor)) == 2)
    assert _cells(_tables(editor)[0]) == [["Q1", "Q2"]]
    assert editor._text == session.ws.document(doc_id)["text"]
    # Tab in the last cell adds a row, which is stored too.
    cursor = _tables(editor)[1].cellAt(1, 1).lastCursorPosition()
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Tab)
    qtbot.keyClicks(editor.edit, "Pro")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert "\nPlan\tPrice\nBasic\t$10\nPro\t\n" in session.ws.document(doc_id)["text"]


def test_a_tab_pasted_into_a_cell_keeps_the_grid(qtbot, session) -> None:
    from bullpen.app.documents.text_mirror import table_cells

    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    cursor = editor.edit.textCursor()
    cursor.setPosition(0)
    editor.edit.setTextCursor(cursor)
    editor.insert_table()
    editor.edit.textCursor().insertText("SKU\t42")  # what a paste from a spreadsheet types
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    stored = session.ws.document(doc_id)
    span = next(s for s in stored["spans"] if s["name"] == "table")
    assert table_cells(stored["text"][span["start"]:span["end"]]) == [["SKU 42", ""], ["", ""]]
    assert editor._text == stored["text"]


def test_rename_document_with_f2(qtbot, session) -> None:
    from PySide6.QtWidgets import QLineEdit

    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    documents = session.window.screen("Documents")
    documents.list.setFocus()
    qtbot.keyClick(documents.list, Qt.Key.Key_F2)
    line = documents.list.findChild(QLineEdit)
    assert line is not None and line.text() == "Globex battlecard"
    line.setText("Globex battlecard 2031")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    settle(qtbot)
    assert session.ws.get(doc_id)["title"] == "Globex battlecard 2031"
    wait(qtbot, lambda: documents.list.currentItem().text() == "Globex battlecard 2031")
    assert editor.title.text() == "Globex battlecard 2031"


def test_heading_mark_on_first_line_shows_when_opened(qtbot, session) -> None:
    """A heading stored before the document is opened (the demo's title lines) must render
    as visible heading text, not as an empty line."""
    first_line = "Quarterly plan"
    doc_id = session.ws.new_document("Heading doc", f"{first_line}\nBody text here.\n")
    session.ws.edit_document(doc_id, style=(0, len(first_line), "heading", 1))
    editor, _ = _open(qtbot, session, "Heading doc")
    block = editor.edit.document().firstBlock()
    assert block.text() == first_line
    assert block.blockFormat().headingLevel() == 1
    # Laid out and drawn: a block with no lines has zero height and shows as nothing.
    area = editor.edit.document().documentLayout().blockBoundingRect(block)
    assert block.layout().lineCount() > 0 and area.height() > 0, area
    normal = editor.edit.palette().text().color()
    fragments = []
    it = block.begin()
    while not it.atEnd():
        fragments.append(it.fragment())
        it += 1
    assert fragments
    for fragment in fragments:
        fmt = fragment.charFormat()
        assert fmt.fontPointSize() > 0, fragment.text()
        color = fmt.foreground().color() if fmt.foreground().style() != Qt.BrushStyle.NoBrush \
            else normal
        assert color == normal, (fragment.text(), color.name(), normal.name())
