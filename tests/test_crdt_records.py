"""crdt.records on bare automerge documents: the deterministic genesis, field-by-field writes
and their merges, reading at past heads, and the ``touched`` key that says which records a
change wrote. No workspace, no storage."""

from __future__ import annotations

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import given
from hypothesis import strategies as st

from bullpen.crdt import records as r

ALICE, BOB = b"a" * 16, b"b" * 16


def replica(doc: Document, actor: bytes) -> Document:
    copy = doc.fork()
    copy.set_actor(actor)
    return copy


def write(doc: Document, record_id: str, fields: dict, **options: object) -> bytes:
    """One change writing ``fields`` of ``record_id`` and marking it touched; its hash."""
    with doc.transaction() as tx:
        r.write_record(tx, r.container(tx, r.RECORDS), record_id, fields, **options)
        r.mark_touched(tx, [record_id])
    return doc.get_heads()[0]


def record(doc: Document, record_id: str, heads: list[bytes] | None = None) -> dict | None:
    return r.read_record(doc, r.container(doc, r.RECORDS), record_id, heads)


def merged(a: Document, b: Document) -> tuple[Document, Document]:
    a.merge(b)
    b.merge(a)
    return a, b


def test_genesis_is_the_same_bytes_on_every_peer() -> None:
    first, again = r.genesis("pipeline"), r.genesis("pipeline")
    assert first.save() == again.save()
    assert first.get_changes([])[0].hash == again.get_changes([])[0].hash
    assert r.genesis("contacts").get_heads() != first.get_heads()
    assert first.get(ROOT, "_doc")[0] == (ScalarType.Str, "pipeline")
    doc = r.genesis("doc:x", texts=["body"], maps=["quotas"])
    assert doc.get(ROOT, "body")[0] == ObjType.Text
    assert doc.keys(r.container(doc, r.SETTINGS)) == ["quotas"]


def test_records_made_apart_on_two_genesis_copies_are_both_kept() -> None:
    """Without the shared genesis each peer's ``records`` map would hide the other's."""
    ann, bob = replica(r.genesis("pipeline"), ALICE), replica(r.genesis("pipeline"), BOB)
    write(ann, "r-ann", {"title": "Ann's"})
    write(bob, "r-bob", {"title": "Bob's"})
    ann, bob = merged(ann, bob)
    for doc in (ann, bob):
        assert sorted(r.record_ids(doc, r.container(doc, r.RECORDS))) == ["r-ann", "r-bob"]


def test_the_settings_maps_change_is_the_same_change_everywhere() -> None:
    """Two replicas that each add the maps hold one map object: entries written into it on
    either side are all there after a merge."""
    change = r.settings_maps_change("index", ["invites", "quotas"])
    assert change == r.settings_maps_change("index", ["invites", "quotas"])
    assert change != r.settings_maps_change("index", ["invites"])
    sides = []
    for actor in (ALICE, BOB):
        doc = replica(Document.load(r.genesis("index").save() + change), actor)
        with doc.transaction() as tx:
            quotas = tx.get(r.container(tx, r.SETTINGS), "quotas")[1]
            tx.put(quotas, actor.decode()[0], ScalarType.Str, "1")
        sides.append(doc)
    ann, _ = merged(*sides)
    settings = r.container(ann, r.SETTINGS)
    assert ann.keys(settings) == ["invites", "quotas"]
    assert ann.keys(ann.get(settings, "quotas")[1]) == ["a", "b"]
    with pytest.raises(KeyError, match="document has no 'records' map"):
        r.container(Document(), r.RECORDS)


def test_concurrent_edits_of_different_fields_both_survive() -> None:
    ann = replica(r.genesis("pipeline"), ALICE)
    write(ann, "d", {"title": "Renewal", "amount": 5.0, "stage": "proposal"})
    bob = replica(ann, BOB)
    write(ann, "d", {"amount": 7.0})
    write(bob, "d", {"stage": "negotiation"})
    ann, bob = merged(ann, bob)
    expected = {"title": "Renewal", "amount": 7.0, "stage": "negotiation"}
    assert record(ann, "d") == record(bob, "d") == expected


