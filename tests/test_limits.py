"""Size limits and guest quotas on receipt: a modified client's change over a limit is refused
by both receiving paths (sync messages and a whole saved document), with its reason, and
nothing of it is kept. Limits are lowered per test so the data stays small."""

from __future__ import annotations

import os

import pytest
from hostile import deliver, forge, put_record
from replicas import exchange, give

from bullpen.app.members import limits
from bullpen.app.members.access import author_of
from bullpen.app.workspace import Workspace
from bullpen.crdt import textdoc
from bullpen.crdt.schema import space_doc_id, text_doc_id


@pytest.fixture
def office(ws, join_ws, tmp_path):
    """Dana (manager) with a 100-character proposal, Eli (rep), Carl (guest of a room)."""
    rep = join_ws(ws, "Eli", "rep")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    ws.add_member(guest.peer_id, "guest", "Carl")
    room = ws.add("space", {"title": "Initech room", "guests": [guest.peer_id]})
    proposal = ws.new_document("Proposal", "p" * 100)
    exchange(ws, rep)
    give(ws, guest)
    yield {"manager": ws, "rep": rep, "guest": guest, "room": room, "proposal": proposal}
    guest.close()


def _insert(text: str):
    def write(tx):
        textdoc.splice(tx, textdoc.body(tx), 0, 0, text)
    return write


def _refused(attacker: Workspace, victim: Workspace, doc_id: str, reason: str) -> None:
    heads = victim.heads(doc_id) if doc_id in victim.doc_ids() else None
    for whole in (False, True):
        said = deliver(attacker, victim, doc_id, whole=whole)
        assert said.startswith(f"refused change to {doc_id}") and reason in said, said
        if heads is not None:
            assert victim.heads(doc_id) == heads


def test_a_text_grown_over_the_limit_is_refused(office, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_TEXT_CHARS", 150)
    rep, manager = office["rep"], office["manager"]
    doc_id = text_doc_id(office["proposal"])
    forge(rep, doc_id, _insert("x" * 60))  # 160 characters
    _refused(rep, manager, doc_id, "the text would grow to 160 characters (at most 150)")
    assert manager.document(office["proposal"])["text"] == "p" * 100


def test_a_text_already_over_the_limit_may_shrink(office, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_TEXT_CHARS", 50)  # the proposal predates the limit
    rep, manager = office["rep"], office["manager"]
    forge(rep, text_doc_id(office["proposal"]),
          lambda tx: textdoc.splice(tx, textdoc.body(tx), 0, 10, ""))
    assert deliver(rep, manager, text_doc_id(office["proposal"])) == ""
    assert manager.document(office["proposal"])["text"] == "p" * 90


def test_an_oversized_change_is_refused(office, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_CHANGE_BYTES", 2000)
    rep, manager = office["rep"], office["manager"]
    noise = os.urandom(3000).hex()  # incompressible
    forge(rep, "contacts", lambda tx: put_record(tx, "c0ffee0000000001", {
        "_kind": "contact", "name": "Big", "notes": noise, "_deleted": False}))
    _refused(rep, manager, "contacts", "bytes (at most 2,000)")
    assert manager.list("contact") == []


def test_a_guest_over_its_quota_in_a_space_is_refused(office, monkeypatch) -> None:
    guest, manager, room = office["guest"], office["manager"], office["room"]
    space = space_doc_id(room)
    guest.add("topic", {"title": "Kickoff"}, space=room)
    assert deliver(guest, manager, space) == ""  # within the quota
    used = limits.bytes_by_author(manager.doc(space), author_of)[guest.peer_id]
    monkeypatch.setattr(limits, "GUEST_QUOTA_BYTES", used + 500)
    guest.add("topic", {"title": "Specs", "body": os.urandom(400).hex()}, space=room)
    _refused(guest, manager, space, f"guest {guest.peer_id[-6:]} is over its quota")
    assert [t["title"] for t in manager.list("topic")] == ["Kickoff"]
