"""Sans-I/O tests of the message codec and of the automerge sync message inspection."""

from __future__ import annotations

import contextlib
import os
import struct

import pytest
from automerge.core import ROOT, Document, ScalarType, SyncState

from bullpen.sync import messages as m
from bullpen.sync import payloads
from bullpen.sync.messages import ProtocolError

SHA = "ab" * 32
HEAD = "cd" * 32

SAMPLES = [
    m.Hello("ws1", {"pipeline": [HEAD], "contacts": []}, ["/ip4/127.0.0.1/tcp/1"], "Dana"),
    m.Sync("pipeline", b"\x42abc"),
    m.Saved("doc:1", b"zz"),
    m.BlobWant(SHA),
    m.BlobData(SHA, 5, 10, b"12345"),
    m.BlobMissing(SHA),
    m.Error("bye"),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda x: type(x).__name__)
def test_roundtrip(msg: m.Message) -> None:
    assert m.decode(m.encode(msg)) == msg


def raw(code: int, header: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">BI", code, len(header)) + header + body


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        raw(99, b"{}"),
        raw(1, b"not json"),
        raw(1, b"[1]"),
        raw(1, b'{"v":1,"workspace":"w","docs":{"d":["zz"]}}'),
        raw(1, b'{"v":1,"workspace":"","docs":{}}'),
        raw(2, b'{"doc":""}'),
        raw(2, b'{"doc":5}'),
        raw(4, b'{"sha":"xyz"}'),
        raw(5, b'{"sha":"' + SHA.encode() + b'","offset":8,"total":10}', b"abc"),
        raw(5, b'{"sha":"' + SHA.encode() + b'","offset":-1,"total":10}', b"a"),
        raw(6, b'{"sha":"' + SHA.encode() + b'"}', b"body"),
        struct.pack(">BI", 2, 1 << 30) + b"{}",
    ],
)
def test_malformed_messages_rejected(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        m.decode(data)


def test_random_bytes_never_crash_the_decoder() -> None:
    for _ in range(2000):
        data = os.urandom(os.urandom(1)[0])
        with contextlib.suppress(ProtocolError):
            m.decode(data)


def _sync_message() -> bytes:
    doc = Document()
    with doc.transaction() as tx:
        tx.put(ROOT, "k", ScalarType.Str, "v")
    peer = Document()
    s_doc, s_peer = SyncState(), SyncState()
    peer.receive_sync_message(s_peer, doc.generate_sync_message(s_doc))
    doc.receive_sync_message(s_doc, peer.generate_sync_message(s_peer))
    msg = doc.generate_sync_message(s_doc)
    assert msg is not None
    return msg.encode()


def test_inspect_sync_reads_heads_and_changes() -> None:
    data = _sync_message()
    info = payloads.inspect_sync(data)
    assert info.changes == 1
    assert len(info.heads) == 1


def test_inspect_sync_rejects_damaged_change() -> None:
    data = bytearray(_sync_message())
    data[-5] ^= 0xFF  # inside the change chunk: the checksum no longer matches
    with pytest.raises(ProtocolError):
        payloads.inspect_sync(bytes(data))


@pytest.mark.parametrize("data", [b"", b"\x42", b"\x00abc", b"\x42\x05" + b"x" * 40])
def test_inspect_sync_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        payloads.inspect_sync(data)


def test_saved_compression_roundtrip_and_bomb() -> None:
    payload = os.urandom(1000) * 10
    assert payloads.decompress_saved(payloads.compress_saved(payload)) == payload
    with pytest.raises(ProtocolError):
        payloads.decompress_saved(b"garbage")
    with pytest.raises(ProtocolError):
        payloads.decompress_saved(payloads.compress_saved(payload)[:-4])


def test_inspect_sync_accepts_bundled_changes_of_v2_messages() -> None:
    """Concurrent edits make automerge bundle several change chunks into one list entry."""
    base = Document()
    with base.transaction() as tx:
        tx.put(ROOT, "k", ScalarType.Str, "v")
    left, right = base.fork(), base.fork()
    for doc, name in ((left, "left"), (right, "right")):
        for i in range(3):
            with doc.transaction() as tx:
                tx.put(ROOT, f"{name}{i}", ScalarType.Str, "x" * 50)
    s_left, s_right = SyncState(), SyncState()
    seen_changes = 0
    for _ in range(10):
        for src, dst, s_src, s_dst in ((left, right, s_left, s_right),
                                       (right, left, s_right, s_left)):
            msg = src.generate_sync_message(s_src)
            if msg is not None:
                seen_changes += payloads.inspect_sync(msg.encode()).changes
                dst.receive_sync_message(s_dst, msg)
    assert left.get_heads() == right.get_heads()
    assert seen_changes >= 2


def test_compressed_sync_roundtrips_and_only_when_asked_and_big() -> None:
    big = b"\x42" + b"abc" * 2000
    wire = m.encode(m.Sync("pipeline", big, deflate=True))
    assert len(wire) < len(big) // 10
    assert m.decode(wire) == m.Sync("pipeline", big)
    assert len(m.encode(m.Sync("pipeline", big))) > len(big)  # not asked: as it is
    small = m.Sync("pipeline", b"\x42abc", deflate=True)
    assert m.encode(small) == m.encode(m.Sync("pipeline", b"\x42abc"))
    with pytest.raises(ProtocolError):
        m.decode(raw(2, b'{"doc":"pipeline","z":1}', b"not zlib"))


def test_hello_features_roundtrip_and_default_to_none() -> None:
    hello = m.Hello("ws1", {}, [], "Dana", features=[m.FEATURE_ZSYNC])
    assert m.decode(m.encode(hello)).features == [m.FEATURE_ZSYNC]
    assert m.decode(raw(1, b'{"v":1,"workspace":"w","docs":{}}')).features == []
    with pytest.raises(ProtocolError):
        m.decode(raw(1, b'{"v":1,"workspace":"w","docs":{},"features":[1]}'))


def test_strip_changes_drops_only_held_changes() -> None:
    from automerge.core import Message

    from bullpen.crdt.changes import apply_changes

    src = Document()
    with src.transaction() as tx:
        tx.put(ROOT, "a", ScalarType.Str, "1")
    with src.transaction() as tx:
        tx.put(ROOT, "b", ScalarType.Str, "2")
    with src.transaction() as tx:
        tx.put(ROOT, "c", ScalarType.Str, "3")
    first, second, third = src.get_changes([])
    peer = Document()
    apply_changes(peer, [first.bytes, second.bytes])
    # A message carrying all three changes: to an empty document's first reply.
    state = SyncState()
    assert src.generate_sync_message(state) is not None
    src.receive_sync_message(state, Document().generate_sync_message(SyncState()))
    full = src.generate_sync_message(state).encode()
    hashes = [h.hash for h in payloads.inspect_sync(full).headers or []]
    assert sorted(hashes) == sorted([first.hash, second.hash, third.hash])
    assert payloads.strip_changes(full, set()) is full
    stripped = payloads.strip_changes(full, {first.hash, second.hash})
    info = payloads.inspect_sync(stripped)
    assert [h.hash for h in info.headers or []] == [third.hash]
    assert info.heads == payloads.inspect_sync(full).heads
    peer.receive_sync_message(SyncState(), Message.decode(stripped))
    assert peer.get_heads() == src.get_heads()
