"""One profile's replica of the workspace: its documents, and the one way they change.

Why this is the base the use cases build on: a local write and a peer's changes must take the
same path, so no caller can forget a step. A write (:meth:`Replica._write`) is one automerge
transaction, signed, persisted as change rows before the call returns, reflected in the
derived index and announced to listeners (the sync node, the UI) as a :class:`ChangeSet`;
received changes (:meth:`Replica.apply_remote`, :meth:`Replica.merge_saved`) and other
processes' rows (:meth:`Replica.refresh`) are persisted, indexed and announced alike.
Keeping documents in memory and on disk is :class:`.doc_store.DocStore`'s job, the index
:class:`.indexer.Indexer`'s; the use cases are the mixins
:class:`bullpen.app.workspace.Workspace` is made of.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automerge.core import Document, SyncState

from bullpen.app.members import authorship
from bullpen.app.members.authorship import Signature
from bullpen.app.members.identity import Identity
from bullpen.app.storage.blobs import BlobStore
from bullpen.app.storage.doc_store import TEXT_PREFIX, DocStore
from bullpen.app.storage.indexer import Indexer
from bullpen.app.storage.keys import subkey
from bullpen.app.storage.search_index import Index
from bullpen.app.storage.store import Store
from bullpen.app.workspace.types import ChangeSet, WorkspaceError
from bullpen.crdt import records as rec
from bullpen.crdt.schema import COLLECTIONS

STORE_FILE = "store.db"
INDEX_FILE = "index.db"
COMPACT_AFTER_ROWS = 500


class Replica:
    def __init__(self, home: Path, key: bytes, identity: Identity) -> None:
        self.home = home
        self.store = Store(home / STORE_FILE, subkey(key, "store"))
        self.identity = identity
        self.peer_id = identity.peer_id
        self.lock = threading.RLock()
        # A fresh actor per process: the CLI and a running node of the same user write to the
        # same documents at once, and two writers must never share an actor's sequence numbers.
        self.actor = identity.public + os.urandom(4)
        self.doc_store = DocStore(self.store, self.actor, self.lock)
        self.blobs = BlobStore(home / "blobs", key)
        self.index = Index(home / INDEX_FILE, subkey(key, "index"))
        self.indexer = Indexer(self.doc_store, self.index)
        self._listeners: list[Callable[[ChangeSet], None]] = []
        self._seen_version: int | None = None  # the store's data_version at the last refresh
        self.name = self.store.get_meta("name") or ""
        self.workspace_id = self.store.get_meta("workspace_id") or ""

    def close(self) -> None:
        with self.lock:
            self.indexer.flush_texts(loaded_only=True)
            self.compact()
            self.index.close()
            self.store.close()

    def role(self, peer_id: str | None = None) -> str | None:
        """The role of ``peer_id`` (this user by default) in the membership log; the write
        path needs it (a guest holds no team collection),
        :class:`bullpen.app.workspace.members.Members` gives it."""
        raise NotImplementedError

    # ----- documents -----------------------------------------------------------------------

    @property
    def docs(self) -> dict[str, Document]:
        """The documents in memory, by id (one held is here or stored: :meth:`DocStore.has`)."""
        return self.doc_store.docs

    def doc_ids(self) -> list[str]:
        return self.doc_store.doc_ids()

    def doc(self, doc_id: str) -> Document:
        """The live document (loaded from the store on first use)."""
        return self.doc_store.doc(doc_id)

    def heads(self, doc_id: str) -> list[bytes]:
        """The heads of ``doc_id``, without loading a text document that was unloaded."""
        return self.doc_store.heads(doc_id)

    def heads_hex(self, doc_id: str) -> str:
        return self.doc_store.heads_hex(doc_id)

    def unload(self, doc_id: str) -> None:
        """Drop ``doc_id`` from memory (:meth:`DocStore.unload`)."""
        self.doc_store.unload(doc_id)

    def digest(self) -> str:
        """Hash of the heads of every document: equal on two replicas iff same state."""
        with self.lock:
            self.refresh()
            h = hashlib.sha256()
            for doc_id in self.doc_ids():
                h.update(f"{doc_id}:{self.heads_hex(doc_id)};".encode())
            return h.hexdigest()

    # ----- listeners -----------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ChangeSet], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _announce(self, change: ChangeSet) -> None:
        for callback in list(self._listeners):
            callback(change)

    # ----- writing -------------------------------------------------------------------------

    def _write(self, doc_id: str, fn: Callable[[Any], set[str]]) -> ChangeSet:
        """Run ``fn`` in one transaction on ``doc_id``; durable before returning."""
        with self.lock:
            self.refresh()
            doc = self._writable(doc_id)
            before = doc.get_heads()
            with doc.transaction() as tx:
                ids = fn(tx)
                rec.mark_touched(tx, ids)
            new = doc.get_changes(before)
            self.doc_store.append(doc_id, new, authorship.sign(self.identity, self.workspace_id,
                                                               doc_id, new))
            change = ChangeSet(doc_id, set(ids), remote=False)
            self.indexer.reindex(doc_id, change.ids, change, before)
            self._announce(change)
            return change

    def _writable(self, doc_id: str) -> Document:
        """The document to write to. A team member whose copy of a collection has not
        arrived yet (just joined) starts it from its deterministic genesis, which merges with
        the team's copy; a guest never holds the team's collections."""
        if doc_id not in COLLECTIONS or self.doc_store.has(doc_id):
            return self.doc(doc_id)
        if self.role() == "guest":
            raise WorkspaceError(f"{doc_id} is not shared with you")
        return self.doc_store.ensure(doc_id)

    # ----- receiving and refreshing --------------------------------------------------------

    def apply_remote(self, doc_id: str,
                     apply: Callable[[Document], list[Signature] | None]) -> ChangeSet:
        """Run ``apply`` (a sync step that may add changes) on ``doc_id``, then persist and index
        whatever it added, with the authors' signatures ``apply`` returns. Used by the sync
        node for received sync messages and snapshots."""
        with self.lock:
            self.refresh()
            doc = self.doc_store.for_remote(doc_id)
            before = doc.get_heads()
            try:
                sigs = apply(doc) or []
            except BaseException:
                # Whatever ``apply`` may have added is neither persisted nor checked: forget
                # the in-memory copy, the next use reloads it from the store.
                self.doc_store.forget(doc_id)
                raise
            return self._persist_since(doc_id, before, remote=True, sigs=sigs)

    def receive_sync_message(self, doc_id: str, state: SyncState, message: Any) -> ChangeSet:
        return self.apply_remote(doc_id, lambda d: d.receive_sync_message(state, message))

    def merge_saved(
        self, doc_id: str, data: bytes, loaded: Document | None = None,
        sigs: list[Signature] | None = None,
    ) -> ChangeSet:
        """Merge a whole saved document sent by a peer (first sync of a document); ``loaded``
        is ``data`` already loaded, when the caller has it; ``sigs``, the authors' signatures
        that came with it, are stored in the same write.

        A document this replica has never held is adopted as it came: ``data`` becomes its
        stored snapshot and the loaded copy its live document. Merging it into an empty
        document instead replays every change (half the cost of a first sync of a 10,000
        record pipeline) and stores them again row by row."""
        loaded = loaded if loaded is not None else Document.load(data)
        with self.lock:
            self.refresh()
            if self.doc_store.has(doc_id):
                def merge(doc: Document) -> list[Signature] | None:
                    doc.merge(loaded)
                    return sigs

                return self.apply_remote(doc_id, merge)
            self.doc_store.adopt(doc_id, data, loaded, sigs or [])
            change = ChangeSet(doc_id, remote=True)
            change.ids = self.indexer.changed_ids(loaded, loaded.get_changes([]))
            self.indexer.reindex(doc_id, change.ids, change, [])
            self._announce(change)
            return change

    def _persist_since(self, doc_id: str, before: list[bytes], *, remote: bool,
                       sigs: list[Signature]) -> ChangeSet:
        doc = self.docs[doc_id]
        new = doc.get_changes(before)
        change = ChangeSet(doc_id, remote=remote)
        if not new:
            return change
        self.doc_store.append(doc_id, new, sigs)
        change.ids = self.indexer.changed_ids(doc, new)
        self.indexer.reindex(doc_id, change.ids, change, before)
        self._announce(change)
        return change

    def store_version(self) -> int:
        """Changes when another process commits to this profile's store (cheap)."""
        with self.lock:
            return self.store.data_version()

    def written_files(self) -> list[Path]:
        """The files another process's commit to this profile writes (see the store)."""
        return self.store.written_files()

    def refresh(self) -> list[ChangeSet]:
        """Pick up changes other processes (CLI beside a running node) wrote to the store.
        Nothing is read when no other process committed since the last refresh (every write
        refreshes first, and a running node refreshes whenever the store's files change)."""
        with self.lock:
            version = self.store.data_version()
            if version == self._seen_version and not self.doc_store.behind:
                return []
            out = []
            for pulled in self.doc_store.pull():
                doc_id = pulled.doc_id
                if pulled.doc is None:
                    # Not in memory here, but another process wrote it: the listeners (a sync
                    # node offering it to peers, the app's views) must hear of it all the
                    # same. A text's searched text goes stale.
                    if doc_id.startswith(TEXT_PREFIX):
                        self.indexer.mark_stale(doc_id)
                        out.append(ChangeSet(doc_id, {doc_id[len(TEXT_PREFIX):]},
                                             kinds={"document"}))
                    else:
                        out.append(ChangeSet(doc_id))
                elif pulled.new:
                    change = ChangeSet(doc_id, self.indexer.changed_ids(pulled.doc, pulled.new))
                    self.indexer.reindex(doc_id, change.ids, change, pulled.before)
                    out.append(change)
            # Noted once all is read (a failed read is tried again); read before reading, so
            # a commit made meanwhile is read next time.
            self._seen_version = version
            for change in out:
                self._announce(change)
            return out

    # ----- index and compaction ------------------------------------------------------------

    def reindex_doc(self, doc_id: str) -> None:
        """Rebuild the index entries of one document from scratch."""
        with self.lock:
            self.indexer.reindex_doc(doc_id)

    def check_index(self) -> None:
        """Rebuild what the index is missing or has stale (:meth:`Indexer.check`)."""
        with self.lock:
            self.indexer.check()

    def compact(self, threshold: int = COMPACT_AFTER_ROWS) -> int:
        """Fold change rows into snapshots for documents with many rows; returns docs done."""
        with self.lock:
            self.refresh()
            return self.doc_store.compact(threshold)

    def start_background_compaction(self, interval: float = 60.0) -> threading.Event:
        """Compact every ``interval`` seconds on a daemon thread (long-running node or app);
        set the returned event to stop it. Short CLI commands compact on close instead."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.compact()
                except Exception:  # a busy or closing store: try again next round
                    continue

        threading.Thread(target=loop, name="bullpen-compaction", daemon=True).start()
        return stop
