"""Durability and damage handling of the local store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import opp_fields

from bullpen.app.storage.keys import subkey, unlock
from bullpen.app.storage.recover import recover
from bullpen.app.storage.store import Store, StoreError
from bullpen.app.workspace import Workspace

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from bullpen.app.workspace import Workspace
    ws = Workspace.open(Path(sys.argv[1]))
    i = 0
    while True:
        rid = ws.add("opportunity", {"account": f"Acct {i}", "title": "Deal", "amount": i,
                                     "stage": "proposal", "close_date": "2026-12-15"})
        if i % 3 == 0:
            ws.update(rid, {"stage": "negotiation"})
        print(rid, i % 3 == 0, flush=True)
        i += 1
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [7, 40, 120])
def test_confirmed_writes_survive_kill_9(tmp_path: Path, kill_after: int):
    home = tmp_path / "p"
    Workspace.create(home, "Dana", "Acme").close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE, text=True
    )
    confirmed: list[tuple[str, bool]] = []
    assert proc.stdout is not None
    while len(confirmed) < kill_after:
        line = proc.stdout.readline()
        assert line, "writer died early"
        rid, updated = line.split()
        confirmed.append((rid, updated == "True"))
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: the writer is busy with the next record
    proc.wait()
    ws = Workspace.open(home)
    try:
        for rid, updated in confirmed:
            record = ws.get(rid)
            assert record["stage"] == ("negotiation" if updated else "proposal")
        listed = {o["id"] for o in ws.list("opportunity")}
        assert {rid for rid, _ in confirmed} <= listed
        ws.add("opportunity", opp_fields())  # still writable after the crash
    finally:
        ws.close()


def test_garbage_store_gets_a_clear_error(tmp_path: Path):
    home = tmp_path / "p"
    Workspace.create(home, "Dana", "Acme").close()
    (home / "store.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as err:
        Workspace.open(home)
    assert "store.db" in str(err.value)
    assert "recover" in str(err.value)


def test_truncated_store_gets_a_clear_error(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme")
    for i in range(300):
        ws.add("opportunity", opp_fields(account=f"A{i}", notes="x" * 200))
    ws.close()
    data = (home / "store.db").read_bytes()
    (home / "store.db").write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError) as err:
        reopened = Workspace.open(home)
        reopened.list("opportunity")
        reopened.doc("pipeline")
    assert "store.db" in str(err.value)


def test_damaged_change_row_is_named_and_recover_keeps_the_rest(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme")
    ids = [ws.add("contact", {"name": f"C{i}"}) for i in range(5)]
    ws.close()
    store = Store(home / "store.db", subkey(unlock(home), "store"))
    seq = store.db.execute(
        "SELECT MAX(seq) FROM changes WHERE doc_id = 'contacts'"
    ).fetchone()[0]
    store.db.execute("UPDATE changes SET bytes = ? WHERE seq = ?", [b"\x85oJ\x83garbage", seq])
    store.close()
    damaged = Workspace.open(home)  # opening loads no document: the damage shows on use
    with pytest.raises(StoreError) as err:
        damaged.add("contact", {"name": "C5"})
    damaged.close()
    assert "contacts" in str(err.value) and "store.db" in str(err.value)
    report = recover(home)
    assert report["ok"] and report["dropped"] == 1
    ws = Workspace.open(home)
    try:
        names = sorted(c["name"] for c in ws.list("contact"))
        assert names == ["C0", "C1", "C2", "C3"]
        assert ws.get(ids[0])["name"] == "C0"
    finally:
        ws.close()
    assert list(home.glob("store.db.damaged-*"))


def test_compaction_keeps_everything_and_shrinks_rows(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme")
    oid = ws.add("opportunity", opp_fields())
    for amount in range(600):
        ws.update(oid, {"amount": amount})
    digest = ws.digest()
    assert ws.compact() >= 1
    assert ws.store.change_count("pipeline") == 0
    ws.close()
    ws = Workspace.open(home)
    try:
        assert ws.get(oid)["amount"] == 599.0
        assert ws.digest() == digest
        assert len(ws.history(oid)) == 601
    finally:
        ws.close()


@pytest.fixture
def two_openers(tmp_path: Path):
    """One profile opened twice, as by two processes (the app and the CLI)."""
    home = tmp_path / "p"
    first = Workspace.create(home, "Dana", "Acme")
    second = Workspace.open(home)
    yield first, second
    first.close()
    second.close()


def test_second_process_sees_writes_of_the_first(two_openers):
    first, second = two_openers
    seen = []
    second.subscribe(lambda change: seen.append(change))
    oid = first.add("opportunity", opp_fields())
    assert second.get(oid)["account"] == "Acme"
    assert any(oid in c.ids for c in seen)
    second.update(oid, {"stage": "closed_won"})
    first.compact(threshold=1)
    assert first.get(oid)["stage"] == "closed_won"
    third = second.add("contact", {"name": "Ann"})
    assert first.get(third)["name"] == "Ann"
    assert first.digest() == second.digest()


def test_documents_made_by_another_process_are_listed(two_openers):
    first, second = two_openers
    before = set(second.doc_ids())
    rid = first.new_document("Plan", "hello")
    second.refresh()
    new = set(second.doc_ids()) - before
    assert any(doc_id.endswith(rid) for doc_id in new), new
    assert second.document(rid)["text"] == "hello"


def test_store_without_docs_rows_lists_every_document_after_reopen(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme")
    ws.add("contact", {"name": "Ann"})
    expected = ws.doc_ids()
    ws.close()
    key = subkey(unlock(home), "store")
    store = Store(home / "store.db", key)
    store.db.execute("DELETE FROM docs WHERE snapshot IS NULL")  # as early stores had
    store.close()
    store = Store(home / "store.db", key)
    try:
        assert store.doc_ids() == expected
    finally:
        store.close()


def test_index_is_rebuilt_when_missing_or_stale(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme")
    ws.add("opportunity", opp_fields(account="Initech"))
    ws.close()
    (home / "index.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{home / 'index.db'}{suffix}").unlink(missing_ok=True)
    ws = Workspace.open(home)
    assert [o["account"] for o in ws.list("opportunity")] == ["Initech"]
    ws.index.db.execute("DELETE FROM records")
    ws.index.db.execute("UPDATE heads SET heads = 'stale'")
    ws.close()
    ws = Workspace.open(home)
    try:
        assert [o["account"] for o in ws.list("opportunity")] == ["Initech"]
        assert ws.search("initech")[0]["kind"] == "opportunity"
    finally:
        ws.close()


def test_damaged_index_is_dropped_and_rebuilt(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme")
    ws.add("contact", {"name": "Zed"})
    ws.close()
    (home / "index.db").write_bytes(b"garbage" * 1000)
    ws = Workspace.open(home)
    try:
        assert [c["name"] for c in ws.list("contact")] == ["Zed"]
    finally:
        ws.close()


def test_single_edit_appends_one_small_row(ws):
    oid = ws.add("opportunity", opp_fields())
    before = ws.store.max_seq()
    started = time.perf_counter()
    ws.update(oid, {"amount": 1})
    assert ws.store.max_seq() == before + 1
    row = ws.store.db.execute("SELECT length(bytes) FROM changes WHERE seq = ?", [before + 1])
    assert row.fetchone()[0] < 400
    assert time.perf_counter() - started < 5  # sanity only; the figure is in bench/local.py
