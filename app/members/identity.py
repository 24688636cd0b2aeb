"""This user's Ed25519 identity, which is also their libp2p peer id.

The peer id is computed here (identity multihash of the protobuf-encoded public key, base58)
rather than by importing libp2p, so that quick CLI commands don't pay libp2p's import time;
a test checks it against libp2p's own ``ID.from_pubkey``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bullpen.app.storage.keys import (
    ProfileLocked,
    make_private,
    open_sealed,
    read_small,
    seal,
    subkey,
)
from bullpen.sync.peers import short_id as short_id  # for app/ and ui/

KEY_FILE = "identity.key"
_PROTO_ED25519 = b"\x08\x01\x12\x20"  # protobuf PublicKey{Type: Ed25519, Data: 32 bytes}


def peer_id_from_public(public: bytes) -> str:
    encoded = _PROTO_ED25519 + public
    return base58.b58encode(b"\x00" + bytes([len(encoded)]) + encoded).decode()


@functools.lru_cache(maxsize=4096)
def public_from_peer_id(peer_id: str) -> bytes:
    """Inverse of :func:`peer_id_from_public`; ValueError for anything else."""
    try:
        raw = base58.b58decode(peer_id)
    except ValueError:
        raise ValueError(f"{peer_id!r} is not a peer id") from None
    if len(raw) != 38 or raw[:2] != b"\x00\x24" or raw[2:6] != _PROTO_ED25519:
        raise ValueError(f"{peer_id!r} is not an Ed25519 peer id")
    return raw[6:]


@dataclass(frozen=True)
class Identity:
    seed: bytes

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def peer_id(self) -> str:
        return peer_id_from_public(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    @staticmethod
    def generate() -> Identity:
        return Identity(os.urandom(32))


@functools.lru_cache(maxsize=4096)
def _verify_key(public: bytes) -> VerifyKey:
    """Decoding a key (point decompression) costs as much as a verification: keep them."""
    return VerifyKey(public)


def verify(public: bytes, signature: bytes, data: bytes) -> bool:
    """Check an Ed25519 signature with libsodium (PyNaCl), which verifies in about half the
    time of the OpenSSL build inside ``cryptography`` (40 vs 83 µs here): every peer checks
    the whole membership log on open. Signing stays with ``cryptography``; both implement
    RFC 8032, and a test cross-checks them."""
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        _verify_key(public).verify(data, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def save_identity(home: Path, identity: Identity, key: bytes) -> None:
    """Write the private key encrypted under the profile key (never in plaintext)."""
    path = home / KEY_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(seal(subkey(key, "identity"), identity.seed, "identity"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_identity(home: Path, key: bytes) -> Identity:
    path = home / KEY_FILE
    make_private(path)
    try:
        sealed = read_small(path)
    except ValueError as exc:
        raise ProfileLocked(f"{exc}: the identity key is damaged") from None
    seed = open_sealed(subkey(key, "identity"), sealed, "identity")
    if len(seed) != 32:
        raise ProfileLocked(f"{path}: identity key is damaged ({len(seed)} bytes, expected 32)")
    return Identity(seed)
