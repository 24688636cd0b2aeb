"""Keeps the derived index (:class:`.search_index.Index`, typed columns + FTS5) in step with the
automerge documents.

Why apart from the documents: the index is a cache that may always be rebuilt, and its rules
are their own: which records a change touched (``touched`` written by every change, so no
document is scanned), what the records were before and after (for the :class:`ChangeSet`),
and long texts, whose search text is refreshed lazily (at the next search or close) so that
typing never costs O(document).
"""

from __future__ import annotations

from typing import Any

from automerge.core import ROOT, Document

from bullpen.app.storage.doc_store import TEXT_PREFIX, DocStore
from bullpen.app.storage.search_index import Index
from bullpen.app.workspace.types import ChangeSet, present
from bullpen.crdt import records as rec
from bullpen.crdt import textdoc
from bullpen.crdt.schema import text_doc_id


def _parse_heads(text: str) -> list[bytes] | None:
    """Heads as the index stores them (``heads_hex``); None when unreadable (an index
    written by hand or damaged is rebuilt, never trusted)."""
    try:
        return [bytes.fromhex(h) for h in text.split(",") if h]
    except ValueError:
        return None


def _is_genesis(change: Any) -> bool:
    return len(change.actor_id) == 16 and not change.deps


def _record_data(
    doc: Document, records: bytes, rid: str, heads: list[bytes] | None = None
) -> dict[str, Any] | None:
    raw = rec.read_record(doc, records, rid, heads)
    return present(rid, raw) if raw is not None else None


class Indexer:
    """The index's writer; the caller holds the workspace lock."""

    def __init__(self, docs: DocStore, index: Index) -> None:
        self.docs = docs
        self.index = index
        self._stale_texts: set[str] = set()  # documents whose search text is behind

    def mark_stale(self, doc_id: str) -> None:
        """The search text of text document ``doc_id`` is behind: refresh it when needed."""
        self._stale_texts.add(doc_id)

    def changed_ids(self, doc: Document, new: list[Any]) -> set[str]:
        """The records the changes ``new`` of ``doc`` touched; ``{"*"}`` when one does not
        say (reindex them all)."""
        touched = rec.container(doc, rec.TOUCHED)
        ids: set[str] = set()
        for change in new:
            found = rec.touched_by(doc, touched, change)
            if found is None and change.seq > 0 and not _is_genesis(change):
                return {"*"}  # a change that does not say what it touched: reindex all
            ids.update(found or ())
        return ids

    def reindex(
        self, doc_id: str, ids: set[str], change: ChangeSet, before: list[bytes] | None = None
    ) -> None:
        """Update the index for ``ids`` and fill the ChangeSet's values before (read from the
        document at the ``before`` heads, so it is right whichever process wrote) and after."""
        doc = self.docs.docs[doc_id]
        heads = self.docs.heads_hex(doc_id)
        if doc_id.startswith(TEXT_PREFIX):
            # Re-reading a long body on every keystroke would make typing cost O(document):
            # the search text is refreshed when someone searches (or the profile closes).
            self._stale_texts.add(doc_id)
            change.kinds.add("document")
            change.ids.add(doc_id[len(TEXT_PREFIX):])
            return
        records = rec.container(doc, rec.RECORDS)
        if "*" in ids:
            ids = set(doc.keys(records))
            change.ids = ids
        change.before = {
            rid: (_record_data(doc, records, rid, before) if before else None) for rid in ids
        }
        items = [(rid, _record_data(doc, records, rid)) for rid in ids]
        change.after = dict(items)
        change.kinds.update(d["kind"] for _, d in items if d)
        self.index.update(doc_id, heads, items, extra_text=self._document_texts(items),
                          mark=self.docs.mark(doc_id))

    def _document_texts(self, items: list[tuple[str, dict[str, Any] | None]]) -> dict[str, str]:
        """Body text of the co-edited documents among ``items`` that are in memory (for the
        search index). A text not loaded is not loaded for this (a long text costs seconds):
        it is marked stale, here and in the index, and indexed at the next search."""
        texts: dict[str, str] = {}
        for rid, data in items:
            doc_id = text_doc_id(rid)
            if not data or data["kind"] != "document":
                continue
            if doc_id in self.docs.docs:
                texts[rid] = textdoc.read(self.docs.docs[doc_id])[0]
            elif self.docs.store.has_doc(doc_id):
                self._stale_texts.add(doc_id)
                self.index.forget_heads(doc_id)
        return texts

    def flush_texts(self, *, loaded_only: bool = False) -> None:
        """Bring the search text (and stored heads) of edited documents up to date;
        ``loaded_only`` leaves those not in memory stale (the index says so, by their heads'
        mark, to the next process) instead of loading them."""
        for doc_id in sorted(self._stale_texts):
            if loaded_only and doc_id not in self.docs.docs:
                continue
            self._stale_texts.discard(doc_id)
            if not self.docs.store.has_doc(doc_id):
                continue  # an empty stand-in for a document that has not arrived
            rid = doc_id[len(TEXT_PREFIX):]
            meta = self.index.get_many([rid]).get(rid, {})
            text = textdoc.read(self.docs.doc(doc_id))[0]
            self.index.set_text(rid, "document", meta.get("title", ""), text,
                                heads=self.docs.heads_hex(doc_id), mark=self.docs.mark(doc_id))

    def reindex_doc(self, doc_id: str) -> None:
        """Rebuild the index entries of one document from scratch."""
        doc = self.docs.doc(doc_id)
        if doc_id.startswith(TEXT_PREFIX):
            self._stale_texts.add(doc_id)
            self.flush_texts()
            return
        plain = rec.read_value(doc, doc.get(ROOT, rec.RECORDS)) or {}
        items = [(rid, present(rid, raw) if isinstance(raw, dict) else None)
                 for rid, raw in plain.items()]
        self.index.update(doc_id, self.docs.heads_hex(doc_id), items, replace_doc=True,
                          extra_text=self._document_texts(items), mark=self.docs.mark(doc_id))

    def check(self) -> None:
        """Rebuild what the index is missing or has stale, without loading what is current.

        Each indexed document's heads are stored with the store state they were read at
        (:meth:`DocStore.mark`); a document whose store state still matches is not loaded (a
        command touching only the pipeline must not pay for a long text) and its indexed
        heads stand in for it (:meth:`DocStore.heads`). A stale collection is reindexed now;
        a stale text is reindexed when it is next searched."""
        indexed = self.index.stored_marks()
        for doc_id, mark in self.docs.store.marks().items():
            heads, indexed_mark = indexed.get(doc_id, ("", None))
            known = _parse_heads(heads) if indexed_mark == mark else None
            if known is not None and doc_id not in self.docs.docs:
                self.docs.know_heads(doc_id, known)
            elif doc_id.startswith(TEXT_PREFIX):
                self._stale_texts.add(doc_id)
            else:
                self.reindex_doc(doc_id)
