"""Sans-I/O tests of the per-peer session state machine, with recording fake ports.

Sessions talk through :func:`pump`, which encodes and decodes every message (so the codec is in
the loop) and delivers until both sides are quiet: no sockets, no threads, no clocks.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from automerge.core import Document, Message, SyncState

from bullpen.crdt import records as rec
from bullpen.sync import messages as m
from bullpen.sync import payloads
from bullpen.sync.messages import ProtocolError
from bullpen.sync.policy import Policy, RefusedChanges
from bullpen.sync.session import PeerClosed, Proofs, Refused, Session, State


class FakePort:
    """In-memory documents and blobs; records every call that changes or ships data."""

    def __init__(self, docs: dict[str, Document] | None = None) -> None:
        self.docs = docs or {}
        self.blobs: dict[str, bytes] = {}
        self.referenced: set[str] = set()
        self.claims: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.sigs: Proofs = {}  # (change hash, signer) -> signature (opaque here)
        self.offered: list[Proofs] = []  # signatures each receive was given

    def all_heads(self) -> dict[str, list[bytes]]:
        return {d: doc.get_heads() for d, doc in self.docs.items()}

    def heads(self, doc_id: str) -> list[bytes] | None:
        doc = self.docs.get(doc_id)
        return doc.get_heads() if doc else None

    def new_sync_state(self) -> Any:
        return SyncState()

    def dropped(self, doc_id: str) -> dict[bytes, str]:
        return {}

    def lacks(self, doc_id: str, hashes: list[bytes]) -> bool:
        held = {c.hash for c in self.docs[doc_id].get_changes([])} if doc_id in self.docs else set()
        return not set(hashes) <= held

    def generate(self, doc_id: str, state: Any) -> bytes | None:
        msg = self.docs.get(doc_id, Document()).generate_sync_message(state)
        return msg.encode() if msg else None

    def receive(self, doc_id: str, state: Any, data: bytes, sigs: Proofs) -> set[bytes]:
        self.calls.append(("receive", doc_id))
        self.offered.append(dict(sigs))
        payloads.inspect_sync(data)
        fork = self.docs[doc_id].fork() if doc_id in self.docs else Document()
        before = fork.get_heads()
        fork.receive_sync_message(state, Message.decode(data))
        self.docs[doc_id] = fork
        applied = {c.hash for c in fork.get_changes(before)}
        self.sigs.update((k, s) for k, s in sigs.items() if k[0] in applied)
        return applied

    def saved(self, doc_id: str) -> bytes:
        self.calls.append(("saved", doc_id))
        return payloads.compress_saved(self.docs[doc_id].save())

    def merge_saved(self, doc_id: str, data: bytes, sigs: Proofs) -> list[bytes]:
        self.calls.append(("merge_saved", doc_id))
        self.offered.append(dict(sigs))
        loaded = Document.load(payloads.decompress_saved(data))
        self.docs.setdefault(doc_id, Document()).merge(loaded)
        self.sigs.update(sigs)
        return loaded.get_heads()

    def signatures(self, doc_id: str, hashes: list[bytes]) -> Proofs:
        return {k: s for k, s in self.sigs.items() if k[0] in hashes}

    def whole_signatures(self, doc_id: str) -> Proofs:
        held = {c.hash for c in self.docs[doc_id].get_changes([])}
        return {k: s for k, s in self.sigs.items() if k[0] in held}

    def missing_blobs(self) -> list[str]:
        return sorted(self.referenced - set(self.blobs))

    def claim_blob(self, sha256: str) -> bool:
        if sha256 in self.claims:
            return False
        self.claims.add(sha256)
        return True

    def release_blob(self, sha256: str) -> None:
        self.claims.discard(sha256)

    def blob_source(self, sha256: str) -> tuple[int, Any] | None:
        data = self.blobs.get(sha256)
        if data is None:
            return None

        def chunks() -> Any:  # read lazily, as the store does; counts what was read
            for i in range(0, len(data), m.BLOB_CHUNK):
                self.calls.append(("read_chunk", sha256))
                yield data[i : i + m.BLOB_CHUNK]
        return len(data), chunks()

    def blob_sink(self, sha256: str) -> FakeSink:
        return FakeSink(self, sha256)


class FakeSink:
    """A file being received: each write is recorded (nothing but the pieces is kept)."""

    def __init__(self, port: FakePort, sha256: str) -> None:
        self.port, self.sha256 = port, sha256
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.port.calls.append(("write_chunk", len(data)))
        self.data += data

    def commit(self) -> None:
        self.port.calls.append(("put_blob", self.sha256))
        if hashlib.sha256(self.data).hexdigest() != self.sha256:
            raise ValueError("received file does not match its content hash")
        self.port.blobs[self.sha256] = bytes(self.data)

    def abort(self) -> None:
        self.port.calls.append(("abort", self.sha256))


def collection(doc_id: str, **records: dict[str, Any]) -> Document:
    doc = rec.genesis(doc_id)
    if records:
        edit(doc, **records)
    return doc


def edit(doc: Document, **records: dict[str, Any]) -> None:
    with doc.transaction() as tx:
        container = rec.container(tx, rec.RECORDS)
        for rid, fields in records.items():
            rec.write_record(tx, container, rid, fields)


def read(port: FakePort, doc_id: str, rid: str) -> dict | None:
    doc = port.docs[doc_id]
    return rec.read_record(doc, rec.container(doc, rec.RECORDS), rid)


def session(port: FakePort, peer: str, ws: str = "ws", *, policy: Policy | None = None,
            **kw: Any) -> Session:
    """A session; the base Policy (everyone, everything) unless the test gives one."""
    return Session(port, peer, ws, name=peer, policy=policy or Policy(), **kw)


Wire = list[tuple[Session, m.Message]]


def pump(wire: Wire, links: dict[int, Session], limit: int = 200) -> list[m.Message]:
    """Deliver messages (``(sender, msg)``) to the sender's counterpart until none are left;
    returns every delivered message in order."""
    seen = []
    for _ in range(limit):
        if not wire:  # as the node's sender: documents the peer lacks, one at a time
            wire += [(s, x) for s in links.values() for x in s.next_whole()]
        if not wire:
            return seen
        sender, msg = wire.pop(0)
        msg = m.decode(m.encode(msg))
        seen.append(msg)
        receiver = links[id(sender)]
        wire += [(receiver, reply) for reply in receiver.receive(msg)]
    raise AssertionError("sessions did not go quiet")


def connect(a: Session, b: Session) -> tuple[Wire, dict[int, Session]]:
    links = {id(a): b, id(b): a}
    wire: Wire = [(a, x) for x in a.start()] + [(b, x) for x in b.start()]
    return wire, links


def test_fresh_peer_gets_saved_documents_then_is_in_sync() -> None:
    a = FakePort({"pipeline": collection("pipeline", r1={"title": "Renewal"}),
                  "contacts": collection("contacts")})
    b = FakePort()
    sa, sb = session(a, "B"), session(b, "A")
    wire, links = connect(sa, sb)
    seen = pump(wire, links)
    assert [type(x).__name__ for x in seen[:2]] == ["Hello", "Hello"]
    assert ("merge_saved", "pipeline") in b.calls and ("merge_saved", "contacts") in b.calls
    assert read(b, "pipeline", "r1") == {"title": "Renewal"}
    assert sa.in_sync and sb.in_sync
    assert b.all_heads() == a.all_heads()


def test_divergent_documents_sync_with_messages_not_saved() -> None:
    base = collection("pipeline", r1={"title": "Renewal", "amount": 1})
    a = FakePort({"pipeline": base.fork()})
    b = FakePort({"pipeline": base.fork()})
    edit(a.docs["pipeline"], r1={"amount": 2})
    edit(b.docs["pipeline"], r1={"title": "Upsell"})
    sa, sb = session(a, "B"), session(b, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    assert ("saved", "pipeline") not in a.calls + b.calls
    assert read(a, "pipeline", "r1") == read(b, "pipeline", "r1") == {
        "title": "Upsell", "amount": 2}
    assert sa.in_sync and sb.in_sync and sa.behind == 0


def test_equal_heads_send_nothing_after_hello() -> None:
    doc = collection("pipeline", r1={"title": "x"})
    sa, sb = session(FakePort({"pipeline": doc.fork()}), "B"), session(
        FakePort({"pipeline": doc.fork()}), "A")
    wire, links = connect(sa, sb)
    assert [type(x).__name__ for x in pump(wire, links)] == ["Hello", "Hello"]
    assert sa.in_sync and sb.in_sync


def test_documents_the_peer_lacks_go_one_per_step_records_first() -> None:
    a = FakePort({"doc:1": collection("doc:1"), "pipeline": collection("pipeline"),
                  "contacts": collection("contacts")})
    b = FakePort()
    sa, sb = session(a, "B"), session(b, "A")
    hello_a = sa.start()[0]
    assert sa.receive(m.decode(m.encode(sb.start()[0]))) == []  # nothing saved in the hello
    sb.receive(m.decode(m.encode(hello_a)))
    assert sa.whole_pending and not sa.in_sync
    edit(a.docs["pipeline"], r1={"title": "late"})
    assert sa.local_change(["pipeline"]) == []  # queued: goes whole, with the edit
    sent = []
    while sa.whole_pending:
        out = sa.next_whole()
        assert len(out) == 1 and isinstance(out[0], m.Saved)
        sent.append(out[0].doc_id)
        sb.receive(m.decode(m.encode(out[0])))
    assert sent == ["contacts", "pipeline", "doc:1"]
    assert sa.next_whole() == []
    assert read(b, "pipeline", "r1") == {"title": "late"}


class RefusingPort(FakePort):
    """Refuses every change to ``pipeline``, as the policy does for a removed member's."""

    def receive(self, doc_id: str, state: Any, data: bytes, sigs: Proofs) -> set[bytes]:
        if doc_id == "pipeline" and payloads.inspect_sync(data).changes:
            raise RefusedChanges("refused change to pipeline: change by x, who is not a member")
        return super().receive(doc_id, state, data, sigs)


