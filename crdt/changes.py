"""Applying stored or received change bytes to a live automerge document.

automerge 1.0.0rc1's Python binding has no ``apply_changes``; ``Document.load`` refuses changes
whose dependencies it does not hold. A sync message is the binding's one public path that
queues out-of-order changes and applies them causally, so we wrap raw changes in a minimal
sync message (no heads, no need, no have). That keeps an edit's persisted form (one change)
identical to what we apply, with no full reload.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def apply_changes(doc: Document, changes: Iterable[bytes]) -> None:
    """Apply change chunks to ``doc``; duplicates are ignored, missing deps wait in its queue.

    Raises ``Exception`` from the automerge core when a chunk is malformed.
    """
    items = list(changes)
    if items:
        doc.receive_sync_message(SyncState(), Message.decode(changes_message(items)))


def load(snapshot: bytes | None, changes: Iterable[bytes]) -> Document:
    """A document from an optional saved snapshot plus change chunks stored after it."""
    doc = Document.load(snapshot) if snapshot else Document()
    apply_changes(doc, changes)
    return doc
