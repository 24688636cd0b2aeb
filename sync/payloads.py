"""The automerge payloads of sync messages: saved documents and sync messages, read sans I/O.

Automerge's sync messages are *parsed* here (not only handed to automerge), for two reasons:
the binding exposes no accessor for a message's heads, which we need to know how far behind a
peer is; and each change chunk's checksum is verified before automerge sees it, since the core
silently drops an unparseable trailing chunk instead of refusing the message.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from bullpen.crdt.changes import (
    MAGIC,
    BadChange,
    ChangeHeader,
    parse_change,
    uleb128,
    uleb_decode,
)

from .errors import ProtocolError

MAX_SAVED = 1 << 30  # a saved document never inflates beyond 1 GiB


def inflate(data: bytes, limit: int, what: str) -> bytes:
    """zlib ``data`` inflated, refusing garbage and anything over ``limit`` bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error:
        raise ProtocolError(f"{what} is not zlib data") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise ProtocolError(f"{what} is truncated or too large")
    return out


def compress_saved(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def decompress_saved(data: bytes) -> bytes:
    """Inflate a received saved document, refusing zip bombs and garbage."""
    return inflate(data, MAX_SAVED, "saved document")


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return uleb_decode(data, pos)
    except BadChange:
        raise ProtocolError("truncated sync message") from None


def _hashes(data: bytes, pos: int) -> tuple[list[bytes], int]:
    count, pos = _uleb(data, pos)
    end = pos + 32 * count
    if end > len(data):
        raise ProtocolError("truncated sync message")
    return [data[i : i + 32] for i in range(pos, end, 32)], end


def check_chunks(data: bytes) -> list[ChangeHeader] | None:
    """Verify one entry of a sync message's change list: one or more concatenated automerge
    chunks (v2 messages bundle several changes, or a whole document, into one entry). Returns
    the headers of its changes, or None when it holds a document chunk (whose changes are not
    listed one by one)."""
    headers: list[ChangeHeader] | None = []
    pos = 0
    if not data:
        raise ProtocolError("empty change in sync message")
    while pos < len(data):
        if len(data) - pos < 10 or data[pos : pos + 4] != MAGIC:
            raise ProtocolError("invalid change in sync message: not an automerge chunk")
        length, body = _uleb(data, pos + 9)
        end = body + length
        if end > len(data):
            raise ProtocolError("invalid change in sync message: truncated chunk")
        chunk = data[pos:end]
        if chunk[8] == 0:  # document chunk: checksum over type + length + data
            if hashlib.sha256(chunk[8:]).digest()[:4] != chunk[4:8]:
                raise ProtocolError("damaged document chunk in sync message")
            headers = None
        else:
            try:
                header = parse_change(chunk)
            except BadChange as exc:
                raise ProtocolError(f"invalid change in sync message: {exc}") from None
            if headers is not None:
                headers.append(header)
        pos = end
    return headers


@dataclass(frozen=True)
class SyncInfo:
    heads: list[bytes]
    changes: int
    # Headers of every change carried; None when a document chunk is among them.
    headers: list[ChangeHeader] | None = None


def inspect_sync(data: bytes) -> SyncInfo:
    """The sender's heads and the number of changes in an automerge sync message, after
    verifying every change chunk; :class:`ProtocolError` when it is not a sync message."""
    if not data or data[0] not in (0x42, 0x43):
        raise ProtocolError("not an automerge sync message")
    heads, pos = _hashes(data, 1)
    _, pos = _hashes(data, pos)  # need
    count, pos = _uleb(data, pos)  # have: (last sync heads, bloom) pairs
    for _ in range(count):
        _, pos = _hashes(data, pos)
        size, pos = _uleb(data, pos)
        pos += size
    count, pos = _uleb(data, pos)
    headers: list[ChangeHeader] | None = []
    for _ in range(count):
        size, pos = _uleb(data, pos)
        if pos + size > len(data):
            raise ProtocolError("truncated change in sync message")
        found = check_chunks(data[pos : pos + size])
        if found is None:
            headers = None
        elif headers is not None:
            headers.extend(found)
        pos += size
    return SyncInfo(heads, count, headers)


def strip_changes(data: bytes, held: set[bytes]) -> bytes:
    """``data`` (an automerge sync message) without the changes whose hash is in ``held``:
    changes the peer is known to hold (it sent them to us), which automerge would relay back
    to it when its Bloom filter predates them. Heads, needs, haves and any trailing fields are
    kept byte for byte; so are document chunks. Returns ``data`` itself when nothing is
    dropped."""
    if not held:
        return data
    _, pos = _hashes(data, 1)
    _, pos = _hashes(data, pos)
    count, pos = _uleb(data, pos)
    for _ in range(count):
        _, pos = _hashes(data, pos)
        size, pos = _uleb(data, pos)
        pos += size
    start = pos
    count, pos = _uleb(data, pos)
    entries: list[bytes] = []
    dropped = 0
    for _ in range(count):
        size, pos = _uleb(data, pos)
        entry = data[pos : pos + size]
        pos += size
        kept = []
        cpos = 0
        while cpos < len(entry):
            length, body = _uleb(entry, cpos + 9)
            chunk = entry[cpos : body + length]
            cpos = body + length
            if chunk[8] != 0 and parse_change(chunk).hash in held:
                dropped += 1
            else:
                kept.append(chunk)
        if kept:
            entries.append(b"".join(kept))
    if not dropped:
        return data
    body = b"".join(uleb128(len(e)) + e for e in entries)
    return data[:start] + uleb128(len(entries)) + body + data[pos:]