def test_refused_changes_block_that_document_only() -> None:
    base = {"pipeline": collection("pipeline"), "contacts": collection("contacts")}
    pa = FakePort({d: doc.fork() for d, doc in base.items()})
    pb = RefusingPort({d: doc.fork() for d, doc in base.items()})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    edit(pa.docs["pipeline"], r1={"title": "from a removed member"})
    edit(pa.docs["contacts"], c1={"name": "Eli"})
    pump([(sa, x) for x in sa.local_change(["pipeline", "contacts"])], links)
    assert read(pb, "contacts", "c1") == {"name": "Eli"}
    assert read(pb, "pipeline", "r1") is None
    assert list(sb.blocked) == ["pipeline"] and "not a member" in sb.blocked["pipeline"]
    assert sb.state is State.OPEN and sb.in_sync  # nothing more can be exchanged


class SplitPort(FakePort):
    """Refuses ``pipeline`` changes that come by sync message (as when a Bloom filter false
    positive leaves out the change whose proof covers the rest), accepts the whole document."""

    refusals = 0

    def receive(self, doc_id: str, state: Any, data: bytes, sigs: Proofs) -> set[bytes]:
        if doc_id == "pipeline" and payloads.inspect_sync(data).changes:
            self.refusals += 1
            raise RefusedChanges("refused change to pipeline: change 1 is not signed by its "
                                 "author")
        return super().receive(doc_id, state, data, sigs)


