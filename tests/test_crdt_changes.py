"""crdt.changes on its own: reading a change's header from its bytes, refusing damaged or
foreign bytes before automerge sees them, and applying changes in any order. No workspace,
no storage, no network."""

from __future__ import annotations

import random

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import given
from hypothesis import strategies as st

from bullpen.crdt.changes import (
    MAGIC,
    BadChange,
    apply_changes,
    check_change,
    load,
    parse_change,
    uleb128,
    uleb_decode,
)


def edited(count: int = 3, actor: bytes = b"a" * 16) -> Document:
    """A document of ``count`` changes by ``actor``, each setting one key."""
    doc = Document(actor_id=actor)
    for i in range(count):
        with doc.transaction() as tx:
            tx.put(ROOT, f"k{i}", ScalarType.Int, i)
    return doc


def long_text_change() -> bytes:
    """A change big enough that automerge stores it deflated (chunk type 2)."""
    doc = Document(actor_id=b"t" * 16)
    with doc.transaction() as tx:
        text = tx.put_object(ROOT, "body", ObjType.Text)
        for i in range(2000):
            tx.insert(text, i, ScalarType.Str, "x")
    chunk = doc.get_changes([])[-1].bytes
    assert chunk[8] == 2
    return chunk


def state(doc: Document) -> dict:
    return {key: doc.get(ROOT, key)[0][1] for key in doc.keys(ROOT)}


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_lengths_round_trip_through_uleb128(n: int) -> None:
    encoded = uleb128(n)
    assert uleb_decode(b"\x00" + encoded + b"tail", 1) == (n, 1 + len(encoded))
    assert all(b & 0x80 for b in encoded[:-1]) and not encoded[-1] & 0x80


def test_a_truncated_or_endless_length_is_refused() -> None:
    with pytest.raises(BadChange, match="truncated length"):
        uleb_decode(uleb128(300)[:1], 0)
    with pytest.raises(BadChange, match="truncated length"):
        uleb_decode(b"\xff" * 20, 0)  # more than 64 bits: never ends


def test_the_header_is_read_from_the_bytes_as_automerge_reads_it() -> None:
    doc = edited(3)
    other = Document(actor_id=b"b" * 16)
    other.merge(doc)
    with other.transaction() as tx:
        tx.put(ROOT, "k", ScalarType.Str, "b")
    for change in [*doc.get_changes([]), *other.get_changes(doc.get_heads())]:
        header = parse_change(change.bytes)
        assert header.actor_id == change.actor_id and header.seq == change.seq
        assert header.deps == list(change.deps) and header.hash == change.hash
    assert parse_change(other.get_changes(doc.get_heads())[0].bytes).deps == doc.get_heads()


def test_a_compressed_change_is_checked_over_its_inflated_form() -> None:
    chunk = long_text_change()
    header = parse_change(chunk)
    assert header.hash == Document.load(chunk).get_changes([])[-1].hash
    damaged = chunk[:-3] + bytes([chunk[-3] ^ 0x01]) + chunk[-2:]
    with pytest.raises(BadChange, match="damaged compressed change|bad checksum"):
        check_change(damaged)


@pytest.mark.parametrize(("chunk", "message"), [
    (b"", "not an automerge change"),
    (b"hello, automerge", "not an automerge change"),
    (MAGIC + b"\x00\x00\x00\x00\x00\x00", "chunk type 0 is not a change"),  # a document chunk
])
def test_what_is_no_change_is_named(chunk: bytes, message: str) -> None:
    with pytest.raises(BadChange, match=message):
        check_change(chunk)


def test_a_saved_document_is_not_a_change() -> None:
    with pytest.raises(BadChange, match="chunk type 0 is not a change"):
        check_change(edited(1).save())


@pytest.mark.parametrize("cut", [1, 5])
def test_a_truncated_or_padded_change_is_refused(cut: int) -> None:
    chunk = edited(1).get_changes([])[0].bytes
    with pytest.raises(BadChange, match="truncated or oversized"):
        check_change(chunk[:-cut])
    with pytest.raises(BadChange, match="truncated or oversized"):
        check_change(chunk + b"\x00" * cut)


@given(st.data())
def test_a_damaged_byte_is_found_or_changes_nothing(data: st.DataObject) -> None:
    """Whichever byte of a stored change a disk or a peer flips, the change is named as bad
    before automerge sees it (the core drops an unparseable chunk at the end of a batch
    silently), unless the flip changes nothing: a deflated change's final padding bits, which
    automerge reads as the very same change."""
    chunk = data.draw(st.sampled_from([edited(1).get_changes([])[0].bytes,
                                       long_text_change()]))
    at = data.draw(st.integers(0, len(chunk) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = chunk[:at] + bytes([chunk[at] ^ flip]) + chunk[at + 1:]
    try:
        header = parse_change(damaged)
    except BadChange:
        return
    assert header == parse_change(chunk)
    assert Document.load(damaged).get_changes([])[-1].hash == header.hash


def test_an_unfinished_deflate_stream_is_refused() -> None:
    """Its checksum matches what it inflates to, but automerge cannot parse it."""
    chunk = long_text_change()
    unfinished = chunk[:10] + bytes([chunk[10] ^ 1]) + chunk[11:]  # not the final block
    with pytest.raises(BadChange, match="damaged compressed change"):
        check_change(unfinished)


def test_changes_apply_in_any_order_and_twice() -> None:
    source = edited(6)
    chunks = [c.bytes for c in source.get_changes([])]
    shuffled = chunks[:]
    random.Random(7).shuffle(shuffled)
    doc = Document()
    apply_changes(doc, shuffled[:3])  # some wait for their dependencies
    apply_changes(doc, shuffled[3:] + chunks[:2])  # the rest, and duplicates
    assert state(doc) == state(source) == {f"k{i}": i for i in range(6)}
    assert doc.get_heads() == source.get_heads()
    apply_changes(doc, [])  # nothing to apply is no error


def test_a_batch_with_one_bad_change_applies_nothing() -> None:
    chunks = [c.bytes for c in edited(3).get_changes([])]
    doc = Document()
    with pytest.raises(BadChange, match="bad checksum"):
        apply_changes(doc, [chunks[0], chunks[1][:4] + b"\0\0\0\0" + chunks[1][8:], chunks[2]])
    assert doc.keys(ROOT) == [] and doc.get_heads() == []


def test_a_document_loads_from_a_snapshot_and_the_changes_stored_after_it() -> None:
    doc = edited(2)
    snapshot = doc.save()
    heads = doc.get_heads()
    with doc.transaction() as tx:
        tx.put(ROOT, "after", ScalarType.Str, "snapshot")
    later = [c.bytes for c in doc.get_changes(heads)]
    assert state(load(snapshot, later)) == state(doc)
    assert state(load(None, [c.bytes for c in doc.get_changes([])])) == state(doc)
    assert state(load(snapshot, [])) == {"k0": 0, "k1": 1}
