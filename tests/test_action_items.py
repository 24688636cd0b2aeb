"""Action items: honest use syncs and notifies the owner; forged changes are refused.

Every forgery is made with raw automerge in the attacker's replica (tests/hostile.py) and
delivered through the sync node's receiving code, by sync messages and whole: it must be
refused, and the receiver's items must not change.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import opp_fields
from hostile import deliver, forge, put_record
from replicas import exchange, give

from bullpen.app.members.authz import NotAllowed
from bullpen.app.notifications.inbox import NotificationInbox
from bullpen.app.sales import action_items as tasks
from bullpen.app.workspace import Workspace
from bullpen.crdt import records as rec
from bullpen.crdt.schema import ValidationError

DOC = "tasks"
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def team(ws, join_ws, tmp_path):
    """Dana (manager), reps Eli and Fay, Carl (a deal room's guest), Sam (a stranger)."""
    eli = join_ws(ws, "Eli", "rep")
    fay = join_ws(ws, "Fay", "rep")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    stranger = Workspace.create_joining(tmp_path / "sam", "Sam", ws.workspace_id)
    ws.add_member(guest.peer_id, "guest", "Carl")
    ws.add("space", {"title": "Initech room", "guests": [guest.peer_id]})
    exchange(ws, eli)
    exchange(ws, fay)
    give(ws, guest)
    yield {"manager": ws, "eli": eli, "fay": fay, "guest": guest, "stranger": stranger}
    guest.close()
    stranger.close()


def every_item(ws: Workspace) -> list[dict]:
    return sorted(ws.list("action_item"), key=lambda r: r["id"])


def refused(attacker: Workspace, victim: Workspace) -> str:
    """Both receiving paths refuse the attacker's tasks document; nothing changes."""
    seen, heads = every_item(victim), victim.heads(DOC)
    reasons = []
    for whole in (False, True):
        reason = deliver(attacker, victim, DOC, whole=whole)
        assert reason.startswith(f"refused change to {DOC}"), reason
        assert every_item(victim) == seen and victim.heads(DOC) == heads
        reasons.append(reason)
    return reasons[0]


def write(rid: str, fields: dict):
    """A raw change writing ``fields`` into ``rid``, naming it as Bullpen's writes do."""
    def tx_write(tx):
        put_record(tx, rid, fields)
        rec.mark_touched(tx, [rid])
    return tx_write


def test_an_item_for_a_teammate_syncs_notifies_and_is_ticked_off(team):
    dana, eli, fay = team["manager"], team["eli"], team["fay"]
    deal = dana.add("opportunity", opp_fields(account="Initech"))
    meeting = dana.add("event", {"title": "Pipeline review", "start": "2026-11-30T09:00"})
    exchange(dana, eli)
    inbox = NotificationInbox(fay)
    try:
        item = tasks.add_item(eli, "Send Initech the revised quote", "Fay", "2026-12-04",
                              deal=deal[:6], meeting=meeting)
        assert deliver(eli, dana, DOC) == ""
        assert deliver(dana, fay, DOC) == ""
        [note] = inbox.list()
        assert note["kind"] == "action_item" and note["title"] == "Eli gave you an action item"
        assert "revised quote (due 2026-12-04)" in note["text"]
    finally:
        inbox.close()
    [mine] = tasks.items(fay, today=TODAY)
    assert (mine["id"], mine["owner"], mine["created_by"]) == (item["id"], "Fay", "Eli")
    assert mine["opportunity_id"] == deal and mine["event_id"] == meeting
    assert tasks.items(eli, today=TODAY) == []  # Eli's own list: not his item
    tasks.set_status(fay, item["id"][:6], "done")
    exchange(fay, eli)
    exchange(fay, dana)
    for replica in (dana, eli, fay):
        assert replica.get(item["id"])["status"] == "done"
        assert tasks.items(replica, "Fay", status="done", today=TODAY)[0]["id"] == item["id"]


def test_overdue_items_come_first_and_done_ones_are_not_overdue(team):
    eli = team["eli"]
    later = tasks.add_item(eli, "Book QBR", due="2026-12-20")
    late = tasks.add_item(eli, "Chase PO", due="2026-11-20")
    undated = tasks.add_item(eli, "Update notes")
    rows = tasks.items(eli, today=TODAY)
    assert [r["id"] for r in rows] == [late["id"], later["id"], undated["id"]]
    assert [r["overdue"] for r in rows] == [True, False, False]
    tasks.set_status(eli, late["id"], "done")
    [done] = tasks.items(eli, status="done", today=TODAY)
    assert done["overdue"] is False


def test_due_and_overdue_items_remind_their_owner_once(team):
    eli = team["eli"]
    today = tasks.add_item(eli, "Chase PO", due="2026-12-01")
    late = tasks.add_item(eli, "Send deck", due="2026-11-28")
    qbr = tasks.add_item(eli, "Book QBR", due="2026-12-02")  # not due yet
    tasks.set_status(eli, tasks.add_item(eli, "Done one", due="2026-11-01")["id"], "done")
    inbox = NotificationInbox(eli, listen=False)
    try:
        fresh = inbox.remind_due(TODAY)
        assert {(n.record_id, n.title) for n in fresh} == {
            (today["id"], "Due today"), (late["id"], "Overdue since 2026-11-28")}
        assert inbox.remind_due(TODAY) == []  # once per item and due date
        tomorrow = inbox.remind_due(TODAY + dt.timedelta(days=1))  # the others: not again
        assert [(n.record_id, n.title) for n in tomorrow] == [(qbr["id"], "Due today")]
        tasks.edit(eli, late["id"], due="2026-11-30")  # moved: reminded of the new date
        assert [n.title for n in inbox.remind_due(TODAY)] == ["Overdue since 2026-11-30"]
        assert {n["kind"] for n in inbox.list()} == {"task_due"}
    finally:
        inbox.close()


def test_a_manager_may_change_anyones_item_and_it_syncs(team):
    dana, eli = team["manager"], team["eli"]
    item = tasks.add_item(eli, "Call Ann", due="2026-12-02")
    exchange(eli, dana)
    tasks.edit(dana, item["id"], text="Call Ann re pricing", owner="Fay", due="2026-12-03")
    assert deliver(dana, eli, DOC) == ""
    changed = eli.get(item["id"])
    assert (changed["text"], changed["owner"], changed["due"]) == (
        "Call Ann re pricing", team["fay"].peer_id, "2026-12-03")


def test_local_refusals_are_one_line_errors(team):
    eli, fay, guest = team["eli"], team["fay"], team["guest"]
    item = tasks.add_item(fay, "Fay's own")
    exchange(fay, eli)
    with pytest.raises(NotAllowed, match="owner or a manager"):
        tasks.set_status(eli, item["id"], "done")
    with pytest.raises(NotAllowed, match="action items are the team's"):
        tasks.add_item(guest, "hello")
    with pytest.raises(ValidationError, match="Carl is a guest"):
        tasks.add_item(eli, "for the guest", "Carl")
    with pytest.raises(ValidationError, match="not a date"):
        tasks.add_item(eli, "x", due="Friday")
    with pytest.raises(ValidationError, match="not a opportunity"):
        tasks.add_item(eli, "x", deal=item["id"])


@pytest.mark.parametrize("change", [
    {"status": "done"}, {"_deleted": True}, {"owner": "ELI"}, {"text": "hacked"}])
def test_a_rep_cannot_change_a_teammates_item(team, change):
    """Not tick it off, delete it, take it over or rewrite it: even Eli, who created it."""
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    item = tasks.add_item(eli, "Send the deck", "Fay")
    exchange(eli, dana)
    fields = {k: (eli.peer_id if v == "ELI" else v) for k, v in change.items()}
    forge(eli, DOC, write(item["id"], {**fields, "_updated_by": eli.peer_id}))
    assert "owner or a manager" in refused(eli, dana)
    assert fay  # the owner is Fay, untouched on Dana's replica (checked by refused)


def test_a_rep_cannot_create_an_item_under_another_name(team):
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    forged = {"_kind": "action_item", "text": "hacked", "owner": eli.peer_id,
              "status": "open", "_created_by": fay.peer_id, "_updated_by": eli.peer_id,
              "_created_at": "2026-12-01T00:00:00+00:00",
              "_updated_at": "2026-12-01T00:00:00+00:00", "_deleted": False}
    forge(eli, DOC, write("forged", forged))
    assert "only as their author" in refused(eli, dana)


def test_its_own_item_does_not_cover_a_teammates(team):
    """One change to Eli's own item (allowed) that also ticks off Fay's without naming it."""
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    own, theirs = tasks.add_item(eli, "Mine")["id"], tasks.add_item(fay, "Fay's")["id"]
    exchange(fay, dana)
    exchange(dana, eli)

    def both(tx):
        put_record(tx, own, {"status": "done", "_updated_by": eli.peer_id})
        put_record(tx, theirs, {"status": "done", "_updated_by": eli.peer_id})
        rec.mark_touched(tx, [own])

    forge(eli, DOC, both)
    assert "more than the records it names" in refused(eli, dana)


@pytest.mark.parametrize("who", ["guest", "stranger"])
def test_a_guest_or_stranger_cannot_write_items(team, who):
    attacker, dana = team[who], team["manager"]
    item = {"_kind": "action_item", "text": "hacked", "owner": attacker.peer_id,
            "status": "open", "_created_by": attacker.peer_id,
            "_updated_by": attacker.peer_id, "_created_at": "2026-12-01T00:00:00+00:00",
            "_updated_at": "2026-12-01T00:00:00+00:00", "_deleted": False}
    forge(attacker, DOC, write("guest-item", item))
    refused(attacker, dana)


def test_an_owner_and_a_manager_are_accepted(team):
    """The rules refuse misuse, not use: the owner ticks off, a manager reopens."""
    dana, eli = team["manager"], team["eli"]
    item = tasks.add_item(dana, "Prepare QBR", "Eli")
    exchange(dana, eli)
    tasks.set_status(eli, item["id"], "done")
    assert deliver(eli, dana, DOC) == ""
    tasks.set_status(dana, item["id"], "open")
    assert deliver(dana, eli, DOC) == ""
    assert eli.get(item["id"])["status"] == "open"