def refused_pair(signing_peer: bool = True,
                 ) -> tuple[FakePort, SplitPort, Session, Session, dict[int, Session]]:
    """A and B settled, then B refused A's change r1 by sync message (pipeline blocked);
    ``signing_peer=False``: A's hello did not list signatures (an older release)."""
    base = collection("pipeline")
    pa, pb = FakePort({"pipeline": base.fork()}), SplitPort({"pipeline": base.fork()})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    sb.peer_sigs = signing_peer
    edit(pa.docs["pipeline"], r1={"title": "relayed"})
    pump([(sa, x) for x in sa.local_change(["pipeline"])], links)
    assert "pipeline" in sb.blocked and read(pb, "pipeline", "r1") is None
    return pa, pb, sa, sb, links


def test_a_refused_document_is_sent_whole_once_more_and_then_settles() -> None:
    """What the link does on the peer's Held: the document goes whole at the next step, not
    by a sync message meanwhile, and the peer stops refusing once it has judged it all."""
    pa, pb, sa, sb, links = refused_pair()
    sa.resend_whole("pipeline")
    assert sa.whole_pending and not sa.in_sync
    assert sa.local_change(["pipeline"]) == []  # no sync message while it is queued
    seen = pump([], links)
    assert [type(x).__name__ for x in seen][:1] == ["Saved"]
    assert read(pb, "pipeline", "r1") == {"title": "relayed"} and not sb.blocked
    assert not sa.whole_pending and sa.in_sync and sb.in_sync
    sa.resend_whole("pipeline")  # a Held again, nothing changed since: not sent again
    assert not sa.whole_pending and pump([], links) == []


