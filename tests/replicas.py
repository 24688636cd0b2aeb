"""Test helper: bring two in-process replicas of one workspace to the same state.

Uses the same path the sync node uses for a document a peer lacks (``merge_saved``), so the
model tests exercise the real persistence and indexing of received changes.
"""

from __future__ import annotations

from bullpen.app.workspace import Workspace


def exchange(a: Workspace, b: Workspace) -> None:
    """Send every document both ways until both hold everything."""
    for src, dst in ((a, b), (b, a)):
        for doc_id in src.doc_ids():
            dst.merge_saved(doc_id, src.doc(doc_id).save())


def clone(src: Workspace, dst: Workspace) -> None:
    """Make ``dst`` (a fresh profile) a replica of ``src``'s workspace."""
    dst.workspace_id = src.workspace_id
    with dst.store.transaction():
        dst.store.set_meta("workspace_id", src.workspace_id)
    exchange(src, dst)
