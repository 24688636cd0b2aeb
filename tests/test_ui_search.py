"""Ctrl+K search: prefix results as you type, Enter opens the record on its screen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from ui_helpers import settle, wait


def test_search_finds_and_opens_a_deal(qtbot, session) -> None:
    window = session.window
    deal = session.ws.add("opportunity", {"account": "Quokka Systems", "title": "Quokka pilot",
                                          "amount": 9000, "stage": "proposal",
                                          "close_date": "2027-02-01"})
    settle(qtbot)
    window.go(3)  # start elsewhere: the result must bring the pipeline up
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.search.isVisible()
    qtbot.keyClicks(window.search.box, "quok")  # a prefix of the word
    wait(qtbot, lambda: window.search.results.count() >= 1)
    assert "Quokka pilot" in window.search.results.item(0).text()
    qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    assert not window.search.isVisible()
    pipeline = window.screen("Pipeline")
    assert window.stack.currentWidget() is pipeline
    wait(qtbot, lambda: pipeline.selected_id() == deal)


def test_search_opens_documents_and_contacts(qtbot, session) -> None:
    window = session.window
    window.search.popup()
    qtbot.keyClicks(window.search.box, "battlecard")
    wait(qtbot, lambda: window.search.results.count() >= 1)
    qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    documents = window.screen("Documents")
    assert window.stack.currentWidget() is documents
    wait(qtbot, lambda: documents.editor.title.text() == "Globex battlecard")

    contact = session.ws.list("contact")[0]
    window.search.popup()
    window.search.box.clear()
    qtbot.keyClicks(window.search.box, contact["name"])
    wait(qtbot, lambda: window.search.results.count() >= 1)
    qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    contacts = window.screen("Contacts")
    wait(qtbot, lambda: contacts.selected_id() is not None)
    assert contacts.model.record(contacts.model.row_of(contacts.selected_id()))["name"] == \
        contact["name"]


def test_nothing_found_says_so(qtbot, session) -> None:
    window = session.window
    window.search.popup()
    qtbot.keyClicks(window.search.box, "zzzxqy")
    wait(qtbot, lambda: window.search.status.text() == "Nothing found")