def test_a_refused_document_is_not_looked_at_again_until_asked_for() -> None:
    """Each refusal drops the document from memory (a reload for the next message): a peer
    repeating refused changes is ignored until this side asks again (its retry)."""
    pa, pb, sa, sb, links = refused_pair()
    tried = pb.refusals
    edit(pa.docs["pipeline"], r2={"title": "again"})
    sa.restart_sync(["pipeline"])  # the sender offers everything once more
    pump([(sa, x) for x in sa.local_change(["pipeline"])], links)
    assert pb.refusals == tried  # ignored, nothing reloaded
    sb.restart_sync(["pipeline"])  # our retry (the link tells the peer with a Held, on which
    sa.restart_sync(["pipeline"])  # it starts afresh): its answer is judged, refused again here
    pump([(sb, x) for x in sb.local_change(["pipeline"])], links)
    assert pb.refusals > tried and "pipeline" in sb.blocked


def test_an_older_peer_without_signatures_is_told_to_upgrade() -> None:
    _, _, _, sb, _ = refused_pair(signing_peer=False)
    assert "older Bullpen" in sb.blocked["pipeline"]


Hop = tuple[Session, dict[int, Session]]  # a session and the links to deliver its messages


def line_of_three() -> tuple[Document, tuple[FakePort, FakePort, FakePort], Hop, Hop]:
    """A - B - C holding the same pipeline (returned), settled, then A records r9: the ports,
    and A's session to B and B's to C with their links."""
    doc = collection("pipeline")
    pa, pb, pc = (FakePort({"pipeline": doc.fork()}) for _ in range(3))
    a_b, b_a = session(pa, "B"), session(pb, "A")
    b_c, c_b = session(pb, "C"), session(pc, "B")
    wire1, links1 = connect(a_b, b_a)
    wire2, links2 = connect(b_c, c_b)
    pump(wire1, links1)
    pump(wire2, links2)
    edit(pa.docs["pipeline"], r9={"title": "new"})
    return doc, (pa, pb, pc), (a_b, links1), (b_c, links2)


def test_local_change_is_sent_at_once_and_relayed_down_a_line() -> None:
    doc, (pa, pb, pc), (a_b, links1), (b_c, links2) = line_of_three()
    out = a_b.local_change(["pipeline"])
    assert [type(x).__name__ for x in out] == ["Sync"]
    wire1 = [(a_b, x) for x in out]
    pump(wire1, links1)
    assert read(pb, "pipeline", "r9") == {"title": "new"}
    # B's node announces the received change to its other sessions: the relay.
    wire2 = [(b_c, x) for x in b_c.local_change(["pipeline"])]
    pump(wire2, links2)
    assert read(pc, "pipeline", "r9") == {"title": "new"}
    assert pc.all_heads() == pa.all_heads()


def test_signatures_travel_before_the_changes_they_prove_and_are_relayed() -> None:
    """The session sends the port's signatures of exactly the changes a Sync message carries
    (a Sigs message first), and of a whole document; the receiving port gets them with the
    changes, keeps what it applied, and so can pass them on down a line."""
    doc, (pa, pb, pc), (a_b, links1), (b_c, links2) = line_of_three()
    (change,) = pa.docs["pipeline"].get_changes(doc.get_heads())
    proof = {(change.hash, b"k" * 32): b"s" * 64}
    pa.sigs.update(proof)
    pa.sigs[(b"h" * 32, b"k" * 32)] = b"x" * 64  # a change the message does not carry
    seen = pump([(a_b, x) for x in a_b.local_change(["pipeline"])], links1)
    sigs = [(i, x) for i, x in enumerate(seen) if isinstance(x, m.Sigs)]
    assert [x.sigs for _, x in sigs] == [proof]
    carrier = seen[sigs[0][0] + 1]
    assert isinstance(carrier, m.Sync) and payloads.inspect_sync(carrier.data).changes == 1
    assert proof in pb.offered and pb.sigs == proof
    pump([(b_c, x) for x in b_c.local_change(["pipeline"])], links2)
    assert proof in pc.offered and read(pc, "pipeline", "r9")
    # a document the peer lacks goes whole, after the signatures that prove it
    pa.docs["doc:1"] = collection("doc:1", r1={"title": "t"})
    (made,) = pa.docs["doc:1"].get_changes(rec.genesis("doc:1").get_heads())
    pa.sigs[(made.hash, b"k" * 32)] = b"w" * 64
    out = a_b.local_change(["doc:1"])
    assert [type(x).__name__ for x in out] == ["Sigs", "Saved"]
    pump([(a_b, x) for x in out], links1)
    assert {(made.hash, b"k" * 32): b"w" * 64} in pb.offered


