"""The document port of the sync node: received sync messages are judged change by change from
their headers, applied to the live document without a fork, and leave no trace when refused."""

from __future__ import annotations

import pytest
from automerge.core import Document, SyncState
from helpers import opp_fields

from bullpen.app.members.access import AccessPolicy
from bullpen.app.network.sync_docs import WorkspaceDocs
from bullpen.app.workspace import Workspace
from bullpen.crdt.changes import changes_message, parse_change
from bullpen.sync.messages import ProtocolError
from bullpen.sync.payloads import inspect_sync


def _state(ws: Workspace, doc_id: str) -> tuple[str, list[tuple[int, bytes]]]:
    return ws.heads_hex(doc_id), ws.store.load(doc_id).changes


def _changes(author: Workspace, write) -> list[bytes]:
    before = author.doc("pipeline").get_heads()
    write()
    return [c.bytes for c in author.doc("pipeline").get_changes(before)]


def _sigs(authors: list[Workspace], chunks: list[bytes]) -> dict:
    """The authors' signatures of these changes, as their sync node would send them."""
    hashes = [parse_change(b).hash for b in chunks]
    out: dict = {}
    for author in authors:
        out.update(author.store.sigs_for(hashes))
    return out


def test_parse_change_reads_what_automerge_reports(ws):
    ws.add("opportunity", opp_fields())
    ws.add_many("opportunity", [opp_fields(title=f"T{i}", notes="x" * 300) for i in range(30)])
    changes = ws.doc("pipeline").get_changes([])
    assert {c.bytes[8] for c in changes} == {1, 2}  # plain and compressed chunks
    for c in changes:
        h = parse_change(c.bytes)
        assert (h.actor_id, h.seq, h.deps, h.hash) == (c.actor_id, c.seq, list(c.deps), c.hash)
    info = inspect_sync(changes_message([c.bytes for c in changes]))
    assert [h.hash for h in info.headers] == [c.hash for c in changes]


def test_member_change_applies_without_fork_and_persists(ws, join_ws, monkeypatch):
    rep = join_ws(ws, "Eli")
    made = _changes(rep, lambda: rep.add("opportunity", opp_fields(title="R")))
    data = changes_message(made)
    docs = WorkspaceDocs(ws, AccessPolicy(ws))
    ws.doc("pipeline")

    def no_fork(self):  # the fast path must not copy the document
        raise AssertionError("forked")

    monkeypatch.setattr(Document, "fork", no_fork, raising=False)
    docs.receive("pipeline", SyncState(), data, _sigs([rep], made))
    monkeypatch.undo()
    assert [o["title"] for o in ws.list("opportunity")] == ["R"]
    assert ws.heads_hex("pipeline") == rep.heads_hex("pipeline")
    # durable: a fresh open of the store sees it
    stored = ws.store.load("pipeline").changes
    assert any(parse_change(b).actor_id == rep.actor for _, b in stored)


def test_refused_author_refuses_whole_message_and_leaves_no_trace(ws, join_ws, tmp_path):
    rep = join_ws(ws, "Eli")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    try:
        ws.add_member(guest.peer_id, "guest", "Carl")
        guest.merge_saved("index", ws.doc("index").save())
        guest.merge_saved("pipeline", rep.doc("pipeline").save())  # smuggled copy
        good = _changes(rep, lambda: rep.add("opportunity", opp_fields(title="ok")))
        guest.merge_saved("pipeline", rep.doc("pipeline").save())
        bad = _changes(guest, lambda: guest.add("opportunity", opp_fields(title="guest")))
        docs = WorkspaceDocs(ws, AccessPolicy(ws))
        before = _state(ws, "pipeline")
        with pytest.raises(ProtocolError, match="guest"):
            docs.receive("pipeline", SyncState(), changes_message(good + bad),
                         _sigs([rep, guest], good + bad))
        assert _state(ws, "pipeline") == before
        assert ws.list("opportunity") == []
        ws.remove_member("Eli")
        with pytest.raises(ProtocolError, match="not a member"):
            docs.receive("pipeline", SyncState(), changes_message(good), _sigs([rep], good))
        assert _state(ws, "pipeline") == before
    finally:
        guest.close()


def test_changes_already_held_are_not_judged_again(ws, join_ws):
    """A relayed message may repeat changes we hold, such as a since-removed member's: only
    the changes new to the document are judged (as with the fork before)."""
    rep = join_ws(ws, "Eli")
    old = _changes(rep, lambda: rep.add("opportunity", opp_fields(title="old")))
    docs = WorkspaceDocs(ws, AccessPolicy(ws))
    docs.receive("pipeline", SyncState(), changes_message(old), _sigs([rep], old))
    ws.remove_member("Eli")
    mine = _changes(ws, lambda: ws.add("opportunity", opp_fields(title="mine")))
    other = join_ws(ws, "Fay")
    docs_fay = WorkspaceDocs(other, AccessPolicy(other))
    other.doc("pipeline")
    docs_fay.receive("pipeline", SyncState(), changes_message(old + mine),
                     _sigs([rep, ws], old + mine))  # old: held
    assert {o["title"] for o in other.list("opportunity")} == {"old", "mine"}


def test_failed_apply_drops_the_in_memory_copy(ws):
    ws.add("opportunity", opp_fields(title="kept"))
    before = ws.heads_hex("pipeline")

    def half_applied(doc: Document) -> None:
        with doc.transaction() as tx:  # stands for whatever automerge applied before failing
            from bullpen.crdt import records as rec

            rec.write_record(tx, rec.container(tx, rec.RECORDS), "x" * 16, {"title": "ghost"})
        raise RuntimeError("automerge rejected the rest")

    with pytest.raises(RuntimeError):
        ws.apply_remote("pipeline", half_applied)
    assert ws.heads_hex("pipeline") == before
    assert [o["title"] for o in ws.list("opportunity")] == ["kept"]


def test_text_documents_beyond_the_lru_are_unloaded_and_reload_intact(ws, join_ws):
    from bullpen.app.workspace import MAX_LOADED_TEXTS

    ids = [ws.new_document(f"Doc {i}", f"body {i}") for i in range(MAX_LOADED_TEXTS + 3)]
    mate = join_ws(ws, "Ravi")
    port = WorkspaceDocs(mate, AccessPolicy(mate))
    texts = [d for d in mate.doc_ids() if d.startswith("doc:")]
    assert len(texts) == len(ids)
    heads = {d: sorted(mate.doc(d).get_heads()) for d in texts}
    loaded = [d for d in mate.docs if d.startswith("doc:")]
    assert len(loaded) <= MAX_LOADED_TEXTS
    # Heads of unloaded documents come without loading them.
    assert {d: sorted(h) for d, h in port.all_heads().items() if d in heads} == heads
    assert len([d for d in mate.docs if d.startswith("doc:")]) <= MAX_LOADED_TEXTS
    # An unloaded document reloads with everything; edits to it are kept.
    first = next(d for d in texts if d not in mate.docs)
    rid = first[4:]
    body = f"body {ids.index(rid)}"
    assert sorted(mate.heads(first)) == heads[first]
    assert first not in mate.docs
    assert body in mate.document(rid)["text"]
    assert first in mate.docs
    mate.edit_document(rid, text=body + " edited")
    mate.unload(first)
    assert first not in mate.docs
    assert body + " edited" in mate.document(rid)["text"]
