"""Signed authorship: nobody can write under a teammate's name (issue 13).

An automerge change names its author by its actor id, which a modified client picks freely.
Every change must be proven its author's by the author's signature (app/members/authorship.py); a
change that is not is refused by both receiving paths, whoever relays it, and nothing the
victim sees changes. Honest changes keep flowing when relayed, whole or by sync messages.
"""

from __future__ import annotations

import os

import pytest
from helpers import opp_fields
from hostile import deliver, forge, put_record, put_setting, views
from replicas import exchange, give

from bullpen.app.members import authorship, old_changes
from bullpen.app.members.authorship import Signature
from bullpen.app.sales import use_cases as sales
from bullpen.app.workspace import Workspace
from bullpen.crdt.schema import ADMIN_DOC


def eli_quota(office) -> tuple[str, str]:
    """The path of Eli's real quota (keyed by name, as the forecast groups deals), which the
    attacks overwrite."""
    return ("quotas", "Eli|2026-Q4")


@pytest.fixture
def office(ws, join_ws, tmp_path):
    """Dana (manager) with a quota set, Eli and Fay (reps), Carl (guest of a deal room) and
    a stranger, each holding what its role receives."""
    eli, fay = join_ws(ws, "Eli", "rep"), join_ws(ws, "Fay", "rep")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    stranger = Workspace.create_joining(tmp_path / "sam", "Sam", ws.workspace_id)
    ws.add_member(guest.peer_id, "guest", "Carl")
    room = ws.add("space", {"title": "Initech room", "guests": [guest.peer_id]})
    sales.set_quota(ws, "Eli", "2026-Q4", 100000)
    ws.add("opportunity", opp_fields(account="Initech", amount=40000))
    for rep in (eli, fay):
        exchange(ws, rep)
    give(ws, guest)
    give(ws, stranger)
    yield {"manager": ws, "eli": eli, "fay": fay, "guest": guest, "stranger": stranger,
           "room": room}
    guest.close()
    stranger.close()


def refused_by_all(attacker: Workspace, victims: list[Workspace], doc_id: str) -> None:
    for victim in victims:
        seen, heads = views(victim), victim.heads(doc_id)
        for whole in (False, True):
            reason = deliver(attacker, victim, doc_id, whole=whole)
            assert reason.startswith(f"refused change to {doc_id}"), reason
            assert "not signed by its author" in reason or "not a member" in reason, reason
            assert views(victim) == seen and victim.heads(doc_id) == heads


def manager_actor(manager: Workspace) -> bytes:
    return manager.actor[:32] + os.urandom(4)


@pytest.mark.parametrize("who", ["eli", "guest", "stranger"])
def test_nobody_writes_a_quota_under_the_managers_key(office, who):
    attacker, manager = office[who], office["manager"]
    assert list(sales.quotas(manager).values()) == [100000.0]
    forge(attacker, ADMIN_DOC, lambda tx: put_setting(tx, eli_quota(office), 1.0),
          actor=manager_actor(manager), sigs=lambda _: [])
    assert list(sales.quotas(attacker).values()) == [1.0]  # the forgery, in its own copy
    refused_by_all(attacker, [manager, office["fay"]], ADMIN_DOC)
    assert list(sales.quotas(manager).values()) == [100000.0]


@pytest.mark.parametrize("who", ["eli", "guest", "stranger"])
def test_a_copied_signature_proves_nothing(office, who):
    """A rep, a guest (in the deal room it holds) and a stranger each forge a change under
    the manager's own session actor, right after the manager's last signed change there, and
    offer the manager's genuine signatures (of other changes)."""
    from bullpen.crdt import records as rec

    attacker, manager = office[who], office["manager"]
    doc_id = f"space:{office['room']}" if who == "guest" else ADMIN_DOC
    if who == "guest":
        forge(manager, doc_id, lambda tx: rec.mark_touched(tx, []))  # a signed manager change
        give(manager, attacker)
    genuine = manager.store.newest_sigs(doc_id)
    assert genuine, "the manager's last change there is signed"
    copied = next(iter(genuine.values()))

    def offer(changes):
        return [Signature(doc_id, c.hash, c.actor_id, c.seq, manager.identity.public, copied)
                for c in changes]

    if who == "stranger":
        attacker.merge_saved(doc_id, manager.doc(doc_id).save())
    write = ((lambda tx: rec.mark_touched(tx, [])) if who == "guest"
             else (lambda tx: put_setting(tx, eli_quota(office), 1.0)))
    new = forge(attacker, doc_id, write, actor=manager.actor, sigs=offer)
    assert new[0].actor_id == manager.actor and new[0].seq > 1
    refused_by_all(attacker, [manager, office["fay"]], doc_id)


