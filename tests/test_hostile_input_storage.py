"""Damaged or tampered profile files: found, reported in one line (or rebuilt, for derived
data), never a traceback; files private to their owner; shared files bound to their hash; a
failed join leaves its folder as it was (issue 13)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from helpers_procs import Cli

from bullpen.app.storage.blobs import BlobDamaged
from bullpen.app.storage.db import connect
from bullpen.app.storage.keys import ProfileLocked, subkey, unlock
from bullpen.app.storage.search_index import Index
from bullpen.app.storage.store import Store, StoreError
from bullpen.app.workspace import Workspace

PAGE = 4096
DEALS = 400


def opp(i: int) -> dict:
    return {"account": f"Acme {i}", "title": f"Deal {i}", "amount": 1000 + i,
            "stage": "proposal", "close_date": "2026-12-15"}


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A closed profile with enough records that store.db and index.db span many pages."""
    home = tmp_path / "dana"
    ws = Workspace.create(home, "Dana", "Acme Sales")
    for i in range(DEALS):  # one change row each, as people work
        ws.add("opportunity", opp(i))
    ws.close()
    assert (home / "store.db").stat().st_size > 80_000
    return home


def damage(path: Path, offset: int, size: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(os.urandom(size))


def key_of(home: Path, purpose: str) -> bytes:
    return subkey(unlock(home), purpose)


# ----- store.db ----------------------------------------------------------------------------------


def test_damaged_store_says_run_recover(profile: Path) -> None:
    """The issue's case: 32 bytes at offset 77760 gave DatabaseError from store.max_seq."""
    damage(profile / "store.db", 77760, 32)
    cli = Cli(profile)
    proc = cli.run("opp", "list", ok=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "store.db" in proc.stderr and "bullpen recover" in proc.stderr


def test_any_damaged_store_page_is_reported_never_raised_raw(profile: Path, tmp_path: Path
                                                             ) -> None:
    key = key_of(profile, "store")
    original = (profile / "store.db").read_bytes()
    for page in range(len(original) // PAGE):
        copy = tmp_path / f"page{page}.db"
        copy.write_bytes(original)
        damage(copy, page * PAGE + 100, 32)
        with pytest.raises(StoreError, match="bullpen recover"):
            store = Store(copy, key)
            store.max_seq()  # (unreached: the damage is found at open)


def test_damage_met_after_open_is_reported_as_damage(profile: Path) -> None:
    """Pages read in the middle of a command go through the same report (a page damaged after
    the open's check, or not detectable by it)."""
    damage(profile / "store.db", 77760, 32)
    db = connect(profile / "store.db", key_of(profile, "store"),
                 damaged=lambda exc: StoreError(f"reported: {exc}"))
    with pytest.raises(StoreError, match="reported"):
        for table in ("changes", "docs", "meta", "sigs"):
            db.execute(f"SELECT * FROM {table}").fetchall()
    db.conn.close()


# ----- index.db ----------------------------------------------------------------------------------


def test_damaged_index_is_rebuilt_and_commands_keep_working(profile: Path) -> None:
    damage(profile / "index.db", 20000, 40 * 1024)
    cli = Cli(profile)
    assert len(cli.json("opp", "list")) == DEALS
    assert cli.json("search", "Acme", "--limit", "5")
    assert len(cli.json("opp", "list")) == DEALS


def test_index_damage_met_after_open_drops_the_index_with_one_line(profile: Path) -> None:
    key = key_of(profile, "index")
    index = Index(profile / "index.db", key)
    index.db.conn.close()
    size = (profile / "index.db").stat().st_size
    damage(profile / "index.db", PAGE, size - PAGE)  # every page but the schema's
    db = connect(profile / "index.db", key, damaged=index._damaged)
    with pytest.raises(StoreError, match="rebuilt from the documents"):
        db.execute("SELECT * FROM records").fetchall()
    db.conn.close()
    assert not (profile / "index.db").exists()  # the next open builds a fresh one


# ----- keys.json ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"n": 2**30}, {"n": 2**15 + 1}, {"n": 2**10}, {"r": 2**20}, {"p": 1000}, {"n": "32768"},
    {"r": True},
])  # fmt: skip
def test_key_file_scrypt_parameters_are_bounded(profile: Path, params: dict) -> None:
    path = profile / "keys.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **params}))
    started = time.monotonic()
    with pytest.raises(ProfileLocked, match=f"{path}.*(out of bounds|damaged)"):
        Workspace.open(profile)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("name", ["keys.json", "identity.key"])
def test_an_oversized_key_file_is_damaged_not_read(profile: Path, name: str) -> None:
    with (profile / name).open("ab") as f:
        f.truncate(1 << 30)  # sparse: a gigabyte that is never read
    with pytest.raises(ProfileLocked, match=f"{name}.* damaged"):
        Workspace.open(profile)


def test_huge_scrypt_parameters_are_one_line_at_the_command_line(profile: Path) -> None:
    path = profile / "keys.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "n": 2**30}))
    Cli(profile).fails("status", needle="out of bounds")


# ----- file modes ---------------------------------------------------------------------------------


def modes(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)) or ".": stat.S_IMODE(p.stat().st_mode)
            for p in [home, *home.rglob("*")]}


