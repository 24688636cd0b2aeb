"""Shared files (resource blobs) between two peers, streamed: never a whole file in memory.

A session asks its peer for blobs the workspace references but lacks (:class:`~.messages.
BlobWant`) and serves the peer's asks. A served blob is read one chunk per send step from the
store (the node sends bulk data, whole documents then blob chunks, one step at a time), and a
received one is written chunk by chunk to a temporary file that is checked against the hash
and renamed into place when the last chunk arrives (``app/storage/blobs.py`` ``IncomingBlob``). So a
1 GiB file costs one :data:`~.messages.BLOB_CHUNK` of memory on either side, and a peer that
sends half a file and leaves costs a temporary file that is removed with the session.

Sans-I/O like the session: the store is reached through :class:`BlobPort`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .messages import BLOB_CHUNK, BlobData, BlobMissing, BlobWant, Message, ProtocolError

MAX_BLOB = 1 << 30


class BlobSink(Protocol):
    """A blob being received (``app.storage.blobs.IncomingBlob``)."""

    def write(self, data: bytes) -> None: ...
    def commit(self) -> Any: ...  # ValueError when the bytes do not hash to the digest
    def abort(self) -> None: ...  # drop what was written (no-op after commit)


class BlobPort(Protocol):
    def missing_blobs(self) -> list[str]: ...
    def claim_blob(self, sha256: str) -> bool: ...
    def release_blob(self, sha256: str) -> None: ...
    def blob_source(self, sha256: str) -> tuple[int, Iterator[bytes]] | None: ...
    def blob_sink(self, sha256: str) -> BlobSink: ...


@dataclass
class _Incoming:
    sink: BlobSink
    total: int
    received: int = 0


@dataclass
class _Outgoing:
    sha256: str
    total: int
    chunks: Iterator[bytes]
    sent: int = 0
    started: bool = False


class BlobTransfer:
    """The blobs one session is receiving from and sending to its peer."""

    def __init__(self, port: BlobPort) -> None:
        self.port = port
        # Blobs requested from this peer: None until the first chunk opens a sink.
        self._wanted: dict[str, _Incoming | None] = {}
        self._sending: list[_Outgoing] = []
        # Blobs this peer said it lacks: not asked of it again until the node's next timed
        # retry (:meth:`ask_again`), while other peers are asked at once.
        self._lacking: set[str] = set()

    @property
    def receiving(self) -> bool:
        return bool(self._wanted)

    @property
    def sending(self) -> bool:
        return bool(self._sending)

    def want(self) -> list[Message]:
        """Ask for blobs the workspace lacks that no other peer is already sending."""
        out: list[Message] = []
        for sha in self.port.missing_blobs():
            if sha not in self._wanted and sha not in self._lacking and self.port.claim_blob(sha):
                self._wanted[sha] = None
                out.append(BlobWant(sha))
        return out

    def serve(self, sha: str) -> list[Message]:
        """The peer asks for ``sha`` (already judged visible to it): queue it, or say it is
        missing here."""
        if any(o.sha256 == sha for o in self._sending):
            return []
        source = self.port.blob_source(sha)
        if source is None:
            return [BlobMissing(sha)]
        total, chunks = source
        self._sending.append(_Outgoing(sha, total, chunks))
        return []

    def next_chunk(self) -> list[Message]:
        """The next piece of the first queued blob (nothing when none is queued)."""
        while self._sending:
            out = self._sending[0]
            try:
                chunk = next(out.chunks, None)
            except (ValueError, LookupError, OSError):  # damaged or gone since it was asked
                chunk = None
                out.sent = -1
            if chunk is None or out.sent + len(chunk) > out.total:
                self._finish(out)
                if out.sent != out.total or chunk is not None:
                    return [BlobMissing(out.sha256)]  # the peer drops what it received
                if not out.started:
                    return [BlobData(out.sha256, 0, 0, b"")]  # an empty file
                continue
            if not chunk and out.started:
                continue
            pieces = [BlobData(out.sha256, out.sent + i, out.total, chunk[i : i + BLOB_CHUNK])
                      for i in range(0, len(chunk), BLOB_CHUNK)]
            out.sent += len(chunk)
            out.started = True
            return pieces or [BlobData(out.sha256, 0, out.total, b"")]
        return []

    def _finish(self, out: _Outgoing) -> None:
        self._sending.remove(out)
        close = getattr(out.chunks, "close", None)
        if close is not None:
            close()  # a generator reading a file: closes the file

    def receive(self, msg: BlobData) -> None:
        if msg.sha256 not in self._wanted:
            raise ProtocolError("blob data that was not requested")
        incoming = self._wanted[msg.sha256]
        if incoming is None:
            if msg.offset != 0 or not 0 <= msg.total <= MAX_BLOB:
                raise ProtocolError("blob chunk out of order or too large")
            incoming = self._wanted[msg.sha256] = _Incoming(
                self.port.blob_sink(msg.sha256), msg.total)
        end = incoming.received + len(msg.data)
        if msg.offset != incoming.received or msg.total != incoming.total or end > msg.total:
            raise ProtocolError("blob chunk out of order or too large")
        incoming.sink.write(msg.data)
        incoming.received = end
        if end == incoming.total:
            try:
                incoming.sink.commit()
            except ValueError as exc:
                raise ProtocolError(str(exc)) from None
            finally:
                self.drop(msg.sha256)

    def lacking(self, sha: str) -> None:
        """The peer says it does not have ``sha`` (yet)."""
        if sha in self._wanted:
            self._lacking.add(sha)
        self.drop(sha)

    def ask_again(self) -> None:
        """The node's timed retry: a peer that lacked a blob may have received it since."""
        self._lacking.clear()

    def drop(self, sha: str) -> None:
        """Stop waiting for ``sha`` (missing at the peer, refused, or the session ended)."""
        if sha not in self._wanted:
            return
        incoming = self._wanted.pop(sha)
        if incoming is not None:
            incoming.sink.abort()
        self.port.release_blob(sha)

    def close(self) -> None:
        """The session ended: give back claims, drop partial files, close open files."""
        for sha in list(self._wanted):
            with contextlib.suppress(OSError):
                self.drop(sha)
        for out in list(self._sending):
            self._finish(out)
