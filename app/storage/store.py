"""Crash-safe local persistence of automerge documents in SQLite (WAL).

Each local or received change is appended as its own row, so one field edit costs one small
insert and one WAL fsync, never a full save. A document is loaded as its latest snapshot plus
the change rows after it. Compaction writes a new snapshot and deletes the rows it covers in
one SQLite transaction, so a kill -9 at any moment leaves either the old or the new state.

Several processes (the CLI beside a running node or desktop app) share one store: each
remembers the last row it has seen and picks up the others' rows with :meth:`Store.rows_after`.
A compaction bumps the document's ``generation``, telling the others to reload it. Whether
another process committed anything at all is one cheap question (:meth:`Store.data_version`),
and its commits write the files :meth:`Store.written_files` names, which a running node waits
on instead of asking again and again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bullpen.app.errors import UserError
from bullpen.app.members.authorship import Proofs, Signature
from bullpen.app.storage.db import DatabaseError, check_pages, connect

SCHEMA_VERSION = 1


class StoreError(UserError, RuntimeError):
    """The store cannot be opened or read; the message names the file and what to do."""


@dataclass
class StoredDoc:
    doc_id: str
    snapshot: bytes | None
    changes: list[tuple[int, bytes]]  # (row id, change bytes)
    generation: int


def _damaged(path: Path, exc: Exception) -> StoreError:
    return StoreError(
        f"{path}: the workspace store is damaged or was not written with this profile's key "
        f"({exc}). Nothing was changed. "
        f"Copy the profile folder aside, then run `bullpen recover` to salvage every readable "
        f"document and change, or re-sync from a teammate."
    )


class Store:
    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._doc_ids: set[str] | None = None
        try:
            # FULL: a confirmed write is on disk even if the machine loses power, not only
            # when the process is killed.
            self.db = connect(path, key, synchronous="FULL",
                              damaged=lambda exc: _damaged(path, exc))
            check_pages(self.db)
            self._create()
            from bullpen.app.storage.migrations import (
                migrate,  # late import: migrations.py imports this module
            )

            migrate(self, SCHEMA_VERSION)
        except DatabaseError as exc:
            raise _damaged(path, exc) from exc

    def _create(self) -> None:
        with self.transaction():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS docs (doc_id TEXT PRIMARY KEY, snapshot BLOB, "
                "generation INTEGER NOT NULL DEFAULT 0)"
            )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "doc_id TEXT NOT NULL, bytes BLOB NOT NULL)"
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS changes_doc ON changes (doc_id, seq)")
            # every document with change rows has a docs row (append writes both); early
            # stores may lack some
            self.db.execute(
                "INSERT OR IGNORE INTO docs (doc_id, generation) "
                "SELECT DISTINCT doc_id, 0 FROM changes"
            )
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            # authors' signatures of changes and managers' vouches (app/members/authorship.py), kept
            # when a compaction folds the change rows: they are what lets a peer pass them on
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS sigs (hash BLOB NOT NULL, signer BLOB NOT NULL, "
                "doc_id TEXT NOT NULL, actor BLOB NOT NULL, seq INTEGER NOT NULL, "
                "sig BLOB NOT NULL, PRIMARY KEY (hash, signer))"
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS sigs_actor ON sigs (doc_id, actor, seq)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS peers (peer_id TEXT PRIMARY KEY, addrs TEXT, "
                "name TEXT, last_seen TEXT)"
            )
            version = self.get_meta("schema_version")
            if version is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            elif int(version) > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer Bullpen (store version {version}); "
                    f"upgrade Bullpen to open it"
                )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable write (BEGIN IMMEDIATE so writers queue instead of failing)."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def doc_ids(self) -> list[str]:
        """Every stored document this process has seen (the sync asks this per document and
        message, so it is kept in memory; :meth:`rows_after` adds other processes' new ones)."""
        return sorted(self._known())

    def has_doc(self, doc_id: str) -> bool:
        return doc_id in self._known()

    def _known(self) -> set[str]:
        if self._doc_ids is None:
            self._doc_ids = {r[0] for r in self.db.execute("SELECT doc_id FROM docs")}
        return self._doc_ids

    def _saw(self, doc_id: str) -> None:
        if self._doc_ids is not None:
            self._doc_ids.add(doc_id)

    def load(self, doc_id: str) -> StoredDoc:
        try:
            row = self.db.execute(
                "SELECT snapshot, generation FROM docs WHERE doc_id = ?", [doc_id]
            ).fetchone()
            changes = self.db.execute(
                "SELECT seq, bytes FROM changes WHERE doc_id = ? ORDER BY seq", [doc_id]
            ).fetchall()
        except DatabaseError as exc:
            raise _damaged(self.path, exc) from exc
        snapshot, generation = row if row else (None, 0)
        return StoredDoc(doc_id, snapshot, [(s, bytes(b)) for s, b in changes], generation)

    def append(self, items: Iterable[tuple[str, bytes]], sigs: Iterable[Signature] = ()) -> int:
        """Durably append change rows and their authors' signatures (one transaction);
        returns the last row id."""
        last = 0
        written: set[str] = set()
        with self.transaction():
            self.put_sigs(sigs)
            for doc_id, data in items:
                written.add(doc_id)
                cur = self.db.execute(
                    "INSERT INTO changes (doc_id, bytes) VALUES (?, ?)", [doc_id, data]
                )
                last = cur.lastrowid or last
                self.db.execute(
                    "INSERT OR IGNORE INTO docs (doc_id, generation) VALUES (?, 0)", [doc_id]
                )
        for doc_id in written:
            self._saw(doc_id)
        return last

    def put_sigs(self, sigs: Iterable[Signature]) -> None:
        """Store authors' signatures of changes (with the changes, or of changes already
        stored), in the caller's transaction."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO sigs (hash, signer, doc_id, actor, seq, sig) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(s.change_hash, s.signer, s.doc_id, s.actor, s.seq, s.sig) for s in sigs])

    def sigs_for(self, hashes: Iterable[bytes]) -> Proofs:
        """The stored proofs of these changes."""
        out: Proofs = {}
        wanted = list(hashes)
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            rows = self.db.execute(
                f"SELECT hash, signer, sig FROM sigs WHERE hash IN "
                f"({','.join('?' * len(part))})", part)
            out.update(((bytes(h), bytes(k)), bytes(s)) for h, k, s in rows)
        return out

    def newest_sigs(self, doc_id: str) -> Proofs:
        """Each actor's newest stored proof in ``doc_id`` (per signer): enough to prove every
        change of a whole document (see app/members/authorship.py)."""
        rows = self.db.execute(
            "SELECT s.hash, s.signer, s.sig FROM sigs s JOIN (SELECT actor, signer, "
            "MAX(seq) AS seq FROM sigs WHERE doc_id = ? GROUP BY actor, signer) m "
            "ON s.actor = m.actor AND s.signer = m.signer AND s.seq = m.seq "
            "WHERE s.doc_id = ?", [doc_id, doc_id])
        return {(bytes(h), bytes(k)): bytes(s) for h, k, s in rows}

    def data_version(self) -> int:
        """A number that changes when another connection (another process) commits to this
        store, and only then: SQLite's ``PRAGMA data_version``, answered from the shared
        memory index without reading a table."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def written_files(self) -> list[Path]:
        """The files a commit writes: the write-ahead log (a checkpoint then writes the
        database file)."""
        return [self.path.with_name(self.path.name + "-wal"), self.path]

    def max_seq(self) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM changes").fetchone()
        return row[0] or 0

    def rows_after(self, seq: int) -> list[tuple[int, str, bytes]]:
        rows = self.db.execute(
            "SELECT seq, doc_id, bytes FROM changes WHERE seq > ? ORDER BY seq", [seq]
        )
        out = [(s, d, bytes(b)) for s, d, b in rows]
        for _, doc_id, _ in out:
            self._saw(doc_id)
        return out

    def generations(self) -> dict[str, int]:
        found = dict(self.db.execute("SELECT doc_id, generation FROM docs").fetchall())
        for doc_id in found:
            self._saw(doc_id)
        return found

    def marks(self) -> dict[str, str]:
        """Each document's stored state as ``generation:last row``, without reading any
        document: equal marks mean the same snapshot and change rows (rows are only ever
        appended, and a compaction bumps the generation), so the index can tell it is current
        without loading the automerge documents."""
        rows = self.db.execute(
            "SELECT d.doc_id, d.generation, "
            "(SELECT MAX(seq) FROM changes c WHERE c.doc_id = d.doc_id) FROM docs d"
        ).fetchall()
        for doc_id, _, _ in rows:
            self._saw(doc_id)
        return {doc_id: f"{gen}:{last or 0}" for doc_id, gen, last in rows}

    def last_seq(self, doc_id: str, upto: int) -> int:
        """The last change row of ``doc_id`` at or before row ``upto`` (0: none)."""
        row = self.db.execute(
            "SELECT MAX(seq) FROM changes WHERE doc_id = ? AND seq <= ?", [doc_id, upto]
        ).fetchone()
        return row[0] or 0

    def change_count(self, doc_id: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM changes WHERE doc_id = ?", [doc_id])
        return row.fetchone()[0]

    def compact(self, doc_id: str, snapshot: bytes, upto_seq: int,
                sigs: Iterable[Signature] = ()) -> None:
        """Replace rows up to ``upto_seq`` by ``snapshot`` (which must include them); with
        ``sigs``, store the signatures of a received whole document in the same write."""
        with self.transaction():
            self.put_sigs(sigs)
            self.db.execute(
                "INSERT INTO docs (doc_id, snapshot, generation) VALUES (?, ?, 1) "
                "ON CONFLICT(doc_id) DO UPDATE SET snapshot = excluded.snapshot, "
                "generation = generation + 1",
                [doc_id, snapshot],
            )
            self.db.execute(
                "DELETE FROM changes WHERE doc_id = ? AND seq <= ?", [doc_id, upto_seq]
            )
        self._saw(doc_id)

    def close(self) -> None:
        self.db.conn.close()
