"""Content-addressed storage of shared files (Resource Center), deduplicated by SHA-256.

A blob is written to a temporary file, fsynced, then renamed into place, so a file that exists
under its hash is always complete; sharing the same deck twice stores it once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

CHUNK = 1 << 20


class BlobMissing(LookupError):
    """The bytes of a resource are not on this machine (yet): they arrive with sync."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{digest!r} is not a SHA-256 hex digest")
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put_file(self, source: Path) -> tuple[str, int]:
        """Copy ``source`` in; returns (sha256 hex, size)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        tmp = Path(tmp_name)
        try:
            h, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            self._commit(tmp, digest)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        """Store received bytes; refuses them when they don't hash to ``expected``."""
        digest = hashlib.sha256(data).hexdigest()
        if expected is not None and digest != expected:
            raise ValueError("received file does not match its content hash")
        if self.has(digest):
            return digest
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            self._commit(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        return digest

    def _commit(self, tmp: Path, digest: str) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.replace(tmp, target)

    def existing(self, digest: str) -> Path:
        src = self.path(digest)
        if not src.exists():
            raise BlobMissing(f"the file {digest[:12]}… has not arrived on this machine yet")
        return src

    def read(self, digest: str) -> bytes:
        return self.existing(digest).read_bytes()

    def copy_out(self, digest: str, dest: Path) -> None:
        shutil.copyfile(self.existing(digest), dest)
