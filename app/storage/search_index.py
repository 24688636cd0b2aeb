"""The derived SQLite index: lists, filters and full-text search over the current state.

It holds nothing that is not in the automerge documents, so it can be deleted at any time and
is rebuilt on open when missing, damaged or stale (its stored heads differ from the documents').
Typed columns serve the pipeline's frequent filters (stage, owner, close date); every record's
full value is kept as JSON so a list needs no automerge reads; FTS5 serves search.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bullpen.app.storage.db import DatabaseError, check_pages, connect
from bullpen.app.storage.store import StoreError
from bullpen.crdt.schema import KINDS, RULED_DOCS, SPACE_KINDS, listed_from, space_doc_id

INDEX_VERSION = "6"  # 6: forecast calls and action items listed only from their documents
FILTER_COLUMNS = ("stage", "owner", "close_date", "topic_id", "category")
LONG_BODY = 20_000  # characters: longer texts get quick_snippet instead of FTS5's snippet()


def _search_text(kind: str, data: dict[str, Any]) -> str:
    spec = KINDS.get(kind)
    if spec is None:
        return ""
    parts: list[str] = []
    for f in spec.fields:
        if f.searchable and f.name != spec.title_field:
            value = data.get(f.name)
            if isinstance(value, list):
                parts.extend(value)
            elif value:
                parts.append(str(value))
    return "\n".join(parts)


def fts_rowid(record_id: str) -> int:
    """A stable integer key for the FTS row of a record, so updates delete by rowid (an
    UNINDEXED text column would make every delete a full scan)."""
    return int.from_bytes(hashlib.blake2b(record_id.encode(), digest_size=7).digest(), "big")


def quick_snippet(body: str, text: str, context: int = 60) -> str:
    """A snippet like FTS5's (the first match in [brackets], … where the text is cut) from
    one regular-expression search: FTS5's snippet() weighs every match, which takes minutes
    on a long text where the word occurs thousands of times."""
    words = "|".join(re.escape(w) for w in text.split())
    found = re.search(rf"\b(?:{words})\w*", body, re.IGNORECASE) if words else None
    if found is None:
        return " ".join(body[: 2 * context].split()) + ("…" if len(body) > 2 * context else "")
    start, end = max(0, found.start() - context), min(len(body), found.end() + context)
    marked = f"{body[start:found.start()]}[{found.group()}]{body[found.end():end]}"
    return f"{'…' if start else ''}{' '.join(marked.split())}{'…' if end < len(body) else ''}"


def fts_query(text: str) -> str:
    """User words to an FTS5 query: every word must match, the last one as a prefix (so
    results come as you type); quotes keep punctuation from being read as FTS syntax."""
    words = [w.replace('"', '""') for w in text.split()]
    if not words:
        return ""
    terms = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}"*']
    return " ".join(terms)


class Index:
    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.key = key
        try:
            self._open()
        except (DatabaseError, StoreError):
            # Derived data: a damaged index is dropped and rebuilt, never trusted.
            self._drop_files()
            self._open()

    def _drop_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _damaged(self, exc: Exception) -> StoreError:
        """Damage met after open (not a failed HMAC, which open finds): the files go, so the
        next open rebuilds the index from the documents."""
        self._drop_files()
        return StoreError(f"{self.path}: the search index was damaged ({exc}); it is rebuilt "
                          f"from the documents: run the command again")

    def _open(self) -> None:
        # NORMAL: derived data, rebuilt from the documents if a crash loses its tail.
        self.db = connect(self.path, self.key, synchronous="NORMAL", damaged=self._damaged)
        try:
            check_pages(self.db)
        except DatabaseError:
            self.db.conn.close()
            raise
        version = None
        if "meta" in self.db.table_names():
            row = self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            version = row[0] if row else None
        if version != INDEX_VERSION:
            self._create()

    def _create(self) -> None:
        for name in ("records", "search", "heads", "meta"):
            self.db.execute(f"DROP TABLE IF EXISTS {name}")
        self.db.execute(
            "CREATE TABLE records (id TEXT PRIMARY KEY, kind TEXT NOT NULL, doc TEXT NOT NULL, "
            "title TEXT, deleted INTEGER NOT NULL DEFAULT 0, stage TEXT, owner TEXT, "
            "close_date TEXT, topic_id TEXT, category TEXT, amount REAL, updated_at TEXT, "
            "data TEXT NOT NULL)"
        )
        self.db.execute("CREATE INDEX records_kind ON records (kind, deleted, updated_at)")
        self.db.execute("CREATE INDEX records_stage ON records (kind, stage)")
        self.db.execute("CREATE INDEX records_owner ON records (kind, owner)")
        self.db.execute("CREATE INDEX records_close ON records (kind, close_date)")
        self.db.execute("CREATE INDEX records_doc ON records (doc)")
        self.db.execute(
            "CREATE VIRTUAL TABLE search USING fts5(id UNINDEXED, kind UNINDEXED, title, body, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        # mark: the store state (Store.marks) the heads were indexed at
        self.db.execute("CREATE TABLE heads (doc TEXT PRIMARY KEY, heads TEXT, mark TEXT)")
        self.db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.execute("INSERT INTO meta VALUES ('version', ?)", [INDEX_VERSION])

    def stored_marks(self) -> dict[str, tuple[str, str | None]]:
        """doc id -> (heads, store mark) of every indexed document, in one query."""
        return {d: (h, m) for d, h, m in self.db.execute("SELECT doc, heads, mark FROM heads")}

    def forget_heads(self, doc_id: str) -> None:
        """Mark ``doc_id`` as not indexed (its search text is to be rebuilt)."""
        self.db.execute("DELETE FROM heads WHERE doc = ?", [doc_id])

    def update(
        self,
        doc_id: str,
        heads: str,
        records: Iterable[tuple[str, dict[str, Any] | None]],
        *,
        replace_doc: bool = False,
        extra_text: dict[str, str] | None = None,
        mark: str | None = None,
    ) -> None:
        """Upsert records of one document (``None`` data removes one) and store its heads.

        ``replace_doc`` first drops everything indexed from the document (full rebuild).
        ``extra_text`` adds searchable text per record id (a document's body); ``mark`` is
        the store state the heads belong to (:meth:`stored_marks`)."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if replace_doc:
                old = conn.execute("SELECT id FROM records WHERE doc = ?", [doc_id]).fetchall()
                conn.executemany(
                    "DELETE FROM search WHERE rowid = ?", [(fts_rowid(r[0]),) for r in old]
                )
                conn.execute("DELETE FROM records WHERE doc = ?", [doc_id])
            rows, fts, removed = [], [], []
            for record_id, data in records:
                removed.append(record_id)
                if data is None or not _belongs(doc_id, record_id, data):
                    continue
                kind = data.get("kind", "")
                spec = KINDS.get(kind)
                title = str(data.get(spec.title_field, "")) if spec else ""
                deleted = 1 if data.get("deleted") else 0
                amount = data.get("amount")
                rows.append(
                    (record_id, kind, doc_id, title, deleted)
                    + tuple(
                        None if data.get(c) is None else str(data.get(c)) for c in FILTER_COLUMNS
                    )
                    + (amount if isinstance(amount, int | float) else None,
                       data.get("updated_at"), json.dumps(data))
                )
                if not deleted:
                    body = _search_text(kind, data)
                    if extra_text and record_id in extra_text:
                        body = f"{body}\n{extra_text[record_id]}"
                    fts.append((fts_rowid(record_id), record_id, kind, title, body))
            held = _ruled_elsewhere(conn, doc_id, removed)
            if held:
                removed = [r for r in removed if r not in held]
                rows = [r for r in rows if r[0] not in held]
                fts = [f for f in fts if f[1] not in held]
            conn.executemany(
                "DELETE FROM search WHERE rowid = ?", [(fts_rowid(r),) for r in removed]
            )
            conn.executemany("DELETE FROM records WHERE id = ?", [(r,) for r in removed])
            conn.executemany(
                "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows
            )
            conn.executemany(
                "INSERT INTO search (rowid, id, kind, title, body) VALUES (?,?,?,?,?)", fts
            )
            conn.execute(
                "INSERT OR REPLACE INTO heads (doc, heads, mark) VALUES (?, ?, ?)",
                [doc_id, heads, mark],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def set_text(
        self, record_id: str, kind: str, title: str, body: str, *, heads: str | None = None,
        mark: str | None = None,
    ) -> None:
        """Refresh the searchable body of one record (a co-edited document's text); ``heads``
        records which state of its ``doc:<id>`` document that text is."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if heads is not None:
                conn.execute("INSERT OR REPLACE INTO heads (doc, heads, mark) VALUES (?, ?, ?)",
                             [f"doc:{record_id}", heads, mark])
            rowid = fts_rowid(record_id)
            conn.execute("DELETE FROM search WHERE rowid = ?", [rowid])
            conn.execute(
                "INSERT INTO search (rowid, id, kind, title, body) VALUES (?,?,?,?,?)",
                [rowid, record_id, kind, title, body],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Indexed values of these records (those indexed), in one query."""
        wanted = list(ids)
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rid, data in self.db.execute(
                f"SELECT id, data FROM records WHERE id IN ({marks})", chunk
            ):
                out[rid] = json.loads(data)
        return out

    def doc_of(self, record_id: str) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT kind, doc FROM records WHERE id = ?", [record_id]
        ).fetchone()
        return (row[0], row[1]) if row else None

    def ids_with_prefix(self, prefix: str) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM records WHERE id >= ? AND id < ? LIMIT 3", [prefix, prefix + "\uffff"]
        )
        return [r[0] for r in rows]

    def list(
        self,
        kind: str,
        *,
        include_deleted: bool = False,
        order: str = "updated_at DESC",
        limit: int | None = None,
        close_from: str | None = None,
        close_to: str | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Records of ``kind`` matching equality ``filters`` and an inclusive close-date range
        (a quarter's forecast decodes only that quarter's deals)."""
        sql = ["SELECT data FROM records WHERE kind = ?"]
        args: list[Any] = [kind]
        if not include_deleted:
            sql.append("AND deleted = 0")
        if close_from is not None:
            sql.append("AND close_date >= ?")
            args.append(close_from)
        if close_to is not None:
            sql.append("AND close_date <= ?")
            args.append(close_to)
        for column, value in filters.items():
            if value is None:
                continue
            if column not in FILTER_COLUMNS:
                raise ValueError(f"cannot filter on {column}")
            sql.append(f"AND {column} = ?")
            args.append(str(value))
        if order not in ("updated_at DESC", "close_date", "title", "updated_at"):
            raise ValueError(f"cannot order by {order}")
        sql.append(f"ORDER BY {order}")
        if limit:
            sql.append(f"LIMIT {int(limit)}")
        return [json.loads(r[0]) for r in self.db.execute(" ".join(sql), args)]

    def search(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        query = fts_query(text)
        if not query:
            return []
        rows = self.db.execute(
            "SELECT rowid, id, kind, title, CASE WHEN length(body) <= ? THEN "
            "snippet(search, 3, '[', ']', '…', 12) END, rank FROM search "
            "WHERE search MATCH ? ORDER BY rank LIMIT ?",
            [LONG_BODY, query, limit],
        ).fetchall()
        out = []
        for rowid, i, k, t, s, _ in rows:
            if s is None:
                body = self.db.execute("SELECT body FROM search WHERE rowid = ?", [rowid])
                s = quick_snippet(body.fetchone()[0] or "", text)
            out.append({"id": i, "kind": k, "title": t, "snippet": s})
        return out

    def close(self) -> None:
        self.db.conn.close()


def _ruled_elsewhere(conn: Any, doc_id: str, ids: list[str]) -> set[str]:
    """The ``ids`` a ruled document other than ``doc_id`` holds (crdt.schema.RULED_DOCS): a
    record of another document under such an id (a rep's record in the pipeline, which is
    not judged record by record) never replaces or hides a forecast call or action item."""
    ruled = [d for d in RULED_DOCS if d != doc_id]
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = conn.execute(f"SELECT id FROM records WHERE doc IN ({','.join('?' * len(ruled))})"
                            f" AND id IN ({','.join('?' * len(chunk))})", [*ruled, *chunk])
        found.update(r[0] for r in rows)
    return found


def _belongs(doc_id: str, record_id: str, data: dict[str, Any]) -> bool:
    """May this record be listed from this document? A shared space's document holds only
    what a space may (docs/SECURITY.md): a record of another kind there (written before every
    peer refused such changes) is never listed, searched or counted as a team record; nor is
    a forecast call or action item outside the document whose rules judge it (listed_from)."""
    kind = data.get("kind")
    if not listed_from(kind, doc_id):
        return False
    if not doc_id.startswith(space_doc_id("")):
        return True
    return kind in SPACE_KINDS or (kind == "space" and doc_id == space_doc_id(record_id))