def test_a_rep_cannot_pass_its_deal_off_as_a_teammates(office):
    """Authorship matters beyond roles: a rep writes a deal as if Fay made it."""
    eli, fay = office["eli"], office["fay"]
    forge(eli, "pipeline", lambda tx: put_record(tx, "f" * 32, {
        "kind": "opportunity", "title": "Fake", "account": "X", "amount": 9e6,
        "owner": fay.peer_id}), actor=fay.actor[:32] + b"\0\0\0\1", sigs=lambda _: [])
    refused_by_all(eli, [office["manager"], fay], "pipeline")


def test_signed_own_changes_are_accepted_and_relayed_with_their_proof(office):
    """The honest path: the manager's signed quota reaches Fay through Eli, by sync messages
    and as a whole document, and Eli's store keeps the proof to pass on."""
    manager, eli, fay = office["manager"], office["eli"], office["fay"]
    sales.set_quota(manager, "Fay", "2026-Q4", 70000)
    assert deliver(manager, eli, ADMIN_DOC) == ""
    newest = manager.store.newest_sigs(ADMIN_DOC)
    assert eli.store.sigs_for(h for h, _ in newest) == newest
    assert deliver(eli, fay, ADMIN_DOC) == ""
    assert set(sales.quotas(fay).values()) == {100000.0, 70000.0}
    late = Workspace.create_joining(fay.home.parent / "gus", "Gus", manager.workspace_id)
    try:
        manager.add_member(late.peer_id, "rep", "Gus")
        late.merge_saved("index", manager.doc("index").save())
        assert deliver(fay, late, ADMIN_DOC, whole=True) == ""
        assert late.heads(ADMIN_DOC) == manager.heads(ADMIN_DOC)
    finally:
        late.close()


def test_check_covers_earlier_changes_of_the_same_actor_only():
    """One valid signature of an actor's newest change covers that actor's earlier ones; a
    newer unsigned change, another actor's change, or a bad signature are not covered."""
    from bullpen.app.members.identity import Identity
    from bullpen.crdt.records import genesis

    me, other = Identity.generate(), Identity.generate()
    doc = genesis("pipeline")
    base = doc.get_heads()
    actor = me.public + b"\0\0\0\1"
    for i in range(3):
        doc.set_actor(actor)
        with doc.transaction() as tx:
            put_record(tx, f"{i:032d}", {"kind": "opportunity", "title": str(i)})
    doc.set_actor(other.public + b"\0\0\0\2")
    with doc.transaction() as tx:
        put_record(tx, "9" * 32, {"kind": "opportunity", "title": "other"})
    changes = doc.get_changes(base)
    mine = [c for c in changes if c.actor_id == actor]
    good = me.sign(authorship.payload("ws", "pipeline", mine[1].hash))
    sig = {(mine[1].hash, me.public): good}
    refused, valid = authorship.check("ws", "pipeline", changes, sig)
    assert {c.hash for c, _ in refused} == {mine[2].hash, changes[-1].hash}
    assert [v.change_hash for v in valid] == [mine[1].hash]
    refused, _ = authorship.check("other-ws", "pipeline", changes, sig)  # bound to ws
    assert len(refused) == 4
    bad = {(mine[2].hash, me.public): b"\0" * 64, (mine[0].hash, me.public): good}
    refused, valid = authorship.check("ws", "pipeline", changes, bad)
    assert len(refused) == 4 and not valid
    # another key's signature proves nothing
    forged = {(mine[2].hash, other.public):
              other.sign(authorship.payload("ws", "pipeline", mine[2].hash))}
    assert len(authorship.check("ws", "pipeline", changes, forged)[0]) == 4
    # a sealed head covers its ancestors, whoever wrote them, and nothing after it
    refused, _ = authorship.check("ws", "pipeline", changes, {}, [mine[1].hash])
    assert {c.hash for c, _ in refused} == {mine[2].hash, changes[-1].hash}
    assert authorship.check("ws", "pipeline", changes, {}, [changes[-1].hash])[0] == []