def test_concurrent_edits_of_one_field_resolve_the_same_on_both_sides() -> None:
    base = replica(r.genesis("pipeline"), ALICE)
    write(base, "d", {"stage": "proposal"})
    ann, bob = replica(base, ALICE), replica(base, BOB)
    write(ann, "d", {"stage": "won"})
    write(bob, "d", {"stage": "lost"})
    one_way, _ = merged(ann.fork(), bob.fork())
    _, other_way = merged(ann.fork(), bob.fork())
    assert record(one_way, "d") == record(other_way, "d")
    assert record(one_way, "d")["stage"] in ("won", "lost")


def test_values_are_stored_with_their_types_and_none_clears_a_field() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    fields = {"flag": True, "count": 3, "amount": 2.5, "title": "T", "ids": ["a", 1]}
    write(doc, "d", fields)
    assert record(doc, "d") == {**fields, "ids": ["a", "1"]}
    obj = r.container(doc, r.RECORDS)
    flag = doc.get(doc.get(obj, "d")[1], "flag")[0]
    assert flag == (ScalarType.Boolean, True)  # a bool is no int
    write(doc, "d", {"title": None, "absent": None})
    assert "title" not in record(doc, "d") and "absent" not in record(doc, "d")
    with pytest.raises(TypeError, match="merged key by key"):
        write(doc, "d", {"reactions": {"p": "+1"}})
    with pytest.raises(TypeError, match="cannot store bytes"):
        write(doc, "d", {"blob": b"x"})


def test_map_fields_merge_key_by_key() -> None:
    """Two members reacting at once both keep their reaction; "" or None takes one back. The
    map exists from the record's first change (as the workspace writes it): two maps created
    concurrently would be two objects under one key, one hiding the other."""
    base = replica(r.genesis("discussions"), ALICE)
    write(base, "post", {"text": "hi", "reactions": {}}, map_fields=["reactions"])
    ann, bob = replica(base, ALICE), replica(base, BOB)
    write(ann, "post", {"reactions": {"ann": "+1"}}, map_fields=["reactions"])
    write(bob, "post", {"reactions": {"bob": "helpful"}}, map_fields=["reactions"])
    ann, _ = merged(ann, bob)
    assert record(ann, "post")["reactions"] == {"ann": "+1", "bob": "helpful"}
    write(ann, "post", {"reactions": {"ann": "", "bob": None}}, map_fields=["reactions"])
    assert record(ann, "post")["reactions"] == {}


def test_settings_are_plain_values_of_the_settings_map() -> None:
    doc = replica(r.genesis("index"), ALICE)
    with doc.transaction() as tx:
        r.put_setting(tx, "title", "Acme Sales")
        r.put_setting(tx, "seats", 5)
    settings = r.container(doc, r.SETTINGS)
    assert r.read_value(doc, doc.get(settings, "title")) == "Acme Sales"
    with doc.transaction() as tx:
        r.put_setting(tx, "title", None)
    assert doc.get(settings, "title") is None and r.read_value(doc, None) is None


def test_a_record_is_read_as_it_was_at_past_heads() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    before = doc.get_heads()
    first = write(doc, "d", {"stage": "proposal"})
    write(doc, "d", {"stage": "won"})
    assert record(doc, "d", [first]) == {"stage": "proposal"}
    assert record(doc, "d", before) is None and record(doc, "d") == {"stage": "won"}


def test_what_is_no_map_under_a_record_id_is_no_record() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    with doc.transaction() as tx:
        tx.put(r.container(tx, r.RECORDS), "forged", ScalarType.Str, "not a map")
        text = tx.put_object(ROOT, "notes", ObjType.Text)
        tx.insert(text, 0, ScalarType.Str, "h")
        tx.insert(text, 1, ScalarType.Str, "i")
    assert record(doc, "forged") is None
    assert r.read_value(doc, doc.get(ROOT, "notes")) == "hi"  # a text object reads as text


