"""Deal rooms against modified clients: guests, reps who do not own the room, strangers.

Each attack is written with raw automerge in the attacker's own replica (tests/hostile.py)
and delivered to a teammate through the sync node's receiving code, by sync messages and as
a whole saved document (``refused_everywhere``): refused, and nothing the receiver holds
changes. The last tests are the control: what each role may do arrives.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hostile import deliver, forge, put_record
from replicas import exchange, give
from test_hostile_roles import refused_everywhere

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.authz import NotAllowed
from bullpen.app.rooms import guests, rooms
from bullpen.app.workspace import Workspace
from bullpen.crdt import textdoc
from bullpen.crdt.schema import INDEX_DOC


@pytest.fixture
def office(ws, join_ws, tmp_path):
    """Dana (manager); Eli (rep) owns two rooms: Initech's (guest Carl) and Globex's (guest
    Gina); Ray is a rep who owns neither; Sam is a stranger."""
    eli, ray = join_ws(ws, "Eli", "rep"), join_ws(ws, "Ray", "rep")
    carl = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    gina = Workspace.create_joining(tmp_path / "gina", "Gina", ws.workspace_id)
    sam = Workspace.create_joining(tmp_path / "sam", "Sam", ws.workspace_id)
    eli.add_member(carl.peer_id, "guest", "Carl")
    eli.add_member(gina.peer_id, "guest", "Gina")
    room = rooms.create_room(eli, "Initech room", account="Initech")
    other = rooms.create_room(eli, "Globex room", account="Globex")
    eli.update(room, {"guests": [carl.peer_id]})
    eli.update(other, {"guests": [gina.peer_id]})
    rooms.set_status(eli, room, status="Proposal sent", next_steps="Legal review")
    ids = {
        "room": room, "other": other,
        "customer_task": rooms.add_task(eli, room, "Sign the MSA", side="customer"),
        "vendor_task": rooms.add_task(eli, room, "Send the order form", side="vendor"),
        "doc": rooms.share_document(eli, room, title="Proposal", text="Price: 45"),
        "other_doc": rooms.share_document(eli, other, title="Globex terms", text="Net 30"),
        "topic": rooms.start_discussion(eli, room, "Rollout", "Kickoff Monday?"),
    }
    for member in (ws, ray):
        exchange(eli, member)
    for guest in (carl, gina, sam):
        give(eli, guest)
    office = {"manager": ws, "rep": eli, "other_rep": ray, "guest": carl, "other_guest": gina,
              "stranger": sam, **ids}
    yield office
    for guest in (carl, gina, sam):
        guest.close()


def space(office, key: str = "room") -> str:
    return f"space:{office[key]}"


def close(office) -> None:
    """Eli closes the Initech room; everyone holds the closed room."""
    rooms.close_room(office["rep"], office["room"])
    for member in (office["manager"], office["other_rep"]):
        exchange(office["rep"], member)
    give(office["rep"], office["guest"])


# ----- guests ----------------------------------------------------------------------------------


def test_a_guest_receives_only_its_room(office, tmp_path):
    dana = office["manager"]
    path = tmp_path / "globex-prices.pdf"
    path.write_bytes(b"Globex floor price")
    sha = dana.get(rooms.share_file(dana, office["other"], path))["sha256"]
    policy, carl = AccessPolicy(dana), office["guest"]
    assert not policy.blob_visible(carl.peer_id, sha)
    assert policy.blob_visible(office["other_guest"].peer_id, sha)
    docs = policy.docs_visible_to(carl.peer_id, office["manager"].doc_ids())
    assert docs == {INDEX_DOC, space(office), f"doc:{office['doc']}"}
    assert set(carl.doc_ids()) <= docs  # what it was given: nothing of the other room
    assert [r["id"] for r in rooms.list_rooms(carl)] == [office["room"]]


def test_a_guest_cannot_write_in_another_room(office):
    carl = office["guest"]
    forge(carl, space(office, "other"), lambda tx: put_record(tx, "p1", {
        "_kind": "topic", "title": "hacked", "_created_by": carl.peer_id, "_deleted": False}))
    refused_everywhere(carl, office["manager"], space(office, "other"))
    forge(carl, f"doc:{office['other_doc']}",
          lambda tx: textdoc.splice(tx, textdoc.body(tx), 0, 0, "hacked"))
    refused_everywhere(carl, office["manager"], f"doc:{office['other_doc']}")


@pytest.mark.parametrize("change", ["guests", "invites", "owner", "status", "next_steps",
                                    "reopen"])
def test_a_guest_cannot_change_the_room_itself(office, change):
    """Widen it (invite others, by guest list or bound invite), take it over, change the
    deal's status or next steps the customer is shown, or reopen it once closed."""
    carl = office["guest"]
    if change == "reopen":
        close(office)
    fields = {"guests": [carl.peer_id, office["other_guest"].peer_id], "owner": carl.peer_id,
              "status": "Closed won at 1 EUR", "next_steps": "Ship it free",
              "reopen": False}
    key = "closed" if change == "reopen" else change
    if change == "invites":
        forge(carl, space(office), lambda tx: _merge(tx, office["room"], "invites",
                                                      {"ab" * 32: "friend@example.com"}))
    else:
        forge(carl, space(office), lambda tx: put_record(tx, office["room"],
                                                          {key: fields[change]}))
    refused_everywhere(carl, office["manager"], space(office))


