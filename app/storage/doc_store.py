"""The live automerge documents of one profile, kept in step with its store.

Why a class of its own: every use case needs "the document ``doc_id`` as this replica holds
it", and getting that right is one concern: load lazily from snapshot + change rows, keep at
most :data:`MAX_LOADED_TEXTS` long texts in memory (their heads stay known when unloaded),
persist each new change (with its authors' signatures) before anyone sees it, pick up what
other processes sharing the profile wrote (:meth:`DocStore.pull`), and fold rows into
snapshots (:meth:`DocStore.compact`). Indexing and announcing what changed are the caller's
(:class:`.replica.Replica`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from automerge.core import Document

from bullpen.app.members.authorship import Signature
from bullpen.app.storage.store import Store, StoreError
from bullpen.app.workspace.types import WorkspaceError
from bullpen.crdt import changes as am_changes
from bullpen.crdt import records as rec
from bullpen.crdt.schema import genesis_shape, text_doc_id

MAX_LOADED_TEXTS = 8  # text documents kept in memory (DocStore.doc unloads the rest)
TEXT_PREFIX = text_doc_id("")  # the document ids of co-edited texts start with it


@dataclass
class Pulled:
    """One document other processes wrote to, as :meth:`DocStore.pull` left it: ``doc`` is
    None when it stays out of memory here (a text, or a document this process never held),
    else the live document, with ``new`` the changes it gained since ``before``."""

    doc_id: str
    doc: Document | None
    before: list[bytes]
    new: list[Any]


class DocStore:
    def __init__(self, store: Store, actor: bytes, lock: threading.RLock) -> None:
        self.store = store
        self.actor = actor
        self.lock = lock
        self.docs: dict[str, Document] = {}
        # Text documents (``doc:*``) loaded, least recently used first: at most
        # MAX_LOADED_TEXTS stay in memory (each costs MBs in automerge's in-memory form);
        # evicted ones keep only their heads here until the next load.
        self._loaded_texts: OrderedDict[str, None] = OrderedDict()
        self._unloaded_heads: dict[str, list[bytes]] = {}
        self._generations: dict[str, int] = {}
        self._cursor = store.max_seq()
        # Rows before our own last ones are not read yet (another process's, or row ids a
        # compaction left unused): :meth:`pull` must run even if no one else committed since.
        self.behind = False

    # ----- reading -------------------------------------------------------------------------

    def doc_ids(self) -> list[str]:
        with self.lock:
            return sorted(set(self.store.doc_ids()) | set(self.docs))

    def has(self, doc_id: str) -> bool:
        """Whether this replica holds ``doc_id`` (in memory or stored)."""
        return doc_id in self.docs or self.store.has_doc(doc_id)

    def doc(self, doc_id: str) -> Document:
        """The live document (loaded from the store on first use)."""
        with self.lock:
            found = self.docs.get(doc_id)
            if found is None:
                found = self._load(doc_id)
            self._touch(doc_id)
            return found

    def heads(self, doc_id: str) -> list[bytes]:
        """The heads of ``doc_id``, without loading a text document that was unloaded."""
        with self.lock:
            found = self.docs.get(doc_id)
            if found is not None:
                return found.get_heads()
            cached = self._unloaded_heads.get(doc_id)
            if cached is not None:
                return list(cached)
            return self.doc(doc_id).get_heads()

    def heads_hex(self, doc_id: str) -> str:
        return ",".join(sorted(h.hex() for h in self.heads(doc_id)))

    def know_heads(self, doc_id: str, heads: list[bytes]) -> None:
        """Take ``heads`` (read from the index, still current) for a document not in memory,
        so :meth:`heads` answers without loading it."""
        if doc_id not in self.docs:
            self._unloaded_heads[doc_id] = heads

    def mark(self, doc_id: str) -> str:
        """The store state (:meth:`Store.marks`) the live ``doc_id`` holds, to index beside
        its heads. A loaded document holds every stored row of its own up to the cursor
        (loading reads them all, :meth:`pull` applies newer ones), and its generation's
        snapshot; rows it holds past the cursor only make the mark look older, which costs
        one needless reindex, never a missed one."""
        last = self.store.last_seq(doc_id, self._cursor)
        return f"{self._generations.get(doc_id, 0)}:{last}"

    # ----- memory --------------------------------------------------------------------------

    def unload(self, doc_id: str) -> None:
        """Drop ``doc_id`` from memory; the next :meth:`doc` reloads it from the store, which
        holds every change of a loaded document (each is persisted before it is visible)."""
        with self.lock:
            self._loaded_texts.pop(doc_id, None)
            doc = self.docs.get(doc_id)
            if doc is None:
                return
            heads = doc.get_heads()
            if not heads:
                return  # an empty stand-in for a document that has not arrived: not stored
            del self.docs[doc_id]
            self._unloaded_heads[doc_id] = heads

    def forget(self, doc_id: str) -> None:
        """Drop the in-memory copy of ``doc_id`` that may hold changes neither persisted nor
        checked; the next use reloads it from the store."""
        self.docs.pop(doc_id, None)

    def _touch(self, doc_id: str) -> None:
        """Mark a text document as just used; unload the least recently used beyond
        MAX_LOADED_TEXTS (collections are never unloaded)."""
        if not doc_id.startswith(TEXT_PREFIX) or doc_id not in self.docs:
            return
        self._loaded_texts[doc_id] = None
        self._loaded_texts.move_to_end(doc_id)
        while len(self._loaded_texts) > MAX_LOADED_TEXTS:
            oldest = next(iter(self._loaded_texts))
            if oldest == doc_id:
                break
            self.unload(oldest)

    def _load(self, doc_id: str) -> Document:
        stored = self.store.load(doc_id)
        if stored.snapshot is None and not stored.changes:
            raise WorkspaceError(f"no document {doc_id!r} in this workspace")
        try:
            doc = am_changes.load(stored.snapshot, [b for _, b in stored.changes])
        except Exception as exc:  # automerge raises plain Exception on corrupt chunks
            raise StoreError(
                f"{self.store.path}: document {doc_id!r} cannot be read ({exc}); "
                f"{len(stored.changes)} change rows and "
                f"{'a' if stored.snapshot else 'no'} snapshot are stored. "
                f"Run `bullpen recover` to keep every readable change, or re-sync from a "
                f"teammate."
            ) from exc
        doc.set_actor(self.actor)
        self.docs[doc_id] = doc
        self._unloaded_heads.pop(doc_id, None)
        self._generations[doc_id] = stored.generation
        return doc

    # ----- creating and receiving ----------------------------------------------------------

    def ensure(self, doc_id: str) -> Document:
        """Open ``doc_id``, creating it from its deterministic genesis when new."""
        with self.lock:
            if doc_id in self.docs:
                return self.docs[doc_id]
            stored = self.store.load(doc_id)
            if stored.snapshot is not None or stored.changes:
                return self._load(doc_id)
            doc = rec.genesis(doc_id, *genesis_shape(doc_id))
            self.store.append((doc_id, c.bytes) for c in doc.get_changes([]))
            doc.set_actor(self.actor)
            self.docs[doc_id] = doc
            self._generations[doc_id] = 0
            return doc

    def for_remote(self, doc_id: str) -> Document:
        """The document a peer's changes go into: the one held, or an empty one for a
        document this replica has never held."""
        doc = self.docs.get(doc_id)
        if doc is None:
            if self.store.has_doc(doc_id):
                doc = self._load(doc_id)
            else:
                doc = Document(actor_id=self.actor)
                self.docs[doc_id] = doc
                self._generations[doc_id] = 0
        self._touch(doc_id)
        return doc

    def adopt(self, doc_id: str, data: bytes, loaded: Document,
              sigs: list[Signature]) -> None:
        """Keep a whole document a peer saved (``data``, loaded as ``loaded``), which this
        replica has never held, as its stored snapshot and live document."""
        loaded.set_actor(self.actor)
        # one atomic write; a compaction with no rows to fold (another process that
        # created the document meanwhile keeps its rows, and reloads on the new generation)
        self.store.compact(doc_id, data, 0, sigs)
        self.docs[doc_id] = loaded
        self._generations[doc_id] = self.store.generations().get(doc_id, 0)
        self._touch(doc_id)

    def append(self, doc_id: str, new: list[Any], sigs: list[Signature]) -> None:
        """Persist new changes and their signatures durably, or forget them in memory too
        (not durable, not done)."""
        first = self._cursor + 1
        try:
            last = self.store.append(((doc_id, c.bytes) for c in new), sigs)
        except Exception:
            self.docs.pop(doc_id, None)
            raise
        if last - len(new) + 1 == first:
            self._cursor = last  # our own rows: the next pull need not read them back
        else:
            self.behind = True

    # ----- other processes -----------------------------------------------------------------

    def pull(self) -> Iterator[Pulled]:
        """Take in what other processes (the CLI beside a running node) wrote to the store:
        reload documents they compacted, apply their new rows. The caller holds the lock and
        reads the iterator to its end."""
        self.behind = False
        for doc_id, generation in self.store.generations().items():
            if doc_id in self.docs and generation != self._generations.get(doc_id):
                mine = self.docs.pop(doc_id)
                fresh = self._load(doc_id)
                fresh.merge(mine)  # keep anything only we had in memory
        by_doc: dict[str, list[bytes]] = defaultdict(list)
        for seq, doc_id, data in self.store.rows_after(self._cursor):
            by_doc[doc_id].append(data)
            self._cursor = max(self._cursor, seq)
        for doc_id, items in by_doc.items():
            doc = self.docs.get(doc_id)
            if doc is None:
                # Not in memory here (loaded lazily): a text stays unloaded, so does a
                # document this process never held (loaded on first use); a collection it
                # held is loaded, and holds the new rows.
                before = self._unloaded_heads.pop(doc_id, [])
                if doc_id.startswith(TEXT_PREFIX) or not before:
                    yield Pulled(doc_id, None, before, [])
                    continue
                doc = self._load(doc_id)
            else:
                before = doc.get_heads()
                am_changes.apply_changes(doc, items)
            yield Pulled(doc_id, doc, before, doc.get_changes(before))

    def compact(self, threshold: int) -> int:
        """Fold the change rows of loaded documents with at least ``threshold`` rows into
        snapshots, up to the rows already taken in (the caller pulls first); returns how many
        documents were folded."""
        done = 0
        upto = self._cursor
        for doc_id, doc in list(self.docs.items()):
            if self.store.change_count(doc_id) < threshold:
                continue
            self.store.compact(doc_id, doc.save(), upto)
            self._generations[doc_id] = self.store.generations().get(doc_id, 0)
            done += 1
        return done
