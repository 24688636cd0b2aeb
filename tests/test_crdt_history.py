"""crdt.history on bare automerge documents: a record's history read from the change graph
(created, updated, deleted, restored), with the value that lost a concurrent edit still
visible. No workspace, no storage."""

from __future__ import annotations

from typing import Any

from automerge.core import Document, ScalarType

from bullpen.crdt import records as r
from bullpen.crdt.history import record_history

ALICE, BOB = b"a" * 16, b"b" * 16


def replica(doc: Document, actor: bytes) -> Document:
    copy = doc.fork()
    copy.set_actor(actor)
    return copy


def write(doc: Document, record_id: str, fields: dict[str, Any], by: str = "ann",
          at: str = "2026-12-01T10:00") -> None:
    """One change to ``record_id`` with the meta fields the workspace writes."""
    with doc.transaction() as tx:
        r.write_record(tx, r.container(tx, r.RECORDS), record_id,
                       {**fields, "_updated_by": by, "_updated_at": at})
        r.mark_touched(tx, [record_id])


def summary(doc: Document, record_id: str) -> list[tuple[str, str | None, dict]]:
    return [(e.action, e.by, e.fields) for e in record_history(doc, record_id)]


def test_a_records_life_is_read_back_from_its_changes() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    write(doc, "d", {"title": "Renewal", "stage": "proposal", "_deleted": False})
    write(doc, "other", {"title": "Not this one"})
    write(doc, "d", {"stage": "negotiation"}, by="bob", at="2026-12-02T09:00")
    write(doc, "d", {"_deleted": True})
    write(doc, "d", {"_deleted": False, "title": "Renewal 2027"})
    assert summary(doc, "d") == [
        ("created", "ann", {"stage": (None, "proposal"), "title": (None, "Renewal")}),
        ("updated", "bob", {"stage": ("proposal", "negotiation")}),
        ("deleted", "ann", {}),  # meta fields are not listed as edits
        ("restored", "ann", {"title": ("Renewal", "Renewal 2027")}),
    ]
    entries = record_history(doc, "d")
    assert entries[1].at == "2026-12-02T09:00" and entries[1].actor == ALICE.hex()
    assert not any(e.concurrent for e in entries)
    assert [e.change for e in entries] == [c.hash.hex() for c in doc.get_changes([])
                                           if r.touched_by(doc, r.container(doc, r.TOUCHED), c)
                                           == ["d"]]
    assert record_history(doc, "never") == []


def test_the_value_that_lost_a_concurrent_edit_stays_in_history() -> None:
    base = replica(r.genesis("pipeline"), ALICE)
    write(base, "d", {"title": "Renewal"})
    ann, bob = replica(base, ALICE), replica(base, BOB)
    write(ann, "d", {"title": "Renewal (Ann)"})
    write(bob, "d", {"title": "Renewal (Bob)"}, by="bob")
    ann.merge(bob)
    entries = record_history(ann, "d")
    assert {e.fields["title"][1] for e in entries[1:]} == {"Renewal (Ann)", "Renewal (Bob)"}
    assert [e.concurrent for e in entries] == [False, False, True]
    winner = r.read_record(ann, r.container(ann, r.RECORDS), "d")["title"]
    assert winner in ("Renewal (Ann)", "Renewal (Bob)")


def test_a_change_that_put_no_map_under_the_record_id_is_no_entry() -> None:
    """A modified client may write any value under a record id: not a record, no history."""
    doc = replica(r.genesis("pipeline"), ALICE)
    with doc.transaction() as tx:
        tx.put(r.container(tx, r.RECORDS), "forged", ScalarType.Str, "no map")
        r.mark_touched(tx, ["forged"])
    assert record_history(doc, "forged") == []


def test_an_entry_as_json() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    write(doc, "d", {"amount": 5.0})
    write(doc, "d", {"amount": 7.0})
    entry = record_history(doc, "d")[1].to_json()
    assert entry["fields"] == {"amount": {"old": 5.0, "new": 7.0}}
    assert entry["action"] == "updated" and entry["by"] == "ann" and not entry["concurrent"]
    assert set(entry) == {"change", "actor", "at", "by", "action", "fields", "concurrent"}