def test_a_change_names_the_records_it_touched() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    with doc.transaction() as tx:
        records = r.container(tx, r.RECORDS)
        for rid in ("x1", "x2"):
            r.write_record(tx, records, rid, {"title": rid})
        r.mark_touched(tx, ["x2", "x1", "x2"])
    write(doc, "x1", {"title": "again"})  # the same list again: still its own write
    with doc.transaction() as tx:  # a change that touches no record
        r.put_setting(tx, "title", "Acme")
    genesis, both, again, setting = doc.get_changes([])
    touched = r.container(doc, r.TOUCHED)
    assert r.touched_by(doc, touched, both) == ["x1", "x2"]
    assert r.touched_by(doc, touched, again) == ["x1"]
    assert r.touched_by(doc, touched, setting) is None  # not credited with its parent's
    assert r.touched_by(doc, touched, genesis) is None
    assert r.toucher(doc, again.hash) == ALICE
    assert r.toucher(doc, genesis.hash) is None


def test_changes_from_before_the_shared_key_are_read_by_their_actor_key() -> None:
    doc = replica(r.genesis("pipeline"), ALICE)
    with doc.transaction() as tx:
        tx.put(r.container(tx, r.TOUCHED), ALICE.hex(), ScalarType.Str, "1:old1,old2")
    change = doc.get_changes([])[-1]
    assert r.touched_by(doc, r.container(doc, r.TOUCHED), change) == ["old1", "old2"]


def test_a_bulk_import_writes_its_ids_as_runs() -> None:
    ids = [f"abcdef0123{n:06x}" for n in range(1000)]
    encoded = r.encode_ids([*ids, "zz", "abcdef0123ffffff"])
    assert encoded == "zz,abcdef0123000000~0003e7,abcdef0123ffffff"
    assert r.decode_ids(encoded) == ["zz", *ids, "abcdef0123ffffff"]
    assert r.encode_ids(ids[:2]) == ",".join(ids[:2])  # two are not worth a run
    assert r.decode_ids("") == []


PREFIXES = st.sampled_from(["0123456789", "abcdefabcd"])
HEX_IDS = st.builds(lambda p, n: f"{p}{n:06x}", PREFIXES, st.integers(0, 40))
PLAIN_IDS = st.text("ghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20)


@given(st.lists(HEX_IDS | PLAIN_IDS, max_size=60))
def test_ids_survive_their_encoding(ids: list[str]) -> None:
    decoded = r.decode_ids(r.encode_ids(ids))
    assert sorted(decoded) == sorted(set(ids))


@given(st.lists(st.sampled_from(["title", "amount", "stage"]), min_size=1, max_size=6),
       st.lists(st.sampled_from(["title", "amount", "stage"]), min_size=1, max_size=6))
def test_any_two_edit_sequences_converge(ann_keys: list[str], bob_keys: list[str]) -> None:
    base = replica(r.genesis("pipeline"), ALICE)
    write(base, "d", {"title": "t", "amount": 1.0, "stage": "s"})
    sides = {"ann": (replica(base, ALICE), ann_keys), "bob": (replica(base, BOB), bob_keys)}
    for name, (doc, keys) in sides.items():
        for i, key in enumerate(keys):
            write(doc, "d", {key: f"{name}{i}"})
    ann, bob = merged(sides["ann"][0], sides["bob"][0])
    assert record(ann, "d") == record(bob, "d")
    for key in ("title", "amount", "stage"):  # a field one side alone edited: its last value
        editors = [(name, keys) for name, (_, keys) in sides.items() if key in keys]
        if len(editors) == 1:
            name, keys = editors[0]
            last = max(i for i, k in enumerate(keys) if k == key)
            assert record(ann, "d")[key] == f"{name}{last}"
