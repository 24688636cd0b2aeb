"""Documents: typing and styles persist as splices and marks; remote edits merge live."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from test_ui_support import home, session, settle, wait  # noqa: F401

from bullpen.app.workspace import Workspace
from bullpen.ui.documents_view import splice_between


def test_splice_between() -> None:
    assert splice_between("hello world", "hello world") is None
    assert splice_between("hello world", "hello, world", 5) == (5, 0, ",")
    assert splice_between("hello world", "hello", 0) == (5, 6, "")
    assert splice_between("aaaa", "aaaaa", 2) == (4, 0, "a")
    assert splice_between("abc", "xbc", 3) == (0, 1, "x")  # a wrong hint is corrected


def _open(qtbot, app_session, title: str):
    window = app_session.window
    window.go(2)
    documents = window.screen("Documents")
    settle(qtbot)
    doc = next(d for d in app_session.ws.list("document") if d["title"] == title)
    documents.show_record(doc["id"])
    wait(qtbot, lambda: documents.editor.title.text() == title)
    settle(qtbot)
    return documents.editor, doc["id"]


def test_typing_persists(qtbot, session, home) -> None:  # noqa: F811
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


def test_bold_and_heading_become_marks(qtbot, session) -> None:  # noqa: F811
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    cursor = editor.edit.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(6, QTextCursor.MoveMode.KeepAnchor)  # "Globex"
    editor.edit.setTextCursor(cursor)
    qtbot.keyClick(editor.edit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    editor.set_heading(1)
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    spans = session.ws.document(doc_id)["spans"]
    assert {"start": 0, "end": 6, "name": "bold", "value": True} in spans
    assert any(s["name"] == "heading" and s["value"] == 1 and s["start"] == 0 for s in spans)
    editor.set_list("bullet")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert any(s["name"] == "list" for s in session.ws.document(doc_id)["spans"])


def test_remote_edit_merges_without_moving_the_cursor(qtbot, session, home) -> None:  # noqa: F811
    editor, doc_id = _open(qtbot, session, "Globex battlecard")
    text = editor.edit.toPlainText()
    anchor = text.index("Weaknesses")
    cursor = editor.edit.textCursor()
    cursor.setPosition(anchor)
    editor.edit.setTextCursor(cursor)
    other = Workspace.open(home)
    try:
        other.edit_document(doc_id, splice=(0, 0, "DRAFT: "))
    finally:
        other.close()
    wait(qtbot, lambda: editor.edit.toPlainText().startswith("DRAFT: Globex"))
    # The cursor stayed before the same word, shifted by the inserted text.
    assert editor.edit.textCursor().position() == anchor + len("DRAFT: ")
    # Typing continues where the user was, and both edits are kept.
    qtbot.keyClicks(editor.edit, "Main ")
    qtbot.waitUntil(lambda: editor.queue.outstanding == 0)
    assert "Main Weaknesses" in session.ws.document(doc_id)["text"]
    assert session.ws.document(doc_id)["text"].startswith("DRAFT: ")