def _as_before_signatures(ws: Workspace) -> None:
    """What an earlier release left in a profile: the same changes, no proofs."""
    with ws.store.transaction():
        ws.store.db.execute("DELETE FROM sigs")
        ws.store.db.execute("DELETE FROM meta WHERE key = ?", [old_changes.DONE])


@pytest.fixture
def old_ws(tmp_path, monkeypatch):
    """A workspace founded by a release before signed authorship (no "signed" mark)."""
    import functools
    import sys

    from bullpen.app.members import membership

    module = sys.modules[Workspace.create.__func__.__module__]
    monkeypatch.setattr(module, "founding_entry",
                        functools.partial(membership.founding_entry, signed=False))
    workspace = Workspace.create(tmp_path / "dana", "Dana", "Acme Sales")
    yield workspace
    workspace.close()


def test_a_workspace_from_before_signatures_still_reaches_new_members(old_ws, join_ws,
                                                                      tmp_path):
    """Unsigned history is refused by a newcomer until the profiles that hold it are opened
    with this release: each signs its own earlier changes, and the manager seals the rest in
    the membership log. Then any member can pass that history on, the seal survives its
    author's demotion, and it covers nothing written after it."""
    ws = old_ws
    eli = join_ws(ws, "Eli")
    ws.add("opportunity", opp_fields(title="Dana's deal"))
    eli.add("opportunity", opp_fields(title="Eli's deal"))
    exchange(ws, eli)
    for profile in (ws, eli):
        _as_before_signatures(profile)
    newcomers = []
    for name in ("Gus", "Hal"):
        newcomer = Workspace.create_joining(tmp_path / name.lower(), name, ws.workspace_id)
        ws.add_member(newcomer.peer_id, "rep", name)
        newcomer.merge_saved("index", ws.doc("index").save())
        newcomers.append(newcomer)
    gus, hal = newcomers
    try:
        assert "not signed by its author" in deliver(ws, gus, "pipeline", whole=True)
        assert old_changes.prove(eli) > 0 and old_changes.prove(ws) > 0
        assert old_changes.prove(ws) == 0  # once
        assert ws.membership().sealed and "pipeline" in ws.membership().sealed
        exchange(ws, eli)  # the seal travels with the index
        for newcomer in newcomers:
            newcomer.merge_saved("index", ws.doc("index").save())
        assert deliver(ws, gus, "pipeline", whole=True) == ""
        assert {o["title"] for o in gus.list("opportunity")} == {"Dana's deal", "Eli's deal"}
        assert deliver(eli, hal, "pipeline", whole=True) == ""  # any member passes it on
        # after the seal, the manager cannot pass off a deal as Eli's under his old actor
        old_actor = next(c.actor_id for c in ws.doc("pipeline").get_changes([])
                         if c.actor_id[:32] == eli.identity.public)
        forge(ws, "pipeline", lambda tx: put_record(tx, "e" * 32, {
            "kind": "opportunity", "title": "Fake", "account": "X", "amount": 9e6}),
            actor=old_actor, sigs=lambda _: [])
        assert "not signed by its author" in deliver(ws, hal, "pipeline")
    finally:
        for newcomer in newcomers:
            newcomer.close()


def _renumber(chunk: bytes, seq: int) -> bytes:
    """A change chunk with its sequence number rewritten (and its checksum made good again),
    as a modified client can send any bytes."""
    import hashlib
    import zlib

    from bullpen.crdt.changes import uleb128, uleb_decode

    _, pos = uleb_decode(chunk, 9)
    data = chunk[pos:]
    if chunk[8] == 2:  # a compressed chunk: sent back uncompressed
        data = zlib.decompressobj(-15).decompress(data)
    count, at = uleb_decode(data, 0)
    size, at = uleb_decode(data, at + 32 * count)
    _, after = uleb_decode(data, at + size)
    data = data[:at + size] + uleb128(seq) + data[after:]
    body = b"\x01" + uleb128(len(data)) + data
    return chunk[:4] + hashlib.sha256(body).digest()[:4] + body


