"""Every screen opens by its shortcut and shows the seeded data; actions write through the
workspace; the network adapter runs trio as a guest of the Qt loop."""

from __future__ import annotations

from pathlib import Path

import trio
from PySide6.QtCore import Qt
from ui_helpers import settle, wait

from bullpen.ui.trio_bridge import TrioGuest


def test_shortcuts_open_every_screen(qtbot, session) -> None:
    window = session.window
    for number, title in enumerate(window.screens, start=1):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + number), Qt.KeyboardModifier.ControlModifier)
        assert window.stack.currentWidget() is window.screen(title)
        settle(qtbot)
    assert window.last_error == ""


def test_forecast_rolls_up_and_drills_down(qtbot, session) -> None:
    window = session.window
    window.go(1)
    forecast = window.screen("Forecast")
    wait(qtbot, lambda: forecast.result is not None)
    last = forecast.table.rowCount() - 1
    assert forecast.table.item(last, 0).text() == "Total"
    assert forecast.chart.series()
    forecast.drill(last, 4)  # the total pipeline
    settle(qtbot)
    dialogs = [w for w in forecast.findChildren(object) if type(w).__name__ == "DrillDialog"]
    assert dialogs and dialogs[-1].table.rowCount() == len(dialogs[-1].deals)


def test_forecast_export(qtbot, session, tmp_path: Path) -> None:
    from bullpen.ui.forecast_view import write_table

    write_table(str(tmp_path / "f.csv"), ["Rep", "Closed"], [["Dana", 10.0]])
    write_table(str(tmp_path / "f.xlsx"), ["Rep", "Closed"], [["Dana", 10.0]])
    assert (tmp_path / "f.csv").read_text().splitlines() == ["Rep,Closed", "Dana,10.0"]
    assert (tmp_path / "f.xlsx").stat().st_size > 0


def test_discussion_post_and_reaction(qtbot, session) -> None:
    window = session.window
    window.go(3)
    view = window.screen("Discussions")
    wait(qtbot, lambda: view.thread.topLevelItemCount() > 0)
    qtbot.keyClicks(view.reply, "Great point, sharing the deck.")
    qtbot.mouseClick(view.send, Qt.MouseButton.LeftButton)
    wait(qtbot, lambda: any("sharing the deck" in p.get("text", "")
                            for p in view.posts.values()))
    assert view.reply.toPlainText() == ""
    view.thread.setCurrentItem(view.thread.topLevelItem(0))
    view.react("+1")
    post_id = view.thread.topLevelItem(0).data(0, Qt.ItemDataRole.UserRole)
    wait(qtbot, lambda: "+1" in view.thread.topLevelItem(0).text(3))
    assert session.ws.get(post_id)["reactions"][session.ws.peer_id] == "+1"


def test_reading_an_announcement_marks_it_read(qtbot, session) -> None:
    window = session.window
    window.go(4)
    view = window.screen("Messages")
    wait(qtbot, lambda: view.list.count() == 3)
    assert "★ Pinned" in view.list.item(0).text()  # pinned first
    view.list.setCurrentRow(1)
    rid = view.list.item(1).data(Qt.ItemDataRole.UserRole)
    settle(qtbot)
    assert session.ws.peer_id in session.ws.get(rid)["read_by"]


def test_share_and_save_a_file(qtbot, session, tmp_path: Path) -> None:
    window = session.window
    window.go(5)
    view = window.screen("Resources")
    source = tmp_path / "deck.txt"
    source.write_text("slides")
    view.share([source])
    wait(qtbot, lambda: any(r.get("name") == "deck.txt" for r in view.model.records()))
    rid = next(r["id"] for r in view.model.records() if r["name"] == "deck.txt")
    session.ws.export_resource(rid, tmp_path / "copy.txt")
    assert (tmp_path / "copy.txt").read_text() == "slides"


def test_contacts_vcf_round_trip(qtbot, session, tmp_path: Path) -> None:
    from bullpen.ui import interop

    window = session.window
    window.go(7)
    target = tmp_path / "team.vcf"
    interop.export_file(session.ctx, window, "contacts", str(target))
    settle(qtbot)
    assert target.read_text().count("BEGIN:VCARD") == len(session.ws.list("contact"))


def test_team_lists_members_and_offline_state(qtbot, session) -> None:
    window = session.window
    window.go(8)
    team = window.screen("Team")
    wait(qtbot, lambda: team.table.rowCount() == 4)
    names = {team.table.item(r, 0).text() for r in range(4)}
    assert "Dana Scott  (you)" in names
    assert team.invite_button.isEnabled()  # Dana founded the workspace: a manager
    assert "Offline" in window.network_label.text()


def test_team_sync_column_says_what_is_held_back() -> None:
    from bullpen.ui.team_view import sync_text

    peer = {"connected": True, "docs_behind": 0,
            "refused": {"pipeline": "refused change to pipeline: change by QrdxME, who is "
                                    "not a member"}}
    assert sync_text(peer) == ("in sync; holding back pipeline (change by QrdxME, who is not "
                               "a member)")
    assert sync_text({"connected": True, "docs_behind": 1, "held_by_peer": {
        "pipeline": "refused change to pipeline: change by QrdxME, who is not a member"}}) == (
        "1 documents to sync; refuses ours: pipeline (change by QrdxME, who is not a member)")
    assert sync_text({"connected": True, "docs_behind": 2}) == "2 documents to sync"
    assert sync_text({"connected": False}) == "offline"


def test_trio_guest_runs_inside_qt(qtbot) -> None:
    guest = TrioGuest()
    ticks: list[int] = []

    async def work() -> None:
        for i in range(5):
            await trio.sleep(0.01)
            ticks.append(i)
        await trio.sleep_forever()

    with qtbot.waitSignal(guest.finished, timeout=5000):
        guest.start(work)
        qtbot.waitUntil(lambda: len(ticks) == 5)
        guest.stop(wait=0)
    assert not guest.running


def test_rename_topic_inline(qtbot, session) -> None:
    from PySide6.QtWidgets import QLineEdit

    window = session.window
    window.go(list(window.screens).index("Discussions"))
    discussions = window.screen("Discussions")
    settle(qtbot)
    item = discussions.topics.currentItem()
    topic_id = item.data(Qt.ItemDataRole.UserRole)
    rect = discussions.topics.visualItemRect(item)
    viewport = discussions.topics.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())  # a double-click:
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())  # two clicks
    line = discussions.topics.findChild(QLineEdit)
    assert line is not None and "\n" not in line.text()  # the title alone, not the category
    line.setText("Renamed topic")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    settle(qtbot)
    assert session.ws.get(topic_id)["title"] == "Renamed topic"
    wait(qtbot, lambda: discussions.topics.currentItem().text().startswith("Renamed topic\n"))
    assert discussions.heading.text() == "Renamed topic"
