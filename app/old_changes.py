"""Proofs for changes made before signed authorship (see :mod:`.authorship`).

A workspace started with an earlier release holds changes nobody signed; a peer that lacks
them (a member who joins later) would refuse them. On the first open with this release each
profile signs the newest change of each of its own earlier actors (which proves all of that
actor's changes), and a manager's profile also vouches for every other actor's newest change
that has no proof yet. The proofs are stored beside the changes and travel with them, whole or
by sync messages; a vouch counts only while its signer is a manager.

Known limit: peers that already hold those changes never need, so never receive, the vouches;
a member joining such a workspace must receive its first copy from a profile that holds them
(the vouching manager's, or one that received the documents from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import authorship

if TYPE_CHECKING:
    from .workspace import Workspace

DONE = "old_changes_proved"  # store meta key: set once this profile has proved what it held


def mark_done(ws: Workspace) -> None:
    """A new profile has no changes from before signatures."""
    ws.store.set_meta(DONE, "1")


def prove(ws: Workspace) -> int:
    """Sign (and, as a manager, vouch for) the unproven changes this profile holds, once;
    returns how many proofs were written."""
    if ws.store.get_meta(DONE):
        return 0
    manager = ws.role() == "manager"
    proofs: list[authorship.Signature] = []
    with ws.lock:
        for doc_id in ws.doc_ids():
            newest = authorship.newest_by_actor(ws.doc(doc_id).get_changes([]))
            proven = {h for h, _ in ws.store.sigs_for(c.hash for c in newest)}
            todo = [c for c in newest if c.hash not in proven]
            proofs += authorship.sign(ws.identity, ws.workspace_id, doc_id, todo)
            if manager:
                proofs += authorship.vouch(ws.identity, ws.workspace_id, doc_id, todo)
        with ws.store.transaction():
            ws.store.put_sigs(proofs)
            mark_done(ws)
    return len(proofs)
