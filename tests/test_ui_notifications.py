"""Notification settings: follow a deal and a topic where they are shown, then edit all
preferences in the dialog; everything lands in app.inbox's Subscriptions."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox, QPushButton
from ui_helpers import settle, wait

from bullpen.app.notifications.inbox import subscriptions
from bullpen.ui.notify_prefs import SubscriptionsDialog
from bullpen.ui.records_model import ID_ROLE


def test_follow_then_edit_settings(qtbot, session) -> None:
    window = session.window
    ws = session.ws
    # A deal, from the pipeline's right-click menu.
    pipeline = window.screen("Pipeline")
    settle(qtbot)
    index = pipeline.proxy.index(0, 0)
    deal_id, deal_title = index.data(ID_ROLE), index.data()
    pipeline.table.customContextMenuRequested.emit(pipeline.table.visualRect(index).center())
    wait(qtbot, lambda: pipeline.menu is not None and pipeline.menu.isVisible())
    follow_action = pipeline.menu.actions()[0]
    assert follow_action.text().startswith("Follow this deal")
    follow_action.trigger()
    pipeline.menu.close()
    settle(qtbot)
    assert subscriptions(ws).followed_opportunities == [deal_id]

    # A topic, from the Discussions screen.
    window.go(list(window.screens).index("Discussions"))
    discussions = window.screen("Discussions")
    settle(qtbot)
    wait(qtbot, discussions.follow_button.isEnabled)
    topic_id = discussions.topic_id
    assert discussions.follow_button.text() == "Follow"
    qtbot.mouseClick(discussions.follow_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert subscriptions(ws).followed_topics == [topic_id]
    assert discussions.follow_button.text() == "Following ✓"

    # All preferences, from the Message Center.
    window.go(list(window.screens).index("Messages"))
    messages = window.screen("Messages")
    settle(qtbot)
    qtbot.mouseClick(messages.settings, Qt.MouseButton.LeftButton)
    dialog = messages.findChild(SubscriptionsDialog)
    assert dialog is not None and dialog.isVisible()
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    wait(qtbot, save.isEnabled)
    deals = dialog.lists["followed_opportunities"]
    assert [deals.item(r).text() for r in range(deals.count())] == [deal_title]
    assert dialog.flags["announcements"].isChecked() and not dialog.flags["replies"].isChecked()
    for box in (dialog.flags["replies"], dialog.stage_on):  # click the tick box itself
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    dialog.stage_amount.setValue(250_000)
    topics = dialog.lists["followed_topics"]
    topics.setCurrentRow(0)
    stop = [b for b in dialog.findChildren(QPushButton) if b.text() == "Stop following"][0]
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    settle(qtbot)
    wait(qtbot, lambda: messages.findChild(SubscriptionsDialog) is None)  # closed once saved
    subs = subscriptions(ws)
    assert subs.replies is True and subs.announcements is True
    assert subs.stage_changes_over == 250_000
    assert subs.followed_topics == [] and subs.followed_opportunities == [deal_id]
    assert window.statusBar().currentMessage() == "Notification settings saved"