def test_a_forged_twin_of_a_signed_change_is_not_covered_by_its_signature(office):
    """Eli forges a quota under the manager's actor that depends on the manager's newest
    signed change and carries that change's sequence number: automerge queues it behind the
    real one and applies it without its duplicate check. The real signature must cover only
    the real change's ancestors, so the whole message is refused and nothing changes."""
    import hostile
    from automerge.core import SyncState

    from bullpen.crdt.changes import changes_message

    manager, eli, fay = office["manager"], office["eli"], office["fay"]
    seen = views(fay)
    before = manager.heads(ADMIN_DOC)
    sales.set_quota(manager, "Fay", "2026-Q4", 70000)
    (real,) = manager.doc(ADMIN_DOC).get_changes(before)
    assert deliver(manager, eli, ADMIN_DOC) == ""
    fork = eli.doc(ADMIN_DOC).fork()
    heads = fork.get_heads()
    fork.set_actor(manager.actor)
    with fork.transaction() as tx:
        put_setting(tx, eli_quota(office), 9_999_999.0)
    (forged,) = fork.get_changes(heads)
    assert real.hash in forged.deps and forged.seq == real.seq + 1
    twin = _renumber(forged.bytes, real.seq)
    proofs = manager.store.sigs_for([real.hash])
    receiver = hostile.WorkspaceDocs(fay, hostile.AccessPolicy(fay))
    with pytest.raises(hostile.RefusedChanges, match="not signed by its author"):
        receiver.receive(ADMIN_DOC, SyncState(), changes_message([twin, real.bytes]), proofs)
    assert views(fay) == seen
    receiver.receive(ADMIN_DOC, SyncState(), changes_message([real.bytes]), proofs)
    assert set(sales.quotas(fay).values()) == {100000.0, 70000.0}


def test_a_newcomer_trusts_its_inviter_for_the_index_only(office, tmp_path):
    """Until it holds the workspace index, a newcomer accepts the index from the inviter its
    signed code names, and nothing else; once it holds the index, the inviter's documents are
    judged like anyone's (a rep inviter passing off a deal as the manager's is refused)."""
    import hostile

    from bullpen.crdt.schema import INDEX_DOC

    manager, eli = office["manager"], office["eli"]
    forge(eli, "pipeline", lambda tx: put_record(tx, "f" * 32, {
        "kind": "opportunity", "title": "Fake", "account": "X", "amount": 9e6}),
        actor=manager_actor(manager), sigs=lambda _: [])
    gus = Workspace.create_joining(tmp_path / "gus", "Gus", manager.workspace_id)
    try:
        manager.add_member(gus.peer_id, "rep", "Gus")
        exchange(manager, eli)  # Eli's index now names Gus
        mine = hostile.WorkspaceDocs(gus, hostile.AccessPolicy(gus, trusted={eli.peer_id}))
        theirs = hostile.WorkspaceDocs(eli, hostile.Policy())

        def send(doc_id):
            mine.merge_saved(doc_id, hostile.compress_saved(eli.doc(doc_id).save()),
                             theirs.whole_signatures(doc_id))

        with pytest.raises(hostile.RefusedChanges, match="index must arrive first"):
            send("pipeline")
        assert "pipeline" not in gus.doc_ids()
        send(INDEX_DOC)
        assert gus.role(eli.peer_id) == "rep"
        with pytest.raises(hostile.RefusedChanges, match="not signed by its author"):
            send("pipeline")
        assert gus.list("opportunity") == []
    finally:
        gus.close()


@pytest.mark.parametrize("whole", [True, False])
def test_a_change_waiting_in_automerge_is_judged_when_it_is_finally_applied(office, whole):
    """Eli sends his own quota change P alone, without the adoption marker M it depends on:
    automerge keeps P waiting and applies nothing, so there is nothing to judge yet. Then a
    whole copy holding only M (which a rep may write), or M by sync message, releases P: P
    is judged then (a rep may not set quotas) and dropped, M alone is kept, nothing of P is
    stored. (Refusing M's whole message instead would let anyone block honest messages by
    parking changes that wait for them.)"""
    import hostile
    from automerge.core import SyncState

    from bullpen.crdt import records as rec
    from bullpen.crdt.changes import changes_message

    eli, fay = office["eli"], office["fay"]
    seen = views(fay)
    receiver = hostile.WorkspaceDocs(fay, hostile.AccessPolicy(fay))
    (marker,) = forge(eli, ADMIN_DOC, lambda tx: rec.mark_touched(tx, []))
    (quota,) = forge(eli, ADMIN_DOC, lambda tx: put_setting(tx, eli_quota(office), 1.0))
    assert marker.hash in quota.deps
    proofs = eli.store.sigs_for([marker.hash, quota.hash])
    receiver.receive(ADMIN_DOC, SyncState(), changes_message([quota.bytes]), proofs)
    if whole:
        at_marker = eli.doc(ADMIN_DOC).fork([marker.hash]).save()
        receiver.merge_saved(ADMIN_DOC, hostile.compress_saved(at_marker), proofs)
    else:
        receiver.receive(ADMIN_DOC, SyncState(), changes_message([marker.bytes]), proofs)
    assert views(fay) == seen
    assert marker.hash in fay.heads(ADMIN_DOC)
    stored = {bytes(b) for _, b in fay.store.load(ADMIN_DOC).changes}
    assert quota.bytes not in stored