def test_profile_files_are_private(tmp_path: Path) -> None:
    home = tmp_path / "dana"
    ws = Workspace.create(home, "Dana", "Acme Sales")
    (tmp_path / "price-list.txt").write_text("prices")
    ws.add_resource(tmp_path / "price-list.txt")
    found = modes(home)
    ws.close()
    assert {"store.db", "store.db-wal", "index.db", "keys.json", "identity.key"} <= set(found)
    for name, mode in found.items():
        is_dir = (home / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), (name, oct(mode))


def test_an_existing_profile_is_made_private_when_opened(profile: Path) -> None:
    for path in [profile, *profile.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    Workspace.open(profile).close()
    loose = {n: oct(m) for n, m in modes(profile).items() if m & 0o077}
    assert loose == {}


# ----- blobs -------------------------------------------------------------------------------------


def test_a_blob_file_copied_over_another_does_not_read_as_it(ws: Workspace) -> None:
    a, b = ws.blobs.put_bytes(b"price list A"), ws.blobs.put_bytes(b"contract B")
    shutil.copyfile(ws.blobs.path(a), ws.blobs.path(b))
    with pytest.raises(BlobDamaged, match="another file"):
        ws.blobs.read(b)
    assert ws.blobs.read(a) == b"price list A"


def write_unbound(ws: Workspace, data: bytes) -> str:
    """A blob as written before the hash binding (BPB1: no associated data)."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    base = os.urandom(7)
    body = ws.blobs._aead.encrypt(ws.blobs._nonce(base, 0, True), data, None)
    path = ws.blobs.path(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"BPB1" + base + body)
    return digest


def test_blobs_written_before_the_binding_stay_readable_and_checked(ws: Workspace) -> None:
    a, b = write_unbound(ws, b"old file A"), write_unbound(ws, b"old file B")
    assert ws.blobs.read(a) == b"old file A"
    shutil.copyfile(ws.blobs.path(a), ws.blobs.path(b))
    with pytest.raises(BlobDamaged, match="another file"):
        ws.blobs.read(b)


def test_received_bytes_that_do_not_match_their_hash_are_refused(ws: Workspace) -> None:
    digest = ws.blobs.put_bytes(b"real")
    with pytest.raises(ValueError, match="content hash"):
        ws.blobs.put_bytes(b"fake", expected="0" * 64)
    with pytest.raises(ValueError, match="content hash"):
        ws.blobs.put_bytes(b"fake", expected=digest)
    assert ws.blobs.read(digest) == b"real"


# ----- join --------------------------------------------------------------------------------------


def test_a_failed_join_leaves_an_existing_folder_as_it_was(ws: Workspace, tmp_path: Path) -> None:
    from bullpen.app.members.invites import create_invite
    from bullpen.app.members.joining import join_workspace
    from bullpen.sync.node import DialError

    code = create_invite(ws, "rep", dt.timedelta(hours=1), ["/ip4/127.0.0.1/tcp/9"])
    folder = tmp_path / "eli"
    folder.mkdir(mode=0o755)
    (folder / "notes.txt").write_text("mine")
    before = modes(folder)
    for _ in range(2):  # the retry fails the same way, not with "already holds a workspace"
        with pytest.raises(DialError, match="cannot reach the inviter"):
            join_workspace(folder, code, "Eli", timeout=10)
        assert modes(folder) == before
