"""Test helper: bring two in-process replicas of one workspace to the same state.

Uses the same path the sync node uses for a document a peer lacks (``merge_saved``), so the
model tests exercise the real persistence and indexing of received changes.
"""

from __future__ import annotations

from pathlib import Path

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.authorship import Signature
from bullpen.app.workspace import Workspace


def send_whole(src: Workspace, dst: Workspace, doc_id: str) -> None:
    """``doc_id`` from ``src`` merged into ``dst`` with the proofs of authorship ``src``
    holds for it, as a sync node sends a whole document with its signatures."""
    rows = src.store.db.execute(
        "SELECT hash, signer, doc_id, actor, seq, sig FROM sigs WHERE doc_id = ?", [doc_id])
    proofs = [Signature(d, bytes(h), bytes(a), s, bytes(k), bytes(g))
              for h, k, d, a, s, g in rows]
    dst.merge_saved(doc_id, src.doc(doc_id).save(), sigs=proofs)


def give(src: Workspace, dst: Workspace) -> None:
    """What a sync from ``src`` to ``dst`` transfers under ``src``'s policy."""
    policy = AccessPolicy(src)
    for doc_id in policy.docs_visible_to(dst.peer_id, src.doc_ids()):
        dst.merge_saved(doc_id, src.doc(doc_id).save())


def exchange(a: Workspace, b: Workspace) -> None:
    """Send every document both ways until both hold everything."""
    for src, dst in ((a, b), (b, a)):
        for doc_id in src.doc_ids():
            send_whole(src, dst, doc_id)


def join(src: Workspace, home: Path, name: str, role: str = "rep") -> Workspace:
    """A new member's replica of ``src``'s workspace, added by ``src`` and fully synced."""
    dst = Workspace.create_joining(home, name, src.workspace_id)
    src.add_member(dst.peer_id, role, name)
    exchange(src, dst)
    return dst