def _merge(tx, record_id: str, name: str, entries: dict) -> None:
    from bullpen.crdt import records as rec

    obj = tx.get(rec.container(tx, rec.RECORDS), record_id)[1]
    rec.merge_map(tx, obj, name, entries)


def test_a_guest_cannot_invite_by_the_workspace_either(office):
    carl = office["guest"]
    with pytest.raises(NotAllowed):
        guests.invite_guest(carl, office["room"], "x@example.com", dt.timedelta(days=1), [])
    forge(carl, INDEX_DOC, lambda tx: _put_setting(tx, "invites", "ab" * 32, "{}"))
    refused_everywhere(carl, office["manager"], INDEX_DOC)


def _put_setting(tx, name: str, key: str, value: str) -> None:
    from automerge.core import ScalarType

    from bullpen.crdt import records as rec

    obj = tx.get(rec.container(tx, rec.SETTINGS), name)[1]
    tx.put(obj, key, ScalarType.Str, value)


@pytest.mark.parametrize("attack", ["tick the vendor's task", "add a vendor task",
                                    "move a task to the vendor", "rename the customer task"])
def test_a_guest_writes_only_the_customer_sides_tasks(office, attack):
    carl = office["guest"]
    writes = {
        "tick the vendor's task": (office["vendor_task"], {"done": True}),
        "add a vendor task": ("t-new", {"_kind": "plan_task", "title": "Free training",
                                        "side": "vendor", "_created_by": carl.peer_id,
                                        "_deleted": False}),
        "move a task to the vendor": (office["customer_task"], {"side": "vendor"}),
        "rename the customer task": (office["customer_task"], {"title": "Vendor signs"}),
    }
    rid, fields = writes[attack]
    forge(carl, space(office), lambda tx: put_record(tx, rid, fields))
    refused_everywhere(carl, office["manager"], space(office))
    if attack == "tick the vendor's task":
        with pytest.raises(NotAllowed):
            rooms.set_task_done(carl, office["vendor_task"])


def test_a_closed_room_is_read_only_for_guests(office):
    close(office)
    carl = office["guest"]
    forge(carl, space(office), lambda tx: put_record(tx, "p2", {
        "_kind": "post", "topic_id": office["topic"], "text": "still here?",
        "_created_by": carl.peer_id, "_deleted": False}))
    refused_everywhere(carl, office["manager"], space(office))
    edit_text(carl, office["doc"], "Price: 1")
    refused_everywhere(carl, office["manager"], f"doc:{office['doc']}")
    honest_client_refuses(carl, office)


def edit_text(attacker: Workspace, document: str, text: str) -> None:
    forge(attacker, f"doc:{document}", lambda tx: textdoc.splice(tx, textdoc.body(tx), 0, 0,
                                                                   text))


def honest_client_refuses(user: Workspace, office) -> None:
    """Bullpen's own client refuses what a closed room refuses, by every path to it."""
    for write in (lambda: rooms.set_task_done(user, office["customer_task"]),
                  lambda: user.edit_document(office["doc"], text="x"),
                  lambda: user.add("post", {"topic_id": office["topic"], "text": "x"}),
                  lambda: rooms.add_task(user, office["room"], "x", side="customer")):
        with pytest.raises(NotAllowed, match="closed"):
            write()