def test_a_whole_document_with_more_writers_than_one_sigs_message_holds_is_sent() -> None:
    pa, pb = FakePort({"pipeline": collection("pipeline")}), FakePort(
        {"pipeline": collection("pipeline")})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    many = {(i.to_bytes(32, "big"), b"k" * 32): b"s" * 64 for i in range(m.MAX_SIGS + 5)}
    pa.whole_signatures = lambda doc_id: many  # type: ignore[method-assign]
    edit(pa.docs["pipeline"], r1={"title": "x"})
    sa.resend_whole("pipeline")
    out = sa.next_whole()
    assert [type(x).__name__ for x in out] == ["Sigs", "Sigs", "Saved"]
    assert [len(x.sigs) for x in out[:2]] == [m.MAX_SIGS, 5]
    for msg in out:
        sb.receive(m.decode(m.encode(msg)))  # each within the receiver's limits
    assert {(*k, v) for k, v in pb.offered[-1].items()} == {(*k, v) for k, v in many.items()}


def test_signatures_ahead_of_their_changes_are_bounded() -> None:
    pa, pb = FakePort({"pipeline": collection("pipeline")}), FakePort(
        {"pipeline": collection("pipeline")})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    from bullpen.sync.session import MAX_PENDING_SIGS

    def flood(start: int, count: int) -> m.Sigs:
        return m.Sigs("pipeline", {(i.to_bytes(32, "big"), b"k" * 32): b"s" * 64
                                   for i in range(start, start + count)})

    too_big = m.encode(flood(0, m.MAX_SIGS + 1))
    with pytest.raises(m.ProtocolError, match="at most"):  # refused before it is built
        m.decode(too_big)
    step = m.MAX_SIGS
    sent = 0
    with pytest.raises(m.ProtocolError, match="too many signatures"):
        while sent <= MAX_PENDING_SIGS:
            sb.receive(m.decode(m.encode(flood(sent, step))))
            sent += step
    assert sent <= MAX_PENDING_SIGS  # the one that went over was refused


def test_new_local_document_is_sent_saved() -> None:
    pa, pb = FakePort({"pipeline": collection("pipeline")}), FakePort(
        {"pipeline": collection("pipeline")})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    pa.docs["doc:1"] = collection("doc:1", r1={"title": "t"})
    out = sa.local_change(["doc:1"])
    assert [type(x).__name__ for x in out] == ["Saved"]
    pump([(sa, x) for x in out], links)
    assert read(pb, "doc:1", "r1") == {"title": "t"}


def test_other_workspace_is_refused() -> None:
    sa, sb = session(FakePort(), "B", "ws1"), session(FakePort(), "A", "ws2")
    sb.start()
    with pytest.raises(Refused, match="another workspace"):
        sb.receive(sa.start()[0])


def test_policy_hooks_filter_documents() -> None:
    class NoContacts(Policy):
        def docs_visible_to(self, peer_id, doc_ids):
            return {d for d in doc_ids if d != "contacts"}

    a = FakePort({"pipeline": collection("pipeline"), "contacts": collection("contacts")})
    sa = session(a, "B", policy=NoContacts())
    hello = sa.start()[0]
    assert isinstance(hello, m.Hello) and set(hello.docs) == {"pipeline"}
    sa.receive(m.Hello("ws", {}))
    assert ("saved", "contacts") not in a.calls
    with pytest.raises(ProtocolError, match="not shared"):
        sa.receive(m.Sync("contacts", b"\x42"))
    # a peer's Held (what the link hands to resend_whole) cannot fetch a hidden document
    while sa.next_whole():
        pass
    sa.resend_whole("contacts")
    assert not sa.whole_pending and sa.next_whole() == []
    assert ("saved", "contacts") not in a.calls

    class Nobody(Policy):
        def is_allowed(self, peer_id):
            return False

    sn = session(FakePort(), "B", policy=Nobody())
    with pytest.raises(Refused):
        sn.start()  # a non-member gets nothing, not even our hello

    class Removed(Policy):
        member = True

        def is_allowed(self, peer_id):
            return self.member

    removed = Removed()
    sr = session(FakePort(), "B", policy=removed)
    sr.start()
    removed.member = False
    with pytest.raises(Refused):
        sr.receive(m.Hello("ws", {}))


def test_messages_before_hello_and_second_hello_are_violations() -> None:
    s = session(FakePort(), "B")
    s.start()
    with pytest.raises(ProtocolError, match="before hello"):
        s.receive(m.Sync("pipeline", b"\x42"))
    s.receive(m.Hello("ws", {}))
    with pytest.raises(ProtocolError, match="unexpected hello"):
        s.receive(m.Hello("ws", {}))


