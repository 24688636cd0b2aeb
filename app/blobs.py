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

from .keys import private_dir, subkey

CHUNK = 1 << 20
MAGIC = b"BPB2"  # chunks bound to the plaintext's SHA-256
UNBOUND_MAGIC = b"BPB1"  # chunks without associated data (before the binding)


class BlobMissing(LookupError):
    """The bytes of a resource are not on this machine (yet): they arrive with sync."""


class BlobDamaged(ValueError):
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
        """Encrypt ``chunks`` under the name of ``digest``, bound to it; ValueError (nothing
        kept) when they do not hash to it. Returns the size."""
        target = self.path(digest)  # checks the digest's form first
        for folder in (self.root, target.parent):
            private_dir(folder)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        tmp = Path(tmp_name)
        try:
            h, size, base, bound = hashlib.sha256(), 0, os.urandom(7), digest.encode()
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + base)
                index, pending = 0, next(chunks, b"")
                while True:
                    following = next(chunks, None)
                    last = following is None
                    h.update(pending)
                    size += len(pending)
                    out.write(self._aead.encrypt(self._nonce(base, index, last), pending, bound))
                    if last:
                        break
                    index, pending = index + 1, following
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != digest:
                raise ValueError("the file does not match its content hash (changed while "
                                 "being read, or damaged in transit)")
            if not target.exists():
                os.replace(tmp, target)
            return size
        finally:
            tmp.unlink(missing_ok=True)

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


def _read_chunks(src: BinaryIO) -> Iterator[bytes]:
    while chunk := src.read(CHUNK):
        yield chunk
