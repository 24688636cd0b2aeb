"""Content-addressed, encrypted storage of shared files (Resource Center), deduplicated.

A resource is identified by the SHA-256 of its plaintext (what records carry and peers
verify). On disk it is named by an HMAC of that hash under the profile key, so file names
reveal nothing, and its bytes are AES-GCM encrypted in 1 MiB chunks (each chunk's nonce holds
its index, the last chunk is marked, so chunks cannot be reordered, swapped or cut off). Every
chunk is bound to the blob's SHA-256 as associated data, so one blob's file copied over
another's fails to decrypt instead of reading as the other; files written before that binding
(``BPB1``) are still read, and their plaintext is checked against the hash at the end. A blob is
written to a temporary file, fsynced, then renamed: a file under its name is complete. The
folder and its files are readable by the owner only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bullpen.app.errors import UserError
from bullpen.app.storage.keys import private_dir, subkey

CHUNK = 1 << 20
MAGIC = b"BPB2"  # chunks bound to the plaintext's SHA-256
UNBOUND_MAGIC = b"BPB1"  # chunks without associated data (before the binding)


class BlobMissing(UserError, LookupError):
    """The bytes of a resource are not on this machine (yet): they arrive with sync."""


class BlobDamaged(UserError, ValueError):
    """A stored file fails its authentication: damaged on disk or not ours."""


class BlobStore:
    def __init__(self, root: Path, key: bytes) -> None:
        self.root = root
        self._name_key = subkey(key, "blob-names")
        self._aead = AESGCM(subkey(key, "blobs"))

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{digest!r} is not a SHA-256 hex digest")
        name = hmac.new(self._name_key, digest.encode(), hashlib.sha256).hexdigest()
        return self.root / name[:2] / name

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def _nonce(self, base: bytes, index: int, last: bool) -> bytes:
        return base + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")

    def _write(self, chunks: Iterator[bytes], digest: str) -> int:
        """Store ``chunks``, whose plaintext must hash to ``digest``; returns the size."""
        incoming = self.incoming(digest)
        try:
            for chunk in chunks:
                incoming.write(chunk)
            return incoming.commit()
        finally:
            incoming.abort()

    def incoming(self, digest: str) -> IncomingBlob:
        """The blob ``digest``, to be written piece by piece (sync receives files in chunks):
        encrypted into a temporary file as it comes, never held whole in memory."""
        private_dir(self.root)
        return IncomingBlob(self, digest)

    def size(self, digest: str) -> int:
        """The plaintext size, from the stored file's size (every chunk adds a 16-byte tag)."""
        body = self.path(digest).stat().st_size - len(MAGIC) - 7
        chunks = max(1, -(-body // (CHUNK + 16)))
        return body - 16 * chunks

    def put_file(self, source: Path) -> tuple[str, int]:
        """Copy ``source`` in; returns (sha256 hex of the plaintext, size). The file is read
        twice: once for the hash the encryption is bound to, once to encrypt it."""
        with source.open("rb") as src:
            h = hashlib.sha256()
            for chunk in _read_chunks(src):
                h.update(chunk)
            digest = h.hexdigest()
            src.seek(0)
            return digest, self._write(_read_chunks(src), digest)

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        """Store received bytes; refuses them when they don't hash to ``expected``."""
        digest = hashlib.sha256(data).hexdigest()
        if expected is not None and digest != expected:
            raise ValueError("received file does not match its content hash")
        if not self.has(digest):
            self._write(iter([data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
                             or [b""]), digest)
        return digest

    def chunks(self, digest: str) -> Iterator[bytes]:
        """The plaintext, chunk by chunk, authenticated as it is read."""
        src = self.path(digest)
        if not src.exists():
            raise BlobMissing(f"the file {digest[:12]}… has not arrived on this machine yet")
        with src.open("rb") as f:
            header = f.read(len(MAGIC) + 7)
            if header[:4] not in (MAGIC, UNBOUND_MAGIC):
                raise BlobDamaged(f"{src}: not a Bullpen file")
            bound = digest.encode() if header[:4] == MAGIC else None
            base, index, h = header[4:], 0, hashlib.sha256()
            block = f.read(CHUNK + 16)
            while True:
                following = f.read(CHUNK + 16)
                last = not following
                try:
                    plain = self._aead.decrypt(self._nonce(base, index, last), block, bound)
                except InvalidTag:
                    raise BlobDamaged(f"{src}: damaged, or another file's (chunk {index})"
                                      ) from None
                if bound is None:
                    h.update(plain)
                    if last and h.hexdigest() != digest:
                        raise BlobDamaged(f"{src}: holds another file than {digest[:12]}…")
                yield plain
                if last:
                    return
                index, block = index + 1, following

    def read(self, digest: str) -> bytes:
        return b"".join(self.chunks(digest))

    def copy_out(self, digest: str, dest: Path) -> None:
        tmp = dest.with_name(dest.name + ".part")
        try:
            with tmp.open("wb") as out:
                for chunk in self.chunks(digest):
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)


class IncomingBlob:
    """A blob being written: plaintext in, AES-GCM chunks out to a temporary file in the store;
    :meth:`commit` checks the hash and renames it into place, :meth:`abort` removes it. At most
    one chunk of plaintext is held (the last chunk must be known as last when encrypted)."""

    def __init__(self, store: BlobStore, digest: str) -> None:
        self._store = store
        self._digest = digest
        self._target = store.path(digest)  # checks the digest's form first
        fd, name = tempfile.mkstemp(dir=store.root, prefix=".incoming-")
        self._tmp = Path(name)
        self._out: BinaryIO = os.fdopen(fd, "wb")
        self._base = os.urandom(7)
        self._out.write(MAGIC + self._base)
        self._hash = hashlib.sha256()
        self._pending = bytearray()
        self._index = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._pending += data
        while len(self._pending) > CHUNK:  # more follows: this chunk is not the last
            self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def _seal(self, chunk: bytes, last: bool) -> None:
        nonce = self._store._nonce(self._base, self._index, last)
        self._out.write(self._store._aead.encrypt(nonce, chunk, self._digest.encode()))
        self._index += 1

    def commit(self) -> int:
        """Store it; returns its size. ValueError when it does not hash to its digest
        (nothing is kept)."""
        self._seal(bytes(self._pending), last=True)
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        if self._hash.hexdigest() != self._digest:
            raise ValueError("the file does not match its content hash (changed while "
                             "being read, or damaged in transit)")
        private_dir(self._target.parent)
        if not self._target.exists():
            os.replace(self._tmp, self._target)
        return self.size

    def abort(self) -> None:
        """Drop whatever was written (a no-op after :meth:`commit`)."""
        self._out.close()
        self._tmp.unlink(missing_ok=True)


def _read_chunks(src: BinaryIO) -> Iterator[bytes]:
    while chunk := src.read(CHUNK):
        yield chunk