def test_bad_sync_message_changes_nothing() -> None:
    doc = collection("pipeline", r1={"title": "x"})
    port = FakePort({"pipeline": doc})
    s = session(port, "B")
    s.start()
    s.receive(m.Hello("ws", {"pipeline": [h.hex() for h in doc.get_heads()]}))
    before = port.all_heads()
    for data in (b"\x42" + b"\x00" * 3 + b"\x01\x05junk!", b"\x43garbage", b"\x07"):
        with pytest.raises(ProtocolError):
            s.receive(m.Sync("pipeline", data))
    assert port.all_heads() == before
    assert ("receive", "pipeline") not in port.calls


def test_error_message_closes() -> None:
    s = session(FakePort(), "B")
    s.start()
    with pytest.raises(PeerClosed, match="bye"):
        s.receive(m.Error("bye"))
    assert s.state is State.CLOSED


def _blob_pair(size: int) -> tuple[FakePort, FakePort, Session, Session, str]:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    sha = hashlib.sha256(data).hexdigest()
    a, b = FakePort(), FakePort()
    a.blobs[sha] = data
    a.referenced = b.referenced = {sha}
    sa, sb = session(a, "B"), session(b, "A")
    return a, b, sa, sb, sha


def test_missing_blob_is_fetched_in_chunks() -> None:
    a, b, sa, sb, sha = _blob_pair(m.BLOB_CHUNK * 2 + 10)
    wire, links = connect(sa, sb)
    seen = pump(wire, links)
    chunks = [x for x in seen if isinstance(x, m.BlobData)]
    assert len(chunks) == 3 and all(len(c.data) <= m.BLOB_CHUNK for c in chunks)
    assert b.blobs[sha] == a.blobs[sha]
    assert not b.claims and sb.in_sync
    # streamed: the receiver wrote each chunk as it came, then committed once
    assert [c for c in b.calls if c[0] in ("write_chunk", "put_blob")] == [
        ("write_chunk", m.BLOB_CHUNK), ("write_chunk", m.BLOB_CHUNK), ("write_chunk", 10),
        ("put_blob", sha)]


def test_a_served_blob_is_read_one_chunk_per_step() -> None:
    a, _, sa, _, sha = _blob_pair(m.BLOB_CHUNK * 3)
    sa.start()
    sa.receive(m.Hello("ws", {}))
    assert sa.receive(m.BlobWant(sha)) == [] and sa.whole_pending
    assert not sa.in_sync  # a file still being sent: not idle
    assert a.calls.count(("read_chunk", sha)) == 0
    for step in range(1, 4):
        (piece,) = sa.next_whole()
        assert piece.offset == (step - 1) * m.BLOB_CHUNK
        assert a.calls.count(("read_chunk", sha)) == step
    assert sa.next_whole() == [] and not sa.whole_pending


def test_a_blob_cut_short_leaves_nothing() -> None:
    _, b, _, sb, sha = _blob_pair(m.BLOB_CHUNK + 5)
    sb.start()
    sb.receive(m.Hello("ws", {}))
    sb.receive(m.BlobData(sha, 0, m.BLOB_CHUNK + 5, b"x" * 100))
    with pytest.raises(ProtocolError, match="out of order"):
        sb.receive(m.BlobData(sha, 50, m.BLOB_CHUNK + 5, b"x"))
    sb.close()
    assert ("abort", sha) in b.calls and not b.claims and sha not in b.blobs


def test_blob_claim_prevents_asking_two_peers() -> None:
    _, b, _, sb, sha = _blob_pair(10)
    other = session(b, "C")
    for s in (sb, other):
        s.start()
    first = sb.receive(m.Hello("ws", {}))
    second = other.receive(m.Hello("ws", {}))
    assert m.BlobWant(sha) in first and m.BlobWant(sha) not in second
    sb.close()  # that peer went away: the claim is released for the next one
    assert other.want_blobs() == [m.BlobWant(sha)]


def test_blob_with_wrong_bytes_or_unrequested_is_a_violation() -> None:
    _, b, _, sb, sha = _blob_pair(10)
    sb.start()
    sb.receive(m.Hello("ws", {}))
    with pytest.raises(ProtocolError, match="content hash"):
        sb.receive(m.BlobData(sha, 0, 3, b"bad"))
    assert sha not in b.blobs
    with pytest.raises(ProtocolError, match="not requested"):
        sb.receive(m.BlobData("0" * 64, 0, 1, b"x"))


