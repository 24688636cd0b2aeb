"""Quick add: the one-line parser, and Ctrl+N in the pipeline creating the right record."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from ui_helpers import settle, wait

from bullpen.app.sales.quick_add import parse_quick_add
from bullpen.crdt.schema import DEFAULT_STAGES

TODAY = dt.date(2026, 11, 20)


@pytest.mark.parametrize(("text", "expected"), [
    ("Acme renewal 50k proposal Dec 15",
     {"account": "Acme", "title": "Acme renewal", "amount": 50_000.0, "stage": "proposal",
      "close_date": "2026-12-15"}),
    ("Initech Corp expansion 1.5m closed won 2027-01-10",
     {"account": "Initech Corp", "amount": 1_500_000.0, "stage": "closed_won",
      "close_date": "2027-01-10"}),
    ("Globex pilot €25,5k negotiation 3 feb",
     {"account": "Globex", "title": "Globex pilot", "amount": 25_500.0,
      "stage": "negotiation", "close_date": "2027-02-03"}),
    ("Hooli Phase 2 12000 won", {"title": "Hooli Phase 2", "amount": 12_000.0,
                                 "stage": "closed_won"}),
])
def test_parser_reads_amount_stage_date(text: str, expected: dict) -> None:
    fields = parse_quick_add(text, DEFAULT_STAGES, ["Initech Corp", "Acme"], TODAY).fields
    for key, value in expected.items():
        assert fields[key] == value, key


def test_parser_defaults_are_reported() -> None:
    result = parse_quick_add("Hooli pilot", DEFAULT_STAGES, [], TODAY)
    assert result.fields["stage"] == "prospecting"
    assert result.fields["amount"] == 0
    assert result.fields["close_date"] == "2026-12-20"
    assert set(result.defaulted) == {"amount", "stage", "close_date"}


def test_parser_needs_a_title() -> None:
    with pytest.raises(ValueError, match="say what the deal is"):
        parse_quick_add("50k proposal", DEFAULT_STAGES, [], TODAY)


def test_ctrl_n_creates_the_deal(qtbot, session) -> None:
    pipeline = session.window.screen("Pipeline")
    ws = session.ws

    def type_into_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.windowTitle() == "New opportunity"
        qtbot.keyClicks(dialog.line, "Acme renewal 50k proposal Dec 15")
        qtbot.keyClick(dialog.line, Qt.Key.Key_Return)

    QTimer.singleShot(100, type_into_dialog)
    pipeline.table.setFocus()
    qtbot.keyClick(pipeline.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot)
    found = [o for o in ws.list("opportunity") if o["title"] == "Acme renewal"]
    assert len(found) == 1
    deal = found[0]
    assert (deal["account"], deal["amount"], deal["stage"]) == ("Acme", 50_000, "proposal")
    assert deal["close_date"][5:] == "12-15"
    wait(qtbot, lambda: pipeline.selected_id() == deal["id"])  # the new deal is selected
