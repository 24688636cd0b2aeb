"""Deal rooms on the honest path: between replicas (tests/replicas.py) and through the CLI.

The rules every peer applies are tried by modified clients in test_rooms_hostile.py; here
the same use cases, run by honest users, reach every teammate unrefused and converge.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hostile import deliver
from replicas import exchange, give, join

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.invites import InviteAdmission, parse_invite
from bullpen.app.rooms import guests, rooms
from bullpen.app.workspace import Workspace
from bullpen.cli.main import main
from bullpen.crdt.schema import INDEX_DOC

DAY = dt.timedelta(days=1)


@pytest.fixture
def team(ws, join_ws):
    """Dana (manager), Eli (rep, who makes the room), Ray (rep)."""
    return ws, join_ws(ws, "Eli", "rep"), join_ws(ws, "Ray", "rep")


def newcomer(base, ws: Workspace, name: str) -> Workspace:
    return Workspace.create_joining(base / name.lower(), name, ws.workspace_id)


def test_a_guest_admitted_with_a_room_invite_is_let_into_that_room(team, tmp_path):
    dana, eli, _ = team
    room = rooms.create_room(eli, account="Initech")
    rooms.create_room(eli, account="Globex")
    invite = guests.invite_guest(eli, room, "ann@initech.example", DAY, [])
    ann = newcomer(tmp_path, eli, "Ann")
    try:
        secret = parse_invite(invite["code"]).secret
        assert guests.RoomAdmission(eli).admit(secret, ann.peer_id, "Ann Lee") == "guest"
        assert rooms.room(eli, room)["guests"] == [ann.peer_id]
        policy = AccessPolicy(eli)
        assert policy.docs_visible_to(ann.peer_id, eli.doc_ids()) == {INDEX_DOC,
                                                                      f"space:{room}"}
        for doc_id in (INDEX_DOC, f"space:{room}"):
            assert deliver(eli, dana, doc_id) == ""  # a rep admitting a guest to its room
        give(eli, ann)
        assert [r["id"] for r in rooms.list_rooms(ann)] == [room]
        [row] = guests.guest_activity(dana, room)
        assert (row["name"], row["email"], row["writes"]) == ("Ann Lee", "ann@initech.example",
                                                              0)
    finally:
        ann.close()


def test_any_teammate_binds_a_guest_admitted_elsewhere(team, tmp_path):
    """Dana's node admitted the guest without the room binding (an older node): Ray, who
    does not own the room, adds the guest from the room's invite, and that is accepted."""
    dana, eli, ray = team
    room = rooms.create_room(eli, "Initech room")
    code = guests.invite_guest(eli, room, "ann@initech.example", DAY, [])["code"]
    exchange(eli, dana)
    ann = newcomer(tmp_path, dana, "Ann")
    try:
        InviteAdmission(dana).admit(parse_invite(code).secret, ann.peer_id, "Ann")
        exchange(dana, ray)
        assert guests.bind_admitted(ray) == [(room, ann.peer_id)]
        assert guests.bind_admitted(ray) == []  # once
        assert deliver(ray, eli, f"space:{room}") == ""
        assert rooms.room(eli, room)["guests"] == [ann.peer_id]
    finally:
        ann.close()


def test_a_room_converges_and_its_close_is_judged_by_each_changes_past(team):
    """Ray adds a task while Eli (offline) closes the room: Ray did not know, so every peer
    keeps the task, whichever order the changes arrive in; after the close Ray is refused."""
    dana, eli, ray = team
    room = rooms.create_room(eli, account="Initech")
    rooms.share_document(eli, room, title="Proposal", text="45 EUR")
    rooms.set_status(eli, room, status="Proposal sent", next_steps="Legal review")
    for member in (dana, ray):
        exchange(eli, member)
    rooms.add_task(ray, room, "Demo for IT", side="vendor", due="2026-12-10")
    rooms.close_room(eli, room)
    assert deliver(eli, dana, f"space:{room}") == ""
    assert deliver(ray, dana, f"space:{room}") == ""  # made before Ray knew: kept
    exchange(dana, eli)
    exchange(dana, ray)
    for member in (dana, eli, ray):
        found = rooms.room(member, room)
        assert found["closed"] is True and found["status"] == "Proposal sent"
        assert [t["title"] for t in rooms.contents(member, room)["plan_task"]] == ["Demo for IT"]
    assert dana.heads(f"space:{room}") == eli.heads(f"space:{room}") == ray.heads(
        f"space:{room}")
    with pytest.raises(rooms.NotAllowed, match="closed"):
        rooms.add_task(ray, room, "More", side="vendor")
    rooms.reopen_room(eli, room)
    assert deliver(eli, ray, f"space:{room}") == ""
    rooms.add_task(ray, room, "More", side="vendor")
    assert deliver(ray, dana, f"space:{room}") == ""


