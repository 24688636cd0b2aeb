"""A profile written by an older Bullpen opens in a newer one (app/storage/migrations.py).

The committed fixture tests/fixtures/profile_v1/ was written by store version 1 (see
make_profile_v1.py); tests always work on a copy, since opening a profile writes to it.
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import pytest

from bullpen.app.storage import migrations, store
from bullpen.app.storage.keys import subkey, unlock
from bullpen.app.storage.store import SCHEMA_VERSION, Store, StoreError
from bullpen.app.workspace import Workspace

FIXTURE = Path(__file__).parent / "fixtures" / "profile_v1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def old_home(tmp_path: Path) -> Path:
    home = tmp_path / "profile"
    shutil.copytree(FIXTURE / "home", home)
    return home


def open_store(home: Path) -> Store:
    key = unlock(home, EXPECTED["passphrase"])
    return Store(home / "store.db", subkey(key, "store"))


def table_columns(st: Store, table: str) -> list[str]:
    return [r[1] for r in st.db.execute(f"PRAGMA table_info({table})").fetchall()]


def test_fixture_written_by_version_1_opens_with_everything(old_home: Path) -> None:
    assert EXPECTED["schema_version"] == 1
    ws = Workspace.open(old_home, passphrase=EXPECTED["passphrase"])
    try:
        status = ws.status()
        for key, value in EXPECTED["status"].items():
            assert status[key] == value
        opps = sorted(
            ({k: o.get(k) for k in ("id", "account", "title", "amount", "stage", "next_step")}
             for o in ws.list("opportunity")), key=lambda o: o["id"])
        assert opps == EXPECTED["opportunities"]
        assert ws.get(EXPECTED["contact"])["name"] == "Ann Lee"
        assert ws.document(EXPECTED["document"]["id"])["text"] == EXPECTED["document"]["text"]
        assert len(ws.history(EXPECTED["opportunities"][0]["id"])) >= 1
        assert ws.search("Initech")
        # and it keeps working: a new edit on the old profile
        ws.update(EXPECTED["opportunities"][0]["id"], {"stage": "proposal"})
        assert ws.store.get_meta("schema_version") == str(SCHEMA_VERSION)
    finally:
        ws.close()


def test_fixture_opens_without_its_derived_index(old_home: Path) -> None:
    """An upgrade may change the index layout: a missing index.db is rebuilt, not an error."""
    (old_home / "index.db").unlink()
    ws = Workspace.open(old_home, passphrase=EXPECTED["passphrase"])
    try:
        assert len(ws.list("opportunity")) == len(EXPECTED["opportunities"])
    finally:
        ws.close()


def two_steps(calls: list[int]) -> dict[int, migrations.Step]:
    def one_to_two(st: Store) -> None:
        calls.append(1)
        st.db.execute("ALTER TABLE peers ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    def two_to_three(st: Store) -> None:
        calls.append(2)
        st.db.execute("CREATE TABLE drafts (id TEXT PRIMARY KEY, body TEXT)")
        st.set_meta("drafts_enabled", "1")

    return {1: one_to_two, 2: two_to_three}


def test_steps_run_in_order_after_a_backup(old_home: Path) -> None:
    st = open_store(old_home)
    calls: list[int] = []
    try:
        saved = migrations.migrate(st, 3, two_steps(calls))
        assert calls == [1, 2]
        assert st.get_meta("schema_version") == "3"
        assert "pinned" in table_columns(st, "peers")
        assert st.get_meta("drafts_enabled") == "1"
        assert saved is not None and saved.parent == old_home / migrations.BACKUP_DIR
        assert "-v1-" in saved.name
        # the second open (or a second process) finds nothing to do and takes no new backup
        assert migrations.migrate(st, 3, two_steps(calls)) is None
        assert calls == [1, 2]
    finally:
        st.close()
    backup = open_store_file(old_home, saved)
    try:
        assert backup.get_meta("schema_version") == "1"
        assert "pinned" not in table_columns(backup, "peers")
    finally:
        backup.close()


def open_store_file(home: Path, path: Path) -> Store:
    key = unlock(home, EXPECTED["passphrase"])
    return Store(path, subkey(key, "store"))


def test_a_failing_step_changes_nothing_and_names_the_backup(old_home: Path) -> None:
    st = open_store(old_home)
    before = st.db.execute("SELECT COUNT(*), MAX(seq) FROM changes").fetchone()

    def broken(_: Store) -> None:
        raise RuntimeError("disk full")

    steps = two_steps([])
    steps[2] = broken
    try:
        with pytest.raises(StoreError, match="nothing was changed.*backups"):
            migrations.migrate(st, 3, steps)
        assert st.get_meta("schema_version") == "1"
        assert "pinned" not in table_columns(st, "peers")  # step 1 was rolled back too
        assert st.db.execute("SELECT COUNT(*), MAX(seq) FROM changes").fetchone() == before
    finally:
        st.close()
    assert list((old_home / migrations.BACKUP_DIR).iterdir())
    ws = Workspace.open(old_home, passphrase=EXPECTED["passphrase"])
    ws.close()


def test_a_missing_step_refuses_to_open(old_home: Path) -> None:
    st = open_store(old_home)
    try:
        with pytest.raises(StoreError, match="no migration from store version 2 to 3"):
            migrations.migrate(st, 3, {1: lambda s: None})
        assert st.get_meta("schema_version") == "1"
        assert not (old_home / migrations.BACKUP_DIR).exists()  # refused before copying
    finally:
        st.close()


def test_current_store_is_untouched(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "fresh", "Dana", "Acme")
    try:
        assert migrations.migrate(ws.store, SCHEMA_VERSION) is None
        assert not (tmp_path / "fresh" / migrations.BACKUP_DIR).exists()
    finally:
        ws.close()


def test_registry_refuses_two_steps_from_one_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "STEPS", {})
    migrations.step(1)(lambda s: None)
    with pytest.raises(ValueError, match="two migration steps"):
        migrations.step(1)(lambda s: None)


def test_every_version_up_to_the_current_one_has_a_step() -> None:
    """Bumping SCHEMA_VERSION without registering the step would strand old profiles."""
    assert migrations.plan(1, SCHEMA_VERSION) == list(range(1, SCHEMA_VERSION))


def test_store_runs_migrations_when_opened(old_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through Workspace.open once Store.__init__ calls migrations.migrate."""
    if "migrate" not in inspect.getsource(Store.__init__):
        pytest.skip("Store.__init__ does not call bullpen.app.storage.migrations.migrate yet")
    calls: list[int] = []
    monkeypatch.setattr(migrations, "STEPS", two_steps(calls))
    monkeypatch.setattr(store, "SCHEMA_VERSION", 3)
    ws = Workspace.open(old_home, passphrase=EXPECTED["passphrase"])
    try:
        assert calls == [1, 2]
        assert ws.store.get_meta("schema_version") == "3"
        assert len(ws.list("opportunity")) == len(EXPECTED["opportunities"])
    finally:
        ws.close()
