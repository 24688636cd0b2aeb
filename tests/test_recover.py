"""`bullpen recover` on real damaged SQLCipher stores: every readable row is kept, the report
says exactly what was kept and lost, and the damaged file is kept untouched.

Damage is 32 bytes overwritten inside one page, as a bad disk sector or a stray write would
leave it: SQLCipher's page HMAC then makes that whole page unreadable.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helpers import opp_fields
from helpers_procs import cli

from bullpen.app.members import authorship, old_changes
from bullpen.app.storage.db import DatabaseError, connect
from bullpen.app.storage.keys import subkey, unlock
from bullpen.app.storage.recover import recover
from bullpen.app.workspace import Workspace

PAGE = 4096


def _profile(home: Path, opportunities: int, contacts: int) -> tuple[list[str], list[str]]:
    """Opportunities first, then contacts, each its own change row (no compaction)."""
    ws = Workspace.create(home, "Dana", "Acme")
    opps = [ws.add("opportunity", opp_fields(title=f"Deal {n}")) for n in range(opportunities)]
    people = [ws.add("contact", {"name": f"Person {n}"}) for n in range(contacts)]
    ws.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    return opps, people


def _damage(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xab" * 32)


def _readable(home: Path, sql: str) -> bool:
    conn = connect(home / "store.db", subkey(unlock(home), "store")).conn
    try:
        conn.execute(sql).fetchall()
        return True
    except (DatabaseError, MemoryError):
        return False
    finally:
        conn.close()


def _seqs(home: Path, doc_id: str) -> tuple[int, int]:
    conn = connect(home / "store.db", subkey(unlock(home), "store")).conn
    try:
        return conn.execute("SELECT MIN(seq), MAX(seq) FROM changes WHERE doc_id = ?",
                            [doc_id]).fetchone()
    finally:
        conn.close()


def _count(home: Path, sql: str) -> int:
    conn = connect(home / "store.db", subkey(unlock(home), "store")).conn
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_bad_page_among_the_pipeline_rows_loses_only_what_it_must(tmp_path: Path) -> None:
    home = tmp_path / "p"
    opps, people = _profile(home, 150, 100)
    low, high = _seqs(home, "pipeline")
    size = (home / "store.db").stat().st_size
    original = (home / "store.db").read_bytes()
    for page in range(size // PAGE // 4, size // PAGE):  # a page holding pipeline rows only
        _damage(home / "store.db", page * PAGE + 1000)
        if (not _readable(home, f"SELECT bytes FROM changes WHERE seq BETWEEN {low} AND {high}")
                and _readable(home, "SELECT bytes FROM changes WHERE doc_id = 'contacts'")):
            break
        (home / "store.db").write_bytes(original)
    else:
        raise AssertionError("no page holds only pipeline rows")
    damaged = _digest(home / "store.db")

    report = recover(home)

    assert report["ok"], report
    assert _digest(home / "store.db.damaged-1") == damaged
    assert _count(home, "SELECT COUNT(*) FROM sigs WHERE doc_id = 'contacts'") > 0  # salvaged
    ws = Workspace.open(home)
    try:
        # the contacts stay provable (their proofs were salvaged); nothing is signed again on
        # open: a recovered store may hold changes planted under this profile's key
        newest = authorship.newest_by_actor(ws.doc("contacts").get_changes([]))
        assert {h for h, _ in ws.store.sigs_for(c.hash for c in newest)} == {
            c.hash for c in newest}
        assert ws.store.get_meta(old_changes.DONE)
        kept_opps = {o["id"] for o in ws.list("opportunity")}
        assert {c["id"] for c in ws.list("contact")} == set(people)  # another document
        assert kept_opps and kept_opps < set(opps)
        # an opportunity is kept exactly when the rows before it are (each one builds on them)
        assert kept_opps == set(opps[: len(kept_opps)])
    finally:
        ws.close()
    lost = json.loads((home / "store.db.damaged-1.lost-records.json").read_text())
    assert {r["id"] for r in lost} == set(opps) - kept_opps
    text = "\n".join(report["messages"])
    assert f"{len(lost)} records the old search index listed are lost" in text
    assert "document pipeline: kept" in text and "unreadable change rows" in text
    assert "document contacts" not in text  # nothing of it was lost
    assert report["dropped"] == len(opps) - len(kept_opps)


def test_a_bad_documents_table_page_is_reported_not_a_crash(tmp_path: Path) -> None:
    """The damage the issue saw at offset 5000 (the documents table's page): a MemoryError
    from the binding, nothing salvaged. Every change row is still kept."""
    home = tmp_path / "p"
    opps, people = _profile(home, 20, 10)
    conn = connect(home / "store.db", subkey(unlock(home), "store")).conn
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'docs'").fetchone()[0]
    conn.close()
    _damage(home / "store.db", (root - 1) * PAGE + 904)
    proc = cli(home, "recover")
    assert "document pipeline" in proc.stdout and "unreadable document entries" in proc.stdout
    assert "lost 0 changes" in proc.stdout
    ws = Workspace.open(home)
    try:
        assert {o["id"] for o in ws.list("opportunity")} == set(opps)
        assert {c["id"] for c in ws.list("contact")} == set(people)
    finally:
        ws.close()


def test_a_store_with_nothing_readable_is_left_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "p"
    _profile(home, 2, 0)
    _damage(home / "store.db", 200)  # the first page: the schema
    before = _digest(home / "store.db")
    proc = cli(home, "recover", check=False)
    assert proc.returncode == 1
    assert "nothing is readable" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert _digest(home / "store.db") == before
    assert not list(home.glob("store.db.damaged-*"))


def test_a_healthy_store_is_reported_sound_and_left_untouched(tmp_path: Path) -> None:
    """Issue 12/13: `recover` on a sound store said "the damaged store is kept as ..." and
    rewrote it; it must say nothing was damaged, what it checked, and change nothing."""
    home = tmp_path / "p"
    opps, _ = _profile(home, 3, 2)
    before = _digest(home / "store.db")
    proc = cli(home, "recover")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "store.db is not damaged: nothing was lost and nothing was changed"
    assert lines[1].startswith("checked: all ") and "pages pass their checksum" in lines[1]
    assert "damaged store" not in proc.stdout and "lost 0" not in proc.stdout
    assert _digest(home / "store.db") == before
    assert not list(home.glob("store.db.damaged-*"))
    ws = Workspace.open(home)
    try:
        assert {r["id"] for r in ws.list("opportunity")} == set(opps)
    finally:
        ws.close()
