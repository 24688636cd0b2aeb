"""Proofs for changes made before signed authorship (see :mod:`.authorship`).

A workspace started with an earlier release holds changes nobody signed; a peer that lacks
them (a member who joins later) would refuse them. On the first open with this release each
profile signs the newest change of each of its own earlier actors (which proves all of that
actor's changes), and the first manager to open it *seals* the rest: a signed entry of the
membership log naming the heads of each document that holds changes no signature proves. A
change that is an ancestor of a sealed head is accepted without a signature.

Why a seal in the membership log, not signatures of others' changes: the log is replayed the
same way on every peer and reaches each one first (with the index), so the seal proves the
history to any newcomer whoever sends it; an entry stays valid when its author is later demoted
or removed; and only the first seal counts, so a manager cannot seal a change written after
it under a teammate's name. A workspace founded with signed authorship refuses every seal, and
a demoted manager's backdated seal is void (see ``membership._Causal``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bullpen.app.members import authorship

if TYPE_CHECKING:
    from bullpen.app.workspace import Workspace

DONE = "old_changes_proved"  # store meta key: set once this profile has proved what it held


def mark_done(ws: Workspace) -> None:
    """A new profile has no changes from before signatures."""
    ws.store.set_meta(DONE, "1")


def prove(ws: Workspace) -> int:
    """Sign this profile's own unproven changes and, as the first manager, seal the others;
    once per profile. Returns how many changes were signed or sealed."""
    if ws.store.get_meta(DONE):
        return 0
    me = ws.identity.public
    proofs: list[authorship.Signature] = []
    unsealed: dict[str, list[str]] = {}
    with ws.lock:
        for doc_id in ws.doc_ids():
            doc = ws.doc(doc_id)
            newest = authorship.newest_by_actor(doc.get_changes([]))
            proven = {h for h, _ in ws.store.sigs_for(c.hash for c in newest)}
            todo = [c for c in newest if c.hash not in proven]
            proofs += authorship.sign(ws.identity, ws.workspace_id, doc_id, todo)
            if any(c.actor_id[:32] != me for c in todo):
                unsealed[doc_id] = sorted(h.hex() for h in doc.get_heads())
        state = ws.membership()
        sealing = (bool(unsealed) and ws.role() == "manager" and state.sealed is None
                   and not state.born_signed)
        if sealing:
            ws.append_membership("seal", ws.peer_id, docs=unsealed)
        with ws.store.transaction():
            ws.store.put_sigs(proofs)
            mark_done(ws)
    return len(proofs) + (sum(len(heads) for heads in unsealed.values()) if sealing else 0)
