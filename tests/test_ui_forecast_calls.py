"""The Forecast screen shows the forecast call: submitted, adjusted, computed, who is missing."""

from __future__ import annotations

from ui_helpers import wait

from bullpen.app.sales import submissions


def _cells(panel) -> dict[str, list[str]]:
    table = panel.table
    return {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}


def _fill(panel, *, adjust: bool, numbers: tuple[str, str, str], who: str = "") -> None:
    """Open the panel's dialog, type ``numbers`` (commit, best case, comment), press OK."""
    (panel.adjust_button if adjust else panel.submit_button).click()
    dialog = panel.dialog
    assert dialog is not None and dialog.isVisible()
    if who:
        dialog.who.setCurrentIndex(dialog.who.findText(who))
    for edit, text in zip((dialog.commit, dialog.best_case, dialog.comment), numbers,
                          strict=True):
        edit.setText(text)
    dialog.accept()


def test_the_forecast_screen_shows_and_takes_the_call(qtbot, session) -> None:
    window = session.window
    window.go(1)
    forecast = window.screen("Forecast")
    panel = forecast.calls
    wait(qtbot, lambda: "not submitted:" in panel.missing.text())
    reps = [m["name"] for m in session.ws.members() if m["role"] == "rep"]
    assert reps and all(name in panel.missing.text() for name in reps)
    assert panel.adjust_button.isEnabled()  # the demo's user is a manager
    me = session.ws.name
    _fill(panel, adjust=False, numbers=("120000", "180000", "two big renewals"))
    # each write runs on the thread pool: the submission first, so history's order is known
    wait(qtbot, lambda: len(submissions.history(session.ws)) == 1)
    _fill(panel, adjust=True, numbers=("50000", "70000", "haircut"), who=reps[0])
    wait(qtbot, lambda: me in _cells(panel) and _cells(panel)[reps[0]][3] != "—")
    mine, adjusted = _cells(panel)[me], _cells(panel)[reps[0]]
    assert mine[1] == "120,000 / 180,000", mine
    assert adjusted[3] == f"50,000 / 70,000 by {me}" and adjusted[1] == "—"  # rep's own: none
    assert reps[0] in panel.missing.text() and me not in panel.missing.text()
    assert [h["comment"] for h in submissions.history(session.ws)] == [
        "two big renewals", "haircut"]
    assert window.last_error == ""
    _fill(panel, adjust=False, numbers=("lots", "2", ""))
    wait(qtbot, lambda: "not a number" in window.last_error)


def test_the_app_reminds_of_my_overdue_action_items(qtbot, session) -> None:
    from bullpen.app.sales import action_items
    from bullpen.ui.notify import Notifier

    item = action_items.add_item(session.ws, "Send Initech the quote", due="2020-01-06")
    notifier = Notifier(session.ctx, session.window)  # its reminder is posted to this loop
    try:
        with qtbot.waitSignal(notifier.notified) as fired:
            pass
    finally:
        notifier.close()
    [note] = [n for n in fired.args[0] if n.record_id == item["id"]]  # the demo has more
    assert note.kind == "task_due"
    assert note.title == "Overdue since 2020-01-06"
