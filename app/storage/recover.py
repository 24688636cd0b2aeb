"""Salvage a damaged store: keep every row that still reads, and say exactly what was lost.

SQLCipher authenticates every page, so damage makes whole pages unreadable (an error, or a
MemoryError from the binding), never wrong bytes. Each table is read by rowid ranges, and a
range that fails is split in two until each unreadable row is isolated: one bad page loses
only the rows stored on it. Which rows exist comes from the table's own index (a separate
B-tree: ``changes_doc`` also says which document each change row belonged to), so the rows
lost are counted and named by document; records the old search index listed that the
recovered documents lack are named too. Changes that read but build on lost ones cannot be
applied and are counted as lost.

The damaged files are never modified: they are read from a scratch copy, the salvaged data is
written to a fresh store beside them, then the two are swapped, keeping the damaged one as
``store.db.damaged-N`` for a later look. The search index is rebuilt at the next open.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automerge.core import Document

from bullpen.app.members.authorship import Signature
from bullpen.app.storage.db import DatabaseError, connect
from bullpen.app.storage.keys import PassphraseSource, subkey, unlock
from bullpen.app.storage.search_index import Index
from bullpen.app.storage.store import Store
from bullpen.crdt import changes as am_changes
from bullpen.crdt import records as rec
from bullpen.crdt.schema import KINDS

UNREADABLE = (DatabaseError, MemoryError)  # sqlcipher3 reports some bad pages as NOMEM
SMALL_TABLE_ROWS = 1 << 16  # rowids probed in a table whose size cannot be read at all
MAX_FAILED_PROBES = 4096  # then the rest of an unreadable span is given up as one
LISTED_RECORDS = 20  # lost records named one by one in the report; the rest are counted
LOST_ENTRY = "unreadable document entries (with any snapshot)"
# table -> (its columns to keep, the index listing its rowids)
TABLES = {
    "meta": ("key, value", "sqlite_autoindex_meta_1"),
    "docs": ("rowid, doc_id", "sqlite_autoindex_docs_1"),
    "changes": ("seq, doc_id, bytes", "changes_doc"),
    "peers": ("peer_id, addrs, name, last_seen", "sqlite_autoindex_peers_1"),
    "sigs": ("hash, signer, doc_id, actor, seq, sig", "sigs_actor"),
}


class Reader:
    """Queries on a damaged database. After a failed read sqlcipher3's connection fails every
    later statement too, so each failure reopens it."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path, self.key = path, key
        self.conn = connect(path, key).conn
        self.failures = 0

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any] | None:
        """The rows, or None when a page they need is unreadable."""
        try:
            return self.conn.execute(sql, list(args)).fetchall()
        except UNREADABLE:
            self.failures += 1
            self.conn.close()
            self.conn = connect(self.path, self.key).conn
            return None

    def close(self) -> None:
        self.conn.close()


@dataclass
class TableRead:
    rows: list[Any]
    lost: list[int]  # rowids known to exist (listed by the index) that are unreadable
    unknown: list[tuple[int, int]]  # unreadable rowid spans where nothing says what existed


def read_by_rowid(query: Callable[[int, int], list[Any] | None], keys: Sequence[int]
                  ) -> tuple[list[Any], list[tuple[int, int]]]:
    """Rows of ``query(a, b)`` (rowids in ``[a, b]``) over the sorted rowids ``keys`` (a
    list, or a ``range`` when the rowids are unknown), and the unreadable spans of ``keys``.
    A failing span is split until its bad rowids are isolated, so every readable row around
    a bad page is kept; after MAX_FAILED_PROBES failures the rest is given up span-wise."""
    rows: list[Any] = []
    bad: list[tuple[int, int]] = []
    pending = [(0, len(keys) - 1)] if len(keys) else []
    failures = 0
    while pending:
        i, j = pending.pop()
        found = query(keys[i], keys[j])
        if found is not None:
            rows.extend(found)
            continue
        failures += 1
        if i == j or failures > MAX_FAILED_PROBES:
            bad.append((keys[i], keys[j]))
        else:
            middle = (i + j) // 2
            pending += [(middle + 1, j), (i, middle)]
    return rows, sorted(bad)