def _interleaved(writers: int) -> tuple[list, dict]:
    """Each writer makes one change early and one late (spanning everyone else's), and signs
    its late one; returns the changes and the offered signatures."""
    from automerge.core import ROOT, Document, ScalarType

    from bullpen.app.members.identity import Identity

    ids = [Identity.generate() for _ in range(writers)]
    doc = Document()
    with doc.transaction() as tx:
        tx.put(ROOT, "start", ScalarType.Str, "")
    base = doc.get_heads()
    for phase in ("early", "late"):
        for i, identity in enumerate(ids):
            doc.set_actor(identity.public + b"\0\0\0\1")
            with doc.transaction() as tx:
                tx.put(ROOT, f"{phase}{i}", ScalarType.Str, "x")
    changes = doc.get_changes(base)
    by_key = {i.public: i for i in ids}
    offered = {(c.hash, c.actor_id[:32]): by_key[c.actor_id[:32]].sign(
        authorship.payload("ws", "d", c.hash)) for c in changes if c.seq == 2}
    return changes, offered


def test_proving_a_message_costs_time_linear_in_its_size():
    """Interleaved writers are proven (an honest team's long-running nodes); a history
    crafted so that proving it would take quadratic time is refused within a bounded budget."""
    import time

    changes, offered = _interleaved(60)
    refused, valid = authorship.check("ws", "d", changes, offered)
    assert not refused and len(valid) == 60
    changes, offered = _interleaved(1500)
    start = time.perf_counter()
    refused, _ = authorship.check("ws", "d", changes, offered)
    assert refused and time.perf_counter() - start < 5


def test_changes_left_waiting_for_dependencies_are_bounded(office):
    """A member cannot park unbounded changes in a peer's memory by withholding the change
    they depend on: past 8 MiB waiting in one document, the document is dropped from memory
    (the waiting changes with it) and the message refused."""
    import hostile
    from automerge.core import SyncState

    from bullpen.crdt.changes import changes_message

    eli, fay = office["eli"], office["fay"]
    seen = views(fay)
    forge(eli, "pipeline", lambda tx: put_record(tx, "a" * 32, {"kind": "note"}))  # withheld
    receiver = hostile.WorkspaceDocs(fay, hostile.AccessPolicy(fay))
    with pytest.raises(hostile.RefusedChanges, match="wait for dependencies"):
        for i in range(40):
            (big,) = forge(eli, "pipeline", lambda tx, i=i: put_record(
                tx, f"{i:032d}", {"kind": "note", "text": os.urandom(1 << 19).hex()}))
            receiver.receive("pipeline", SyncState(), changes_message([big.bytes]),
                             eli.store.sigs_for([big.hash]))
    assert 7 <= i < 39  # about 8 MiB went in first
    assert views(fay) == seen and "pipeline" not in fay.docs


def test_a_guests_held_naming_a_hidden_document_gets_it_nothing(office):
    """A guest's Held names the pipeline, which it may not see: the manager's session sends
    nothing of it (a Held makes a member send a document whole again). The same Held naming
    the guest's own deal room does make it send that one, so the test can fail."""
    import hostile

    from bullpen.sync.messages import Saved
    from bullpen.sync.session import Session

    manager, guest = office["manager"], office["guest"]

    def side(ws, peer):
        policy = hostile.AccessPolicy(ws)
        return Session(hostile.WorkspaceDocs(ws, policy), peer.peer_id, ws.workspace_id,
                       policy=policy)

    ours, theirs = side(manager, guest), side(guest, manager)
    hello_ours, hello_theirs = ours.start()[0], theirs.start()[0]
    ours.receive(hello_theirs)
    theirs.receive(hello_ours)

    def sent_whole(doc_id):
        ours.resend_whole(doc_id)  # what the link does on the peer's Held
        out = []
        while batch := ours.next_whole():
            out += batch
        return [m.doc_id for m in out if isinstance(m, Saved)]

    assert sent_whole("pipeline") == []
    room = f"space:{office['room']}"
    assert sent_whole(room) == [room]