def test_a_revoked_guest_is_refused_everywhere(office):
    """Revoked from its only room, the guest is removed from the workspace: its later post
    is refused by a teammate who was not the revoker, and it is sent nothing."""
    eli, dana, carl = office["rep"], office["manager"], office["guest"]
    result = guests.revoke_guest(eli, office["room"], "Carl")
    assert result["removed_from_workspace"]
    for doc_id in (INDEX_DOC, space(office)):
        assert deliver(eli, dana, doc_id) == ""  # a rep removing a guest is accepted
    carl.add("post", {"topic_id": office["topic"], "text": "after revocation"})
    refused_everywhere(carl, dana, space(office))
    assert AccessPolicy(dana).docs_visible_to(carl.peer_id, dana.doc_ids()) == set()


def test_a_guest_revoked_from_one_room_keeps_only_the_other(office):
    eli, dana, gina = office["rep"], office["manager"], office["other_guest"]
    eli.update(office["room"], {"guests": [office["guest"].peer_id, gina.peer_id]})
    exchange(eli, dana)
    result = guests.revoke_guest(eli, office["room"], gina.peer_id)
    assert not result["removed_from_workspace"] and result["other_rooms"] == [office["other"]]
    exchange(eli, dana)
    assert space(office) not in AccessPolicy(dana).docs_visible_to(gina.peer_id, dana.doc_ids())
    forge(gina, space(office), lambda tx: put_record(tx, "p3", {
        "_kind": "post", "topic_id": office["topic"], "text": "still in?",
        "_created_by": gina.peer_id, "_deleted": False}))
    refused_everywhere(gina, dana, space(office))
    assert dana.role(gina.peer_id) == "guest"


# ----- reps who do not own the room, strangers -------------------------------------------------


@pytest.mark.parametrize("change", ["close", "remove a guest", "hand over", "reopen"])
def test_a_rep_who_does_not_own_the_room_cannot_take_away(office, change):
    ray = office["other_rep"]
    if change == "reopen":
        close(office)
    fields = {"close": {"closed": True}, "remove a guest": {"guests": []},
              "hand over": {"owner": ray.peer_id}, "reopen": {"closed": False}}[change]
    forge(ray, space(office), lambda tx: put_record(tx, office["room"], fields))
    refused_everywhere(ray, office["manager"], space(office))
    local = {"close": rooms.close_room, "reopen": rooms.reopen_room,
             "remove a guest": lambda w, r: guests.revoke_guest(w, r, "Carl")}.get(change)
    if local is not None:  # the honest client says no first
        with pytest.raises(NotAllowed):
            local(ray, office["room"])


def test_a_closed_room_is_read_only_for_reps(office):
    close(office)
    ray = office["other_rep"]
    forge(ray, space(office), lambda tx: put_record(tx, office["vendor_task"], {"done": True}))
    refused_everywhere(ray, office["manager"], space(office))
    edit_text(ray, office["doc"], "Price: 99")
    refused_everywhere(ray, office["manager"], f"doc:{office['doc']}")
    honest_client_refuses(ray, office)
    honest_client_refuses(office["rep"], office)  # the owner too, but for reopening
    rooms.reopen_room(office["rep"], office["room"])


def test_a_stranger_cannot_write_in_a_room(office):
    sam = office["stranger"]
    forge(sam, space(office), lambda tx: put_record(tx, office["room"],
                                                     {"guests": [sam.peer_id]}))
    refused_everywhere(sam, office["manager"], space(office))
    assert AccessPolicy(office["manager"]).docs_visible_to(
        sam.peer_id, office["manager"].doc_ids()) == set()


# ----- what each role may do arrives -------------------------------------------------------------


def test_what_each_role_may_do_in_a_room_arrives(office):
    dana, eli, ray, carl = (office[k] for k in ("manager", "rep", "other_rep", "guest"))
    rooms.set_task_done(carl, office["customer_task"])
    rooms.add_task(carl, office["room"], "Security review", side="customer")
    carl.add("post", {"topic_id": office["topic"], "text": "Monday works"})
    assert deliver(carl, dana, space(office)) == ""
    rooms.add_task(ray, office["room"], "Demo for IT", side="vendor")  # not the owner: adds
    rooms.set_status(ray, office["room"], status="Negotiation")
    assert deliver(ray, dana, space(office)) == ""
    close(office)
    assert deliver(eli, dana, space(office)) == ""
    rooms.reopen_room(dana, office["room"])  # a manager reopens anyone's room
    assert deliver(dana, eli, space(office)) == ""
    shown = {t["title"]: t["done"] for t in rooms.contents(eli, office["room"])["plan_task"]}
    assert shown == {"Sign the MSA": True, "Send the order form": False,
                     "Security review": False, "Demo for IT": False}
    assert rooms.room(eli, office["room"])["status"] == "Negotiation"
    assert not rooms.room(eli, office["room"]).get("closed")
