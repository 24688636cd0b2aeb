"""Merge behaviour of the record model across replicas."""

from __future__ import annotations

import pytest
from helpers import opp_fields
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replicas import exchange, join

from bullpen.app.workspace import Workspace, WorkspaceError


def test_concurrent_edits_of_different_fields_both_survive(make_ws, join_ws):
    a = make_ws("Dana")
    oid = a.add("opportunity", opp_fields())
    b = join_ws(a, "Eli")
    a.update(oid, {"amount": 70000})
    b.update(oid, {"next_step": "Send pricing"})
    exchange(a, b)
    for ws in (a, b):
        record = ws.get(oid)
        assert record["amount"] == 70000.0
        assert record["next_step"] == "Send pricing"
    assert a.digest() == b.digest()


def test_same_field_conflict_is_deterministic_and_loser_stays_in_history(make_ws, join_ws):
    a = make_ws("Dana")
    oid = a.add("opportunity", opp_fields())
    b = join_ws(a, "Eli")
    a.update(oid, {"stage": "negotiation"})
    b.update(oid, {"stage": "closed_lost"})
    exchange(a, b)
    winner = a.get(oid)["stage"]
    assert winner == b.get(oid)["stage"]
    history = a.history(oid)
    stages = [e.fields["stage"][1] for e in history if "stage" in e.fields]
    assert {"negotiation", "closed_lost"} <= set(stages)
    assert any(e.concurrent for e in history)
    authors = {e.by for e in history}
    assert authors == {a.peer_id, b.peer_id}


def test_delete_is_a_tombstone_that_replicates(make_ws, join_ws):
    a = make_ws("Dana")
    cid = a.add("contact", {"name": "Ann Lee", "company": "Acme"})
    b = join_ws(a, "Eli")
    b.delete(cid)
    exchange(a, b)
    assert a.list("contact") == []
    assert a.get(cid, include_deleted=True)["deleted"] is True
    assert [e.action for e in a.history(cid)] == ["created", "deleted"]


def test_records_from_both_replicas_are_indexed(make_ws, join_ws):
    a = make_ws("Dana")
    b = join_ws(a, "Eli")
    a.add("opportunity", opp_fields(account="Initech"))
    b.add("opportunity", opp_fields(account="Globex"))
    exchange(a, b)
    for ws in (a, b):
        assert sorted(o["account"] for o in ws.list("opportunity")) == ["Globex", "Initech"]
        assert [h["kind"] for h in ws.search("globex")] == ["opportunity"]


def test_concurrent_reactions_merge_per_member(make_ws, join_ws):
    a = make_ws("Dana")
    tid = a.add("topic", {"title": "Pricing"})
    pid = a.add("post", {"topic_id": tid, "text": "Lead with TCO"})
    b = join_ws(a, "Eli")
    a.update(pid, {"reactions": {a.peer_id: "helpful"}})
    b.update(pid, {"reactions": {b.peer_id: "+1"}})
    exchange(a, b)
    assert a.get(pid)["reactions"] == {a.peer_id: "helpful", b.peer_id: "+1"}


def test_settings_maps_come_from_genesis_never_from_a_later_change(make_ws, join_ws):
    """A map two replicas each created would hide one's entries behind the other's, and a
    change creating one has no author every peer accepts: maps exist from the start, and
    writing into a map that does not exist is refused."""
    a = make_ws("Dana")
    b = join_ws(a, "Eli", "manager")
    a.set_setting_entry("admin", "quotas", "Dana|2026-Q4", 5.0)
    b.set_setting_entry("admin", "quotas", "Eli|2026-Q4", 7.0)
    exchange(a, b)
    for ws in (a, b):
        assert ws.setting("quotas", "admin") == {"Dana|2026-Q4": 5.0, "Eli|2026-Q4": 7.0}
    assert a.digest() == b.digest()
    heads = a.heads("contacts")
    with pytest.raises(WorkspaceError, match="no settings map 'territories'"):
        a.set_setting_entry("contacts", "territories", "north", "Dana")
    assert a.heads("contacts") == heads


def test_concurrent_document_edits_merge(make_ws, join_ws):
    a = make_ws("Dana")
    did = a.new_document("Proposal", "Scope: 50 seats")
    b = join_ws(a, "Eli")
    a.edit_document(did, splice=(0, 0, "DRAFT "))
    b.edit_document(did, splice=(len("Scope: 50 seats"), 0, ", 3 years"))
    b.edit_document(did, style=(10, 15, "bold", True))
    exchange(a, b)
    text = a.document(did)["text"]
    assert text == b.document(did)["text"] == "DRAFT Scope: 50 seats, 3 years"
    assert {"start": 16, "end": 21, "name": "bold", "value": True} in a.document(did)["spans"]


def test_a_style_removed_from_part_of_a_range_stays_on_the_rest(make_ws):
    a = make_ws("Dana")
    did = a.new_document("Proposal", "Scope: 50 seats")
    a.edit_document(did, style=(0, 15, "bold", True))
    a.edit_document(did, style=(7, 15, "bold", None))
    a.edit_document(did, style=(0, 15, "heading", 2))
    a.edit_document(did, style=(0, 15, "heading", None))
    spans = a.document(did)["spans"]
    assert [s for s in spans if s["name"] == "bold"] == [
        {"start": 0, "end": 7, "name": "bold", "value": True}]
    assert not [s for s in spans if s["name"] == "heading"]


FIELDS = st.sampled_from(["amount", "stage", "next_step", "owner"])
VALUES = {
    "amount": st.integers(0, 10**6),
    "stage": st.sampled_from(["prospecting", "proposal", "negotiation", "closed_won"]),
    "next_step": st.text(max_size=8),
    "owner": st.sampled_from(["Dana", "Eli", "Fay"]),
}


@st.composite
def edit_scripts(draw):
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        replica = draw(st.integers(0, 2))
        op = draw(st.sampled_from(["update", "update", "add", "delete", "sync"]))
        field = draw(FIELDS)
        steps.append((replica, op, field, draw(VALUES[field]), draw(st.integers(0, 99))))
    return steps


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=edit_scripts())
def test_random_concurrent_edits_converge(tmp_path_factory, script):
    base = tmp_path_factory.mktemp("replicas")
    replicas = [Workspace.create(base / "a", "a", "Acme")]
    try:
        seed = replicas[0].add("opportunity", opp_fields())
        replicas += [join(replicas[0], base / n, n) for n in ("b", "c")]
        for index, op, field, value, pick in script:
            ws = replicas[index]
            live = [o["id"] for o in ws.list("opportunity")] or [seed]
            target = live[pick % len(live)]
            if op == "add":
                ws.add("opportunity", opp_fields(**{field: value}))
            elif op == "update" and any(o["id"] == target for o in ws.list("opportunity")):
                ws.update(target, {field: value})
            elif op == "delete" and len(live) > 1:
                ws.delete(target)
            elif op == "sync":
                exchange(ws, replicas[(index + 1) % 3])
        for _ in range(2):
            exchange(replicas[0], replicas[1])
            exchange(replicas[1], replicas[2])
        digests = {ws.digest() for ws in replicas}
        assert len(digests) == 1
        lists = [sorted(map(repr, ws.list("opportunity"))) for ws in replicas]
        assert lists[0] == lists[1] == lists[2]
    finally:
        for ws in replicas:
            ws.close()
