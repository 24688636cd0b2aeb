"""A peer's document messages held back while its workspace index is ahead of ours.

Roles live in the index (the membership log). A member just promoted to manager writes what
only a manager may (a quota in the admin document); a teammate coming back from downtime may
get that write from a peer before the promotion entry, and would refuse it: a refusal of an
honest write, logged as a warning, though the entry that allows it is already on its way. The
peer's hello and its index sync messages name its index heads; while they include changes this
replica lacks, its messages for other documents wait here, in the order they came, and are
handled once the index has caught up. The index's own messages are never held, so they
overtake the waiting ones.

Parking only delays: every message is judged as always when it is handled. It ends at once
when the index itself is refused from this peer (it cannot catch up from there), and when more
than :data:`MAX_PARKED_BYTES` wait, each message counted with its overhead (a peer announcing
index heads it never sends cannot make us hold its data, or millions of empty messages,
without bound). A peer that announces heads and never sends them only delays its
own messages; :attr:`Parking.waiting` keeps the session from counting as in sync meanwhile, so
the delay shows in the peer's status.
"""

from __future__ import annotations

from collections.abc import Callable

from bullpen.crdt.schema import INDEX_DOC

from .messages import Saved, Sync

MAX_PARKED_BYTES = 16 << 20  # per session
# What a parked message costs beyond its data (the message object, its doc id): counted, so a
# peer cannot make us hold millions of empty sync messages within MAX_PARKED_BYTES.
PARKED_OVERHEAD = 512


class Parking:
    """The held-back messages of one session; ``index_ahead`` says whether the peer's index
    still holds changes ours lacks (and may still send them)."""

    def __init__(self, index_ahead: Callable[[], bool]) -> None:
        self._index_ahead = index_ahead
        self._queue: list[Sync | Saved] = []
        self._size = 0

    @property
    def waiting(self) -> bool:
        return bool(self._queue)

    def holds(self, msg: Sync | Saved) -> bool:
        """Park ``msg`` if it must wait (the peer's index is ahead, or earlier messages wait:
        they keep their order); False when it is to be handled now."""
        if msg.doc_id == INDEX_DOC or (not self._queue and not self._index_ahead()):
            return False
        self._queue.append(msg)
        self._size += len(msg.data) + PARKED_OVERHEAD
        return True

    def release(self) -> list[Sync | Saved]:
        """Every parked message, in order, once it need wait no longer; else nothing."""
        if not self._queue or (self._size <= MAX_PARKED_BYTES and self._index_ahead()):
            return []
        out, self._queue, self._size = self._queue, [], 0
        return out
