"""Applying stored or received change bytes to a live automerge document.

automerge 1.0.0rc1's Python binding has no ``apply_changes``; ``Document.load`` refuses changes
whose dependencies it does not hold. A sync message is the binding's one public path that
queues out-of-order changes and applies them causally, so we wrap raw changes in a minimal
sync message (no heads, no need, no have). That keeps an edit's persisted form (one change)
identical to what we apply, with no full reload.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from automerge.core import Document, Message, SyncState

_SYNC_MESSAGE_TYPE = 0x42


def uleb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def changes_message(changes: Iterable[bytes]) -> bytes:
    """Encode raw change chunks as a sync message that only carries changes."""
    items = list(changes)
    body = b"".join(uleb128(len(c)) + c for c in items)
    return bytes([_SYNC_MESSAGE_TYPE]) + uleb128(0) + uleb128(0) + uleb128(0) + uleb128(
        len(items)
    ) + body


MAGIC = b"\x85\x6f\x4a\x83"  # every automerge chunk starts with these bytes
MAX_CHANGE_BYTES = 64 << 20  # one change never inflates beyond this


class BadChange(ValueError):
    """A change chunk that is truncated, damaged or not a change at all."""


def uleb_decode(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BadChange("truncated length")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


@dataclass(frozen=True)
class ChangeHeader:
    """What a change says about itself, read from its bytes (the fields of automerge's
    ``Change`` that access checks use): enough to judge a received change before any
    document sees it."""

    actor_id: bytes
    seq: int
    deps: list[bytes]
    hash: bytes


def check_change(chunk: bytes) -> None:
    """Verify one change chunk's framing and checksum before automerge sees it.

    Needed because the core silently drops an unparseable chunk at the end of a batch; a
    damaged stored row or a hostile peer's bytes must be named, not skipped."""
    parse_change(chunk)


def parse_change(chunk: bytes) -> ChangeHeader:
    """Verify one change chunk (as :func:`check_change`) and read its header: dependencies,
    actor, sequence number, and its hash (SHA-256 of the uncompressed chunk's type, length
    and body, of which the stored checksum is the first 4 bytes)."""
    if len(chunk) < 10 or chunk[:4] != MAGIC:
        raise BadChange("not an automerge change")
    if chunk[8] not in (1, 2):  # 1 = change, 2 = compressed change
        raise BadChange(f"chunk type {chunk[8]} is not a change")
    length, pos = uleb_decode(chunk, 9)
    if pos + length != len(chunk):
        raise BadChange("truncated or oversized change")
    covered = chunk[8:]
    data: bytes = chunk[pos:]
    if chunk[8] == 2:  # the checksum covers the uncompressed change (raw deflate)
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(data, MAX_CHANGE_BYTES)
        except zlib.error:
            raise BadChange("damaged compressed change") from None
        if inflater.unconsumed_tail:
            raise BadChange("change too large")
        if not inflater.eof or inflater.unused_data:  # the core would drop it silently
            raise BadChange("damaged compressed change")
        covered = b"\x01" + uleb128(len(data)) + data
    digest = hashlib.sha256(covered).digest()
    if digest[:4] != chunk[4:8]:
        raise BadChange("bad checksum")
    count, at = uleb_decode(data, 0)
    end = at + 32 * count
    if end > len(data):
        raise BadChange("truncated dependencies")
    deps = [data[i : i + 32] for i in range(at, end, 32)]
    size, at = uleb_decode(data, end)
    if at + size > len(data):
        raise BadChange("truncated actor")
    actor = data[at : at + size]
    seq, _ = uleb_decode(data, at + size)
    return ChangeHeader(actor, seq, deps, digest)


def apply_changes(doc: Document, changes: Iterable[bytes]) -> None:
    """Apply change chunks to ``doc``; duplicates are ignored, missing deps wait in its queue.

    Raises :class:`BadChange` (or the core's ``Exception``) when a chunk is malformed, before
    anything is applied.
    """
    items = list(changes)
    for chunk in items:
        check_change(chunk)
    if items:
        doc.receive_sync_message(SyncState(), Message.decode(changes_message(items)))


def load(snapshot: bytes | None, changes: Iterable[bytes]) -> Document:
    """A document from an optional saved snapshot plus change chunks stored after it."""
    doc = Document.load(snapshot) if snapshot else Document()
    apply_changes(doc, changes)
    return doc