def test_missing_blob_reply_releases_claim() -> None:
    a, b, sa, sb, sha = _blob_pair(10)
    a.blobs.clear()
    wire, links = connect(sa, sb)
    seen = pump(wire, links)
    assert m.BlobMissing(sha) in seen
    assert not b.claims and sha not in b.blobs
    # not asked of this peer again (the link asks the others at once) until the timed retry
    assert sb.want_blobs() == []
    sb.blobs.ask_again()
    assert sb.want_blobs() == [m.BlobWant(sha)]



def test_changes_received_from_the_peer_are_never_sent_back_to_it() -> None:
    """Automerge relays a change back to the peer it came from when the peer's last Bloom
    filter predates it (seen in a 5-peer star: spokes echoed the hub's relays); the session
    strips changes the peer sent us from every message to it."""
    from bullpen.crdt.changes import changes_message

    class Echoing(FakePort):
        echo = False

        def generate(self, doc_id: str, state: Any) -> bytes | None:
            if not self.echo:
                return super().generate(doc_id, state)
            return changes_message(c.bytes for c in self.docs[doc_id].get_changes([]))

    base = collection("pipeline")
    hub, spoke = FakePort({"pipeline": base.fork()}), Echoing({"pipeline": base.fork()})
    h, s = session(hub, "S"), session(spoke, "H")
    wire, links = connect(h, s)
    pump(wire, links)
    edit(hub.docs["pipeline"], r1={"title": "from the hub"})
    relayed = {c.hash for c in hub.docs["pipeline"].get_changes(base.get_heads())}
    pump([(h, x) for x in h.local_change(["pipeline"])], links)
    assert read(spoke, "pipeline", "r1") == {"title": "from the hub"}
    edit(spoke.docs["pipeline"], r2={"title": "own"})
    own = {c.hash for c in spoke.docs["pipeline"].get_changes(hub.docs["pipeline"].get_heads())}
    spoke.echo = True
    (out,) = s.local_change(["pipeline"])
    sent = {x.hash for x in payloads.inspect_sync(out.data).headers or []}
    assert own <= sent and not relayed & sent


class RoleCheckingPort(FakePort):
    """Refuses ``admin`` changes while its index lacks the promotion entry, as the policy
    refuses a quota written by a member not yet known here as a manager."""

    promotion = b""
    refusals = 0

    def _judge(self, doc_id: str) -> None:
        if doc_id == "admin" and self.lacks("index", [self.promotion]):
            self.refusals += 1
            raise RefusedChanges("refused change to admin: only a manager may set quotas")

    def receive(self, doc_id: str, state: Any, data: bytes, sigs: Proofs) -> set[bytes]:
        if payloads.inspect_sync(data).changes:
            self._judge(doc_id)
        return super().receive(doc_id, state, data, sigs)

    def merge_saved(self, doc_id: str, data: bytes, sigs: Proofs) -> list[bytes]:
        self._judge(doc_id)
        return super().merge_saved(doc_id, data, sigs)


def promoted_pair() -> tuple[FakePort, RoleCheckingPort]:
    """A holds a promotion (index) and the promoted manager's quota (admin); B, back from
    downtime, holds neither."""
    base = {"index": collection("index"), "admin": collection("admin")}
    pa = FakePort({d: doc.fork() for d, doc in base.items()})
    pb = RoleCheckingPort({d: doc.fork() for d, doc in base.items()})
    edit(pa.docs["index"], m1={"role": "manager"})
    pb.promotion = pa.docs["index"].get_heads()[0]
    edit(pa.docs["admin"], q1={"amount": 300000})
    return pa, pb


def test_a_write_the_peers_index_allows_waits_for_the_index_instead_of_being_refused(
) -> None:
    """Issue 12: the promoted manager's quota reaches a returning teammate before the
    promotion does (sync answers go in document order, admin before index); it is held back
    until the index catches up, never refused."""
    pa, pb = promoted_pair()
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    assert read(pb, "admin", "q1") == {"amount": 300000}
    assert pb.refusals == 0 and sb.blocked == {} and sa.blocked == {}
    assert sb.in_sync and not sb.parking.waiting


def test_without_waiting_the_same_exchange_refuses_the_quota(monkeypatch) -> None:
    """The test above can fail: with no room to hold messages back, the quota is judged
    before the promotion arrives, and refused."""
    monkeypatch.setattr("bullpen.sync.parking.MAX_PARKED_BYTES", 0)
    pa, pb = promoted_pair()
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    assert pb.refusals >= 1 and "only a manager" in sb.blocked["admin"]


