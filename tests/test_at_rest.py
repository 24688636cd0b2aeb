"""Encryption at rest: a copied profile folder alone reveals nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from helpers import opp_fields
from keyring.backend import KeyringBackend

from bullpen.app.storage.blobs import BlobDamaged
from bullpen.app.storage.keys import ProfileLocked
from bullpen.app.workspace import Workspace

SECRETS = [b"Zanzibar Pharma", b"Quetzalcoatl pricing", b"Xylophone-Deck", b"ann@zanzibar"]


def test_no_plaintext_anywhere_in_the_profile(tmp_path: Path):
    home = tmp_path / "p"
    ws = Workspace.create(home, "Dana", "Acme", passphrase="correct horse")
    ws.add("opportunity", opp_fields(account="Zanzibar Pharma"))
    ws.add("contact", {"name": "Ann", "emails": ["ann@zanzibar.example"]})
    ws.new_document("Proposal", "Quetzalcoatl pricing for 2027")
    deck = tmp_path / "deck.txt"
    deck.write_bytes(b"Xylophone-Deck " * 5000)
    rid = ws.add_resource(deck)
    seed = ws.identity.seed
    ws.close()
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in [*SECRETS, seed]:
                assert secret not in data, f"{secret!r} in plaintext in {path.name}"
    again = Workspace.open(home, passphrase="correct horse")
    try:
        assert again.list("opportunity")[0]["account"] == "Zanzibar Pharma"
        out = tmp_path / "out.txt"
        again.export_resource(rid, out)
        assert out.read_bytes() == deck.read_bytes()
        assert again.identity.seed == seed
    finally:
        again.close()


def test_wrong_or_missing_passphrase_is_a_clear_refusal(tmp_path: Path, monkeypatch):
    home = tmp_path / "p"
    Workspace.create(home, "Dana", "Acme", passphrase="right").close()
    monkeypatch.delenv("BULLPEN_PASSPHRASE", raising=False)
    with pytest.raises(ProfileLocked, match="wrong passphrase"):
        Workspace.open(home, passphrase="wrong")
    env = {k: v for k, v in os.environ.items() if k != "BULLPEN_PASSPHRASE"}
    proc = subprocess.run(
        [sys.executable, "-m", "bullpen.cli", "--home", str(home), "status"],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert proc.returncode != 0
    assert "BULLPEN_PASSPHRASE" in proc.stderr and "Traceback" not in proc.stderr


class MemoryKeyring(KeyringBackend):
    priority = 10

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


def test_key_in_os_keyring_when_no_passphrase(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("BULLPEN_PASSPHRASE", raising=False)
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        home = tmp_path / "p"
        ws = Workspace.create(home, "Dana", "Acme")
        oid = ws.add("opportunity", opp_fields())
        ws.close()
        assert len(backend.items) == 1
        assert b"keyring" in (home / "keys.json").read_bytes()
        reopened = Workspace.open(home)
        assert reopened.get(oid)["account"] == "Acme"
        reopened.close()
        backend.items.clear()
        with pytest.raises(ProfileLocked, match="keyring"):
            Workspace.open(home)
    finally:
        keyring.set_keyring(previous)


def test_tampered_blob_is_refused(ws, tmp_path: Path):
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    rid = ws.add_resource(src)
    digest = ws.get(rid)["sha256"]
    stored = ws.blobs.path(digest)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 1
    stored.write_bytes(bytes(data))
    with pytest.raises(BlobDamaged):
        ws.export_resource(rid, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    stored.write_bytes(bytes(data[: len(data) - 1000]))  # cut off the tail
    with pytest.raises(BlobDamaged):
        ws.blobs.read(digest)
