"""The profile key: one random 256-bit key that encrypts everything the profile stores.

Where the key lives, in order of preference:
1. ``BULLPEN_PASSPHRASE`` (headless nodes, tests, scripts) or a passphrase the app asks for
   once per session: the key is wrapped with AES-GCM under a key derived by scrypt, and the
   wrapped key sits in ``keys.json``. A copied profile folder alone reveals nothing.
2. The OS keyring (``keyring``: macOS Keychain, Windows Credential Locker, Secret Service),
   when one exists and no passphrase was given: the key itself is kept there.
With neither, opening the profile fails with a message saying how to provide one.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bullpen.app.errors import UserError

KEYS_FILE = "keys.json"
ENV = "BULLPEN_PASSPHRASE"
KEYRING_SERVICE = "bullpen"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
# What a keys.json may ask for: scrypt takes 128 * n * r bytes and p times as long, so a
# crafted file with n = 2**30 would take 1 TiB. Bounded at 256 MiB and 4 passes.
SCRYPT_MAX_MEMORY, SCRYPT_MAX_P, SCRYPT_MIN_N = 2**28, 4, 2**14
PRIVATE_DIR = 0o700


class ProfileLocked(UserError, RuntimeError):
    """The profile key is not available: no passphrase, wrong passphrase, or no keyring."""


PassphraseSource = Callable[[str], str | None]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # surrogateescape: a passphrase from the environment may hold undecodable bytes
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(
        passphrase.encode("utf-8", "surrogateescape"))


def _scrypt_params(path: Path, record: dict[str, Any]) -> tuple[int, int, int]:
    """(n, r, p) from a keys.json record, within bounds this machine can afford."""
    n, r, p = (record[k] for k in ("n", "r", "p"))
    if not all(type(v) is int for v in (n, r, p)):
        raise ValueError("scrypt parameters are not integers")
    if (n & (n - 1) or n < SCRYPT_MIN_N or r < 1 or not 1 <= p <= SCRYPT_MAX_P
            or 128 * n * r > SCRYPT_MAX_MEMORY):
        raise ProfileLocked(f"{path}: scrypt parameters n={n} r={r} p={p} are out of "
                            f"bounds (damaged, or not made by Bullpen)")
    return n, r, p


def private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) a folder only its owner can enter; take group and
    other access away from an existing one (profiles made before this rule)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR)


def read_small(path: Path, limit: int = 1 << 16) -> bytes:
    """A key file's bytes; ValueError when it is larger than any key file Bullpen writes
    (a replaced file must not make the open read gigabytes)."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


def make_private(path: Path) -> None:
    """Take group and other access away from an existing file (profiles made before files
    were created private)."""
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` by a file only its owner can read."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def subkey(key: bytes, purpose: str) -> bytes:
    """Independent keys per use (store, index, blobs, identity) from the one profile key."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=f"bullpen:{purpose}".encode()).derive(key)


def _usable_keyring():  # returns the keyring module or None
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
            return None
        return keyring
    except Exception:  # a broken keyring setup is the same as none
        return None


def _passphrase(home: Path, given: str | None, ask: PassphraseSource | None) -> str | None:
    if given:
        return given
    if os.environ.get(ENV):
        return os.environ[ENV]
    return ask(str(home)) if ask else None


def _locked_message(home: Path) -> str:
    return (f"{home}: the profile is encrypted and no key is available: set {ENV} "
            f"(or enter the passphrase when asked), or use an OS keyring")


def create_key(home: Path, passphrase: str | None = None, ask: PassphraseSource | None = None
               ) -> bytes:
    """A new profile key, stored wrapped (passphrase) or in the OS keyring."""
    key = AESGCM.generate_key(bit_length=256)
    secret = _passphrase(home, passphrase, ask)
    if secret:
        salt, nonce = os.urandom(16), os.urandom(12)
        wrapped = AESGCM(_kek(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
            nonce, key, b"bullpen-profile-key")
        record = {"method": "passphrase", "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R,
                  "p": SCRYPT_P, "salt": _b64(salt), "nonce": _b64(nonce),
                  "wrapped": _b64(wrapped)}
    else:
        keyring = _usable_keyring()
        if keyring is None:
            raise ProfileLocked(_locked_message(home))
        account = _b64(os.urandom(12))
        keyring.set_password(KEYRING_SERVICE, account, _b64(key))
        record = {"method": "keyring", "account": account}
    private_dir(home)
    _write_private(home / KEYS_FILE, json.dumps(record))
    return key


def unlock(home: Path, passphrase: str | None = None, ask: PassphraseSource | None = None
           ) -> bytes:
    """The profile key, or ProfileLocked with a message that says what to do."""
    path = home / KEYS_FILE
    damaged = ProfileLocked(f"{path} is damaged: this profile's key cannot be read")
    try:
        record = json.loads(read_small(path))
        method = record["method"]
    except FileNotFoundError:
        raise ProfileLocked(f"{path} is missing: this profile's key cannot be found") from None
    except (ValueError, KeyError, TypeError):
        raise damaged from None
    private_dir(home)
    make_private(path)
    try:
        key = _unwrap(home, record, method, passphrase, ask)
    except (ValueError, KeyError, TypeError):
        raise damaged from None
    if len(key) != 32:
        raise damaged
    return key


def _unwrap(home: Path, record: dict[str, Any], method: str, passphrase: str | None,
            ask: PassphraseSource | None) -> bytes:
    if method == "keyring":
        keyring = _usable_keyring()
        stored = keyring.get_password(KEYRING_SERVICE, record["account"]) if keyring else None
        if not stored:
            raise ProfileLocked(f"{home}: the profile key is not in this machine's keyring")
        return base64.b64decode(stored)
    n, r, p = _scrypt_params(home / KEYS_FILE, record)  # checked before asking for the passphrase
    secret = _passphrase(home, passphrase, ask)
    if not secret:
        raise ProfileLocked(_locked_message(home))
    kek = _kek(secret, base64.b64decode(record["salt"]), n, r, p)
    try:
        return AESGCM(kek).decrypt(base64.b64decode(record["nonce"]),
                                   base64.b64decode(record["wrapped"]), b"bullpen-profile-key")
    except InvalidTag:
        raise ProfileLocked(f"{home}: wrong passphrase") from None


def seal(key: bytes, data: bytes, purpose: str) -> bytes:
    """AES-GCM with a random nonce; ``purpose`` is bound as associated data."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, purpose.encode())


def open_sealed(key: bytes, blob: bytes, purpose: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], purpose.encode())
    except (InvalidTag, ValueError):
        raise ProfileLocked(f"cannot decrypt {purpose}: wrong key or damaged data") from None