def test_a_team_documents_copy_and_a_team_file_are_shared_not_the_originals(team, tmp_path):
    dana, eli, _ = team
    internal = eli.new_document("Proposal draft", "Price: 45")
    path = tmp_path / "deck.pdf"
    path.write_bytes(b"%PDF deck")
    resource = eli.add_resource(path)
    room = rooms.create_room(eli, account="Initech")
    copy = rooms.share_document(eli, room, copy_of=internal)
    shared = rooms.share_file(eli, room, copy_of=resource)
    inside = rooms.contents(eli, room)
    assert [d["id"] for d in inside["document"]] == [copy] and copy != internal
    assert eli.document(copy)["text"] == "Price: 45"
    assert [r["id"] for r in inside["resource"]] == [shared]
    assert eli.get(shared)["sha256"] == eli.get(resource)["sha256"]
    carl = newcomer(tmp_path, eli, "Carl")
    try:
        eli.add_member(carl.peer_id, "guest", "Carl")
        eli.update(room, {"guests": [carl.peer_id]})
        policy = AccessPolicy(eli)
        assert f"doc:{copy}" in policy.docs_visible_to(carl.peer_id, eli.doc_ids())
        assert f"doc:{internal}" not in policy.docs_visible_to(carl.peer_id, eli.doc_ids())
        assert policy.blob_visible(carl.peer_id, eli.get(shared)["sha256"])
    finally:
        carl.close()


def run(home, argv, capsys):
    capsys.readouterr()
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_the_cli_is_scriptable_and_refuses_in_one_line(capsys, tmp_path):
    dana = Workspace.create(tmp_path / "cli-dana", "Dana", "Acme Sales")
    eli = join(dana, tmp_path / "cli-eli", "Eli")
    carl = newcomer(tmp_path, dana, "Carl")
    dana.add_member(carl.peer_id, "guest", "Carl")
    room = rooms.create_room(eli, account="Initech")
    eli.update(room, {"guests": [carl.peer_id]})
    exchange(eli, dana)
    give(dana, carl)
    homes = {w.name: w.home for w in (dana, eli, carl)}
    for w in (dana, eli, carl):
        w.close()
    code, out, _ = run(homes["Dana"], ["room", "list", "--json"], capsys)
    assert code == 0 and '"state": "open"' in out and room in out
    code, ann, _ = run(homes["Dana"], ["contact", "add", "--name", "Ann Lee", "--emails",
                                       "ann@initech.example"], capsys)
    code, out, _ = run(homes["Dana"], ["room", "invite", room, "--contact", ann, "--json"],
                       capsys)
    assert code == 0 and '"email": "ann@initech.example"' in out and "BP1-" in out
    refusals = [
        ("Carl", ["room", "create", "Mine"], "managers and reps"),
        ("Carl", ["room", "invite", room, "--email", "x@example.com"], "managers and reps"),
        ("Carl", ["room", "close", room], "owner or a manager"),
        ("Dana", ["room", "show", "nosuchroom"], "no record"),
        ("Dana", ["room", "add", room], "give one of"),
        ("Dana", ["room", "invite", room, "--email", "not-an-address"], "email"),
        ("Dana", ["room", "revoke", room, "Nobody"], "Nobody"),
        ("Dana", ["room", "reopen", room], "is open"),
        ("Dana", ["room", "invite", room], "--email or --contact"),
        ("Dana", ["room", "invite", room, "--contact", room], "not a contact"),
    ]
    for who, argv, needle in refusals:
        code, _, err = run(homes[who], argv, capsys)
        assert code != 0 and "\n" not in err and "Traceback" not in err, (argv, err)
        assert needle in err, (argv, err)
    code, out, _ = run(homes["Dana"], ["room", "close", room, "--json"], capsys)
    assert code == 0 and '"state": "closed"' in out
    code, _, err = run(homes["Dana"], ["room", "add", room, "--task", "x"], capsys)
    assert code != 0 and "closed" in err and "\n" not in err
