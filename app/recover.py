"""Salvage a damaged store: keep every document and change row that still reads.

The damaged file is never modified: readable data is copied into a fresh store beside it, then
the two are swapped, keeping the damaged one as ``store.db.damaged-N`` for a later look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automerge.core import Document

from bullpen.crdt import changes as am_changes

from .db import DatabaseError, connect
from .keys import PassphraseSource, subkey, unlock
from .store import Store


def _readable_rows(
    path: Path, key: bytes
) -> tuple[dict[str, bytes], list[tuple[str, bytes]], list[str], dict]:
    """Everything sqlite can still read, row by row (a bad page loses only its rows)."""
    snapshots: dict[str, bytes] = {}
    rows: list[tuple[str, bytes]] = []
    problems: list[str] = []
    meta: dict[str, str] = {}
    conn = connect(path, key).conn
    for table, sink in (("meta", "meta"), ("docs", "docs"), ("changes", "changes")):
        try:
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
            while True:
                try:
                    row = cursor.fetchone()
                except DatabaseError as exc:
                    problems.append(f"{table}: stopped at an unreadable row ({exc})")
                    break
                if row is None:
                    break
                if sink == "meta":
                    meta[row[0]] = row[1]
                elif sink == "docs" and row[1] is not None:
                    snapshots[row[0]] = bytes(row[1])
                elif sink == "changes":
                    rows.append((row[1], bytes(row[2])))
        except DatabaseError as exc:
            problems.append(f"{table}: unreadable ({exc})")
    conn.close()
    return snapshots, rows, problems, meta


def recover(home: Path, ask: PassphraseSource | None = None) -> dict[str, Any]:
    path = home / "store.db"
    messages: list[str] = []
    key = subkey(unlock(home, None, ask), "store")
    try:
        snapshots, rows, problems, meta = _readable_rows(path, key)
    except DatabaseError as exc:
        return {"ok": False, "messages": [f"{path}: nothing is readable ({exc}); re-sync "
                                          f"from a teammate with `bullpen sync --peer ADDR`"]}
    messages.extend(problems)
    kept: dict[str, Document] = {}
    dropped = 0
    for doc_id in sorted(set(snapshots) | {d for d, _ in rows}):
        base = snapshots.get(doc_id)
        try:
            doc = Document.load(base) if base else Document()
        except Exception:
            messages.append(f"document {doc_id}: snapshot unreadable, keeping its changes only")
            doc = Document()
        for d, data in rows:
            if d != doc_id:
                continue
            try:
                am_changes.apply_changes(doc, [data])
            except Exception:
                dropped += 1
        kept[doc_id] = doc
    fresh_path = home / "store.db.recovered"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{fresh_path}{suffix}").unlink(missing_ok=True)
    fresh = Store(fresh_path, key)
    with fresh.transaction():
        for key, value in meta.items():
            fresh.set_meta(key, value)
    for doc_id, doc in kept.items():
        fresh.compact(doc_id, doc.save(), 0)
    fresh.close()
    n = 1
    while (home / f"store.db.damaged-{n}").exists():
        n += 1
    path.rename(home / f"store.db.damaged-{n}")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fresh_path.rename(path)
    (home / "index.db").unlink(missing_ok=True)
    messages.append(
        f"recovered {len(kept)} documents; dropped {dropped} unreadable changes; "
        f"the damaged store is kept as store.db.damaged-{n}"
    )
    return {"ok": True, "messages": messages, "documents": len(kept), "dropped": dropped}
