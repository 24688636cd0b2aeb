"""Pipeline: inline edits, board moves, history, and live changes from another process."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit
from ui_helpers import settle, wait

from bullpen.app.workspace import Workspace


def _cell(pipeline, record_id: str, column: int):
    row = pipeline.model.row_of(record_id)
    return pipeline.proxy.mapFromSource(pipeline.model.index(row, column))


def test_lists_every_deal(session) -> None:
    pipeline = session.window.screen("Pipeline")
    assert pipeline.model.rowCount() == 12
    assert "12 deals" in pipeline.count_label.text()


def test_inline_edit_updates_the_record(qtbot, session) -> None:
    pipeline = session.window.screen("Pipeline")
    deal = session.ws.list("opportunity")[0]
    index = _cell(pipeline, deal["id"], 2)  # amount
    pipeline.table.setCurrentIndex(index)
    pipeline.table.edit(index)
    editor = pipeline.table.focusWidget()
    assert isinstance(editor, QAbstractSpinBox | QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "75000")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    settle(qtbot)
    assert session.ws.get(deal["id"])["amount"] == 75_000
    wait(qtbot, lambda: _cell(pipeline, deal["id"], 2).data() == "75,000")
    # The history panel shows who made the change, by name.
    wait(qtbot, lambda: pipeline.history.tree.topLevelItemCount() >= 2)
    latest = pipeline.history.tree.topLevelItem(0)
    assert latest.text(1) == "Dana Scott" and "amount" in latest.text(2)


def test_refused_edit_is_shown_in_plain_words(qtbot, session) -> None:
    pipeline = session.window.screen("Pipeline")
    deal = session.ws.list("opportunity")[0]
    pipeline.model.setData(pipeline.model.index(pipeline.model.row_of(deal["id"]), 4), "250")
    settle(qtbot)
    message = session.window.last_error
    assert "probability" in message and "100" in message
    assert "Traceback" not in message
    assert session.ws.get(deal["id"])["probability"] == deal["probability"]


def test_board_drop_changes_stage(qtbot, session) -> None:
    pipeline = session.window.screen("Pipeline")
    qtbot.mouseClick(pipeline.board_button, Qt.MouseButton.LeftButton)
    deal = next(o for o in session.ws.list("opportunity") if o["stage"] != "negotiation")
    pipeline.board.lists["negotiation"].dropped.emit(deal["id"], "negotiation")
    settle(qtbot)
    assert session.ws.get(deal["id"])["stage"] == "negotiation"
    pipeline.board.rebuild()
    cards = pipeline.board.lists["negotiation"]
    ids = [cards.item(i).data(Qt.ItemDataRole.UserRole) for i in range(cards.count())]
    assert deal["id"] in ids


def test_change_from_another_process_appears_live(qtbot, session, home) -> None:
    """A second Workspace on the same profile (the CLI beside the app) edits and adds deals;
    the open table shows them without a reload, keeping the selection."""
    pipeline = session.window.screen("Pipeline")
    deals = session.ws.list("opportunity")
    selected, edited = deals[0]["id"], deals[1]["id"]
    pipeline.show_record(selected)
    other = Workspace.open(home)
    try:
        other.update(edited, {"next_step": "Call the CFO"})
        new_id = other.add("opportunity", {"account": "Zeta", "title": "Zeta pilot",
                                           "amount": 5000, "stage": "proposal",
                                           "close_date": "2027-01-31"})
    finally:
        other.close()
    wait(qtbot, lambda: pipeline.model.row_of(new_id) is not None)
    wait(qtbot, lambda: _cell(pipeline, edited, 7).data() == "Call the CFO")
    assert pipeline.model.rowCount() == 13
    assert pipeline.selected_id() == selected


def test_filter_and_stage_filter(qtbot, session) -> None:
    pipeline = session.window.screen("Pipeline")
    account = session.ws.list("opportunity")[0]["account"]
    qtbot.keyClicks(pipeline.filter_box, account.lower())
    expected = [o for o in session.ws.list("opportunity") if account in o["account"]
                or account in o["title"]]
    assert pipeline.proxy.rowCount() == len(expected)
    pipeline.filter_box.clear()
    pipeline.stage_filter.setCurrentIndex(pipeline.stage_filter.findData("proposal"))
    expected = [o for o in session.ws.list("opportunity") if o["stage"] == "proposal"]
    assert pipeline.proxy.rowCount() == len(expected)


def test_sorting_keeps_the_selection(qtbot, session) -> None:
    pipeline = session.window.screen("Pipeline")
    deal = session.ws.list("opportunity")[3]
    pipeline.show_record(deal["id"])
    pipeline.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    amounts = [pipeline.proxy.index(r, 2).data(Qt.ItemDataRole.EditRole)
               for r in range(pipeline.proxy.rowCount())]
    assert amounts == sorted(amounts, reverse=True)
    assert pipeline.selected_id() == deal["id"]
