"""Access policy: guests receive and write only what is shared with them."""

from __future__ import annotations

from helpers import opp_fields, readable
from replicas import exchange, give

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.identity import Identity
from bullpen.app.workspace import Workspace


def test_guest_receives_exactly_their_space(ws, tmp_path):
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    other_guest = Identity.generate().peer_id
    try:
        ws.add_member(guest.peer_id, "guest", "Carl (Initech)")
        ws.add_member(other_guest, "guest", "Olga (Globex)")
        ws.add("opportunity", opp_fields(account="Initech", notes="walk-away price 40k"))
        ws.add("topic", {"title": "Internal: Initech strategy"})
        room = ws.add("space", {"title": "Initech deal room", "guests": [guest.peer_id]})
        other = ws.add("space", {"title": "Globex deal room", "guests": [other_guest]})
        topic = ws.add("topic", {"title": "Rollout questions"}, space=room)
        ws.add("post", {"topic_id": topic, "text": "Kickoff on Monday?"})
        shared_doc = ws.new_document("Initech proposal", "Price: 45 per seat", space=room)
        ws.new_document("Internal pricing notes", "floor 40 per seat")
        ws.add("topic", {"title": "Globex questions"}, space=other)
        give(ws, guest)
        assert set(guest.doc_ids()) == {"index", f"space:{room}", f"doc:{shared_doc}"}
        assert [t["title"] for t in guest.list("topic")] == ["Rollout questions"]
        assert [p["text"] for p in guest.list("post")] == ["Kickoff on Monday?"]
        assert guest.document(shared_doc)["text"] == "Price: 45 per seat"
        assert guest.list("opportunity") == [] and guest.search("walk-away") == []
        assert guest.search("floor") == [] and guest.search("globex") == []
        assert "walk-away" in readable(ws) and "walk-away" not in readable(guest)
    finally:
        guest.close()


def test_guest_access_follows_later_changes_to_their_spaces(ws):
    guest = Identity.generate().peer_id
    ws.add_member(guest, "guest", "Carl (Initech)")
    room = ws.add("space", {"title": "Initech deal room", "guests": [guest]})
    policy = AccessPolicy(ws)
    assert policy.guest_docs(guest) == {f"space:{room}"}
    shared = ws.new_document("Initech proposal", "Price: 45 per seat", space=room)
    assert policy.guest_docs(guest) == {f"space:{room}", f"doc:{shared}"}
    ws.update(room, {"guests": []})
    assert policy.guest_docs(guest) == set()
    assert policy.docs_visible_to(guest, ws.doc_ids()) == {"index"}


def test_changes_are_accepted_by_author_and_role(ws, join_ws, tmp_path):
    rep = join_ws(ws, "Eli", "rep")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    try:
        ws.add_member(guest.peer_id, "guest", "Carl")
        room = ws.add("space", {"title": "Deal room", "guests": [guest.peer_id]})
        give(ws, guest)
        exchange(ws, rep)
        policy = AccessPolicy(ws)

        def new_changes(author: Workspace, doc_id: str, write) -> list:
            before = author.doc(doc_id).get_heads()
            write()
            return author.doc(doc_id).get_changes(before)

        topic_changes = new_changes(guest, f"space:{room}",
                                    lambda: guest.add("topic", {"title": "Q"}, space=room))
        assert policy.refused_changes(f"space:{room}", topic_changes) == []
        rep_changes = new_changes(rep, "pipeline",
                                  lambda: rep.add("opportunity", opp_fields()))
        assert policy.refused_changes("pipeline", rep_changes) == []
        # a guest's change smuggled into the pipeline document is refused
        assert policy.change_refused("pipeline", topic_changes[0]).startswith("guest")
        ws.remove_member("Eli")
        assert "not a member" in policy.change_refused("pipeline", rep_changes[0])
        genesis = ws.doc("pipeline").get_changes([])[0]
        assert policy.change_refused("pipeline", genesis) is None
        assert policy.change_refused("contacts", genesis) == "change by an unknown actor"
        assert not policy.is_allowed(Identity.generate().peer_id)
        assert policy.docs_visible_to(Identity.generate().peer_id, ws.doc_ids()) == set()
    finally:
        guest.close()