def read_table(reader: Reader, table: str, extra_top: Sequence[str] = ()) -> TableRead:
    columns, index = TABLES[table]
    listed = reader.rows(f"SELECT rowid FROM {table} INDEXED BY {index}")
    keys: Sequence[int]
    if listed is not None:
        keys = sorted(r[0] for r in listed)
    else:
        tops = [reader.rows(sql) for sql in (f"SELECT MAX(rowid) FROM {table}", *extra_top)]
        known = [int(t[0][0] or 0) for t in tops if t]
        keys = range(1, (max(known) if known else SMALL_TABLE_ROWS) + 1)
    rows, bad = read_by_rowid(
        lambda a, b: reader.rows(f"SELECT {columns} FROM {table} WHERE rowid BETWEEN ? AND ?",
                                 [a, b]), keys)
    if listed is not None:
        return TableRead(rows, [k for a, b in bad for k in keys if a <= k <= b], [])
    return TableRead(rows, [], bad)


def _spans(spans: list[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@dataclass
class Salvage:
    """What could be read from the damaged store, and what could not."""

    meta: dict[str, str] = field(default_factory=dict)
    docs: dict[str, bytes | None] = field(default_factory=dict)  # doc id -> snapshot
    lost_snapshots: set[str] = field(default_factory=set)
    lost_entries: set[str] = field(default_factory=set)  # docs rows (and any snapshot) lost
    changes: list[tuple[int, str, bytes]] = field(default_factory=list)
    peers: list[tuple[Any, ...]] = field(default_factory=list)
    sigs: list[tuple[Any, ...]] = field(default_factory=list)  # proofs of authorship
    lost_rows: Counter[str] = field(default_factory=Counter)  # doc id -> unreadable rows
    problems: list[str] = field(default_factory=list)


def _read(reader: Reader) -> Salvage:
    out = Salvage()
    meta = read_table(reader, "meta")
    out.meta = dict(meta.rows)
    docs = read_table(reader, "docs")
    for rowid, doc_id in docs.rows:
        found = reader.rows("SELECT snapshot FROM docs WHERE rowid = ?", [rowid])
        if found is None:
            out.lost_snapshots.add(doc_id)
        out.docs[doc_id] = bytes(found[0][0]) if found and found[0][0] is not None else None
    if docs.lost:
        lost = set(docs.lost)
        owners = reader.rows("SELECT rowid, doc_id FROM docs INDEXED BY "
                             f"{TABLES['docs'][1]}") or []
        out.lost_entries = {doc_id for rowid, doc_id in owners if rowid in lost}
    changes = read_table(reader, "changes",
                         ["SELECT seq FROM sqlite_sequence WHERE name = 'changes'"])
    out.changes = [(seq, doc_id, bytes(data)) for seq, doc_id, data in changes.rows]
    if changes.lost:
        lost = set(changes.lost)
        owners = reader.rows("SELECT seq, doc_id FROM changes INDEXED BY changes_doc") or []
        out.lost_rows.update(doc_id for seq, doc_id in owners if seq in lost)
    peers = read_table(reader, "peers")
    out.peers = peers.rows
    tables = [(meta, "meta", "settings of this profile"),
              (docs, "docs", "document entries (with their snapshots)"),
              (changes, "changes", "change rows"), (peers, "peers", "known peer addresses")]
    if reader.rows("SELECT name FROM sqlite_master WHERE name = 'sigs'"):  # newer stores
        sigs = read_table(reader, "sigs")
        out.sigs = sigs.rows
        tables.append((sigs, "sigs", "signatures of changes (teammates who hold the changes "
                                     "do not need them; a newcomer gets them from others)"))
    for read, table, what in tables:
        if read.unknown:
            out.problems.append(f"{what}: rowids {_spans(read.unknown)} of table {table} are "
                                f"unreadable, and so is their list: how many existed is unknown")
        elif read.lost and table not in ("changes", "docs"):  # those are told per document
            out.problems.append(f"{what}: {len(read.lost)} unreadable")
    return out


def _rebuild(salvage: Salvage) -> tuple[dict[str, Document], dict[str, Counter[str]]]:
    """Each document from its snapshot and its readable change rows, and per document what
    was kept and lost (counts by reason)."""
    by_doc: dict[str, list[bytes]] = defaultdict(list)
    for _, doc_id, data in sorted(salvage.changes):
        by_doc[doc_id].append(data)
    kept: dict[str, Document] = {}
    tally: dict[str, Counter[str]] = {}
    known = set(salvage.docs) | set(by_doc) | set(salvage.lost_rows) | salvage.lost_entries
    for doc_id in sorted(known):
        count: Counter[str] = Counter()
        snapshot = salvage.docs.get(doc_id)
        doc = Document()
        if doc_id in salvage.lost_entries:
            count[LOST_ENTRY] += 1
        if doc_id in salvage.lost_snapshots:
            count["unreadable snapshots"] += 1
        elif snapshot is not None:
            try:
                doc = Document.load(snapshot)
                count["snapshot kept"] += 1
            except Exception:  # automerge raises a bare Exception on a bad document
                count["unreadable snapshots"] += 1
        good: dict[bytes, bytes] = {}
        for data in by_doc[doc_id]:
            try:
                good[am_changes.parse_change(data).hash] = data
            except am_changes.BadChange:
                count["damaged changes"] += 1
        try:
            am_changes.apply_changes(doc, list(good.values()))
        except Exception:  # one the core rejects: apply one by one, dropping such ones
            for change_hash, data in list(good.items()):
                try:
                    am_changes.apply_changes(doc, [data])
                except Exception:
                    del good[change_hash]
                    count["damaged changes"] += 1
        held = {c.hash for c in doc.get_changes([])}
        count["change kept"] += sum(1 for h in good if h in held)
        count["changes building on lost ones"] += sum(1 for h in good if h not in held)
        count["unreadable change rows"] += salvage.lost_rows[doc_id]
        tally[doc_id] = count
        if doc.get_heads():
            kept[doc_id] = doc
    return kept, tally


def _lost_records(home: Path, key: bytes, kept: dict[str, Document]
                  ) -> list[dict[str, Any]] | None:
    """Records the old search index listed that no recovered document holds, with the values
    it indexed (None: the old index could not be read, so they cannot be named)."""
    path = home / "index.db"
    if not path.exists():
        return None
    try:
        index = Index(path, subkey(key, "index"))
        listed = [r for kind in KINDS for r in index.list(kind, include_deleted=True)]
        places = {r["id"]: index.doc_of(r["id"]) for r in listed}
        indexed = index.stored_marks()
        index.close()
    except (*UNREADABLE, RuntimeError, OSError, ValueError):
        return None
    if not indexed:  # nothing indexed: a damaged or outdated index, dropped when opened
        return None
    lost = []
    for record in listed:
        place = places.get(record["id"])
        doc = kept.get(place[1]) if place else None
        if doc is None or rec.read_record(doc, rec.container(doc, rec.RECORDS),
                                          record["id"]) is None:
            lost.append(record)
    return lost


def _losses(count: Counter[str]) -> int:
    return sum(n for reason, n in count.items() if not reason.endswith("kept"))


def _report(salvage: Salvage, tally: dict[str, Counter[str]],
            lost: list[dict[str, Any]] | None, lost_file: Path) -> list[str]:
    lines = list(salvage.problems)
    totals: Counter[str] = Counter()
    for doc_id, count in tally.items():
        totals.update(count)
        if _losses(count):
            losses = [f"{reason}: {n}" for reason, n in sorted(count.items())
                      if n and not reason.endswith("kept")]
            lines.append(f"document {doc_id}: kept {count['change kept']} changes"
                         f"{' and its snapshot' if count['snapshot kept'] else ''}; "
                         f"lost {', '.join(losses)}")
    if lost is None:
        lines.append("the old search index is not readable: lost records cannot be named")
    elif lost:
        lines.append(f"{len(lost)} records the old search index listed are lost (their last "
                     f"indexed values are in {lost_file.name}; a teammate's copy has them too):")
        for item in lost[:LISTED_RECORDS]:
            title = item.get(KINDS[item["kind"]].title_field) or ""
            lines.append(f"  {item['kind']} {item['id']} {title}".rstrip())
        if len(lost) > LISTED_RECORDS:
            lines.append(f"  ... and {len(lost) - LISTED_RECORDS} more")
    snapshots = totals["unreadable snapshots"] + totals[LOST_ENTRY]
    lines.append(
        f"kept {sum(1 for c in tally.values() if c['change kept'] or c['snapshot kept'])} "
        f"documents ({totals['snapshot kept']} snapshots, {totals['change kept']} changes); "
        f"lost {_losses(totals) - snapshots} changes and {snapshots} document snapshots or "
        f"entries"
    )
    return lines


def _scratch_copy(path: Path, into: Path) -> Path:
    """A copy of the store and its WAL to read from (opening a database may write to it)."""
    copy = into / path.name
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    return copy


def _write_fresh(path: Path, key: bytes, salvage: Salvage, kept: dict[str, Document]) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fresh = Store(path, key)
    with fresh.transaction():
        for name, value in salvage.meta.items():
            fresh.set_meta(name, value)
        for peer in salvage.peers:
            fresh.db.execute("INSERT OR REPLACE INTO peers VALUES (?, ?, ?, ?)", list(peer))
        fresh.put_sigs(Signature(doc_id, bytes(h), bytes(actor), seq, bytes(signer), bytes(sig))
                       for h, signer, doc_id, actor, seq, sig in salvage.sigs)
    for doc_id, doc in kept.items():
        fresh.compact(doc_id, doc.save(), 0)
    fresh.close()


def _damaged_name(home: Path) -> Path:
    n = 1
    while (home / f"store.db.damaged-{n}").exists():
        n += 1
    return home / f"store.db.damaged-{n}"


def _swap(home: Path, fresh: Path, damaged: Path) -> None:
    """Put ``fresh`` in place of the store, keeping the damaged one (and its WAL, which
    holds committed rows too) as ``damaged``."""
    path = home / "store.db"
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            Path(f"{path}{suffix}").rename(f"{damaged}{suffix}")
    Path(f"{path}-shm").unlink(missing_ok=True)
    fresh.rename(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{home / 'index.db'}{suffix}").unlink(missing_ok=True)


def _healthy(path: Path, pages: int, salvage: Salvage, tally: dict[str, Counter[str]]
             ) -> dict[str, Any]:
    """The report on a store with nothing to salvage: it is left exactly as it was (rewriting
    a sound store gains nothing and a "damaged" copy beside it would only alarm)."""
    changes = sum(c["change kept"] for c in tally.values())
    snapshots = sum(c["snapshot kept"] for c in tally.values())
    return {"ok": True, "damaged": False, "documents": len(tally), "dropped": 0,
            "kept_changes": changes, "messages": [
                f"{path.name} is not damaged: nothing was lost and nothing was changed",
                f"checked: all {pages} pages pass their checksum; {len(tally)} documents "
                f"({snapshots} snapshots, {changes} changes), {len(salvage.peers)} known peers "
                f"and {len(salvage.meta)} settings read back and load"]}


def recover(home: Path, ask: PassphraseSource | None = None) -> dict[str, Any]:
    """Salvage ``home``'s store into a fresh one; the report lists what was kept and lost.
    A store that reads back whole is left untouched and reported as not damaged."""
    path = home / "store.db"
    if not path.exists():
        return {"ok": False, "messages": [f"{path}: no store to recover"]}
    key = unlock(home, None, ask)
    store_key = subkey(key, "store")
    with tempfile.TemporaryDirectory(dir=home) as scratch:
        try:
            reader = Reader(_scratch_copy(path, Path(scratch)), store_key)
        except UNREADABLE as exc:
            return {"ok": False, "messages": [
                f"{path}: nothing is readable ({exc}); re-sync from a teammate with "
                f"`bullpen join` or `bullpen sync --peer ADDR`"]}
        try:
            salvage = _read(reader)
            pages = reader.rows("PRAGMA page_count")
            bad_pages = reader.rows("PRAGMA cipher_integrity_check")
        finally:
            reader.close()
    kept, tally = _rebuild(salvage)
    if (not reader.failures and pages and bad_pages == [] and not salvage.problems
            and not any(_losses(count) for count in tally.values())):
        return _healthy(path, pages[0][0], salvage, tally)
    damaged = _damaged_name(home)
    lost_file = damaged.with_name(f"{damaged.name}.lost-records.json")
    lost = _lost_records(home, key, kept)
    messages = _report(salvage, tally, lost, lost_file)
    if lost:
        lost_file.write_text(json.dumps(lost, indent=1, ensure_ascii=False))
        lost_file.chmod(0o600)
    fresh = home / "store.db.recovered"
    _write_fresh(fresh, store_key, salvage, kept)
    _swap(home, fresh, damaged)
    messages.append(f"the damaged store is kept as {damaged.name}")
    return {"ok": True, "damaged": True, "messages": messages, "documents": len(kept),
            "dropped": sum(_losses(c) for c in tally.values()),
            "kept_changes": sum(c["change kept"] for c in tally.values())}