def test_the_index_goes_first_in_a_live_exchange() -> None:
    """Settled peers: A's promotion and quota are offered index first, so the quota is
    judged with the promotion already in, whatever order they were written in."""
    base = {"index": collection("index"), "admin": collection("admin")}
    pa = FakePort({d: doc.fork() for d, doc in base.items()})
    pb = RoleCheckingPort({d: doc.fork() for d, doc in base.items()})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    edit(pa.docs["index"], m1={"role": "manager"})
    pb.promotion = pa.docs["index"].get_heads()[0]
    edit(pa.docs["admin"], q1={"amount": 300000})
    out = sa.local_change(["admin", "index"])
    assert [x.doc_id for x in out if isinstance(x, m.Sync)][0] == "index"
    pump([(sa, x) for x in out], links)
    assert read(pb, "admin", "q1") == {"amount": 300000} and pb.refusals == 0


def test_messages_held_back_are_judged_once_the_peers_index_is_refused() -> None:
    """The index itself refused from this peer cannot catch up from it: what waited is
    handled at once and judged as always (refused here, and reported), not held for ever."""
    pa, pb = promoted_pair()

    class IndexRefusing(RoleCheckingPort):
        def receive(self, doc_id: str, state: Any, data: bytes, sigs: Proofs) -> set[bytes]:
            if doc_id == "index" and payloads.inspect_sync(data).changes:
                raise RefusedChanges("refused change to index: a rep may not promote")
            return super().receive(doc_id, state, data, sigs)

    pc = IndexRefusing(pb.docs)
    pc.promotion = pb.promotion
    sa, sc = session(pa, "C"), session(pc, "A")
    wire, links = connect(sa, sc)
    pump(wire, links)
    assert set(sc.blocked) == {"index", "admin"} and not sc.parking.waiting
    assert read(pc, "admin", "q1") is None


def test_a_peer_announcing_index_heads_it_never_sends_only_delays_its_own_messages(
        monkeypatch) -> None:
    """Hostile: a member's hello names an index head that does not exist. Its messages for
    other documents wait (in order, bounded), the session does not count as in sync (so the
    delay shows in status), and once more than the bound waits they are judged at once."""
    base = {"index": collection("index"), "pipeline": collection("pipeline")}
    pa = FakePort({d: doc.fork() for d, doc in base.items()})
    pb = FakePort({d: doc.fork() for d, doc in base.items()})
    edit(pa.docs["pipeline"], r1={"title": "Renewal"})
    sa, sb = session(pa, "B"), session(pb, "A")
    hello_a, hello_b = sa.start()[0], sb.start()[0]
    hello_a.docs["index"] = [*hello_a.docs["index"], "ab" * 32]  # a head nobody holds
    honest = sa.receive
    monkeypatch.setattr(sa, "receive", lambda msg: [  # and it never syncs its index
        x for x in honest(msg) if getattr(x, "doc_id", "") != "index"])
    links = {id(sa): sb, id(sb): sa}
    pump([(sa, hello_a), (sb, hello_b)], links)
    assert read(pb, "pipeline", "r1") is None and sb.parking.waiting and not sb.in_sync
    monkeypatch.setattr("bullpen.sync.parking.MAX_PARKED_BYTES", 0)  # over the bound now
    pump([(sb, x) for x in sb.local_change(["pipeline"])], links)
    assert read(pb, "pipeline", "r1") == {"title": "Renewal"} and not sb.parking.waiting


def test_a_peers_change_dropped_when_released_blocks_the_document_with_it() -> None:
    """A change this peer sent, which automerge held back and a later message released, was
    refused then and dropped (WorkspaceDocs' _Released): the peer counts it as sent and would
    never send it again, so the two would exchange heads for ever. The session blocks the
    document with that peer instead (reported, asked again like any refusal)."""
    base = collection("pipeline")
    pa, pb = FakePort({"pipeline": base.fork()}), FakePort({"pipeline": base.fork()})
    sa, sb = session(pa, "B"), session(pb, "A")
    wire, links = connect(sa, sb)
    pump(wire, links)
    edit(pa.docs["pipeline"], r1={"title": "parked"})
    pump([(sa, x) for x in sa.local_change(["pipeline"])], links)
    (parked,) = pa.docs["pipeline"].get_heads()
    reason = "refused change to pipeline: change by x, who is not a member"
    pb.dropped = lambda doc_id: {parked: reason} if doc_id == "pipeline" else {}
    edit(pa.docs["pipeline"], r2={"title": "next"})
    pump([(sa, x) for x in sa.local_change(["pipeline"])], links)
    assert sb.blocked == {"pipeline": reason}
    assert read(pb, "pipeline", "r2") == {"title": "next"}  # the message itself was accepted
