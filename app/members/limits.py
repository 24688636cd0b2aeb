"""Size limits and guest quotas: what one document or one guest may cost every peer.

Automerge holds a text as one operation per character, so a long text costs seconds and
hundreds of MB each time it loads, on every peer that holds it; a guest could otherwise fill
its space (and every member's disk) at will. Limits are checked on local writes (one-line
error, nothing written: :func:`check_text_length`) and on receipt, where a change over a limit
is refused with the reason, logged by the sync session like any refused change
(:func:`refusals`, part of the access policy's content judge):

- a co-edited text may not grow beyond MAX_TEXT_CHARS characters (a change that shortens a
  text already over it is accepted: it may predate the limit);
- no received change may be larger than MAX_CHANGE_BYTES;
- a guest's changes in one shared space (its document and the texts placed in it) may not
  add up to more than GUEST_QUOTA_BYTES.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from automerge.core import ROOT, Document, ObjType

from bullpen.crdt.schema import ValidationError, space_doc_id, text_doc_id

MAX_TEXT_CHARS = 1_000_000  # about 400 pages
MAX_CHANGE_BYTES = 4 << 20
GUEST_QUOTA_BYTES = 50 << 20
SPACE_PREFIX = space_doc_id("")
TEXT_PREFIX = text_doc_id("")
Refusals = list[tuple[Any, str]]


def check_text_length(before: int, after: int) -> None:
    """Refuse an edit that would leave a co-edited text longer than MAX_TEXT_CHARS (an edit
    that shortens a text already over it is allowed)."""
    if after > MAX_TEXT_CHARS and after > before:
        raise ValidationError(
            f"a document holds at most {MAX_TEXT_CHARS:,} characters (this edit would make "
            f"it {after:,}): split it into several documents"
        )


def _body(doc: Document) -> bytes | None:
    found = doc.get(ROOT, "body")
    return found[1] if found is not None and found[0] == ObjType.Text else None


def text_refusals(doc_id: str, doc: Document, changes: list[Any]) -> Refusals:
    """The changes (applied to ``doc``, not stored yet) when they grow a text beyond
    MAX_TEXT_CHARS."""
    body = _body(doc) if doc_id.startswith(TEXT_PREFIX) and changes else None
    if body is None:
        return []
    after = doc.length(body)
    if after <= MAX_TEXT_CHARS:
        return []
    new = {c.hash for c in changes}
    parents = sorted({d for c in changes for d in c.deps if d not in new})
    before = doc.length(body, parents) if parents else 0
    if after <= before:
        return []
    reason = f"the text would grow to {after:,} characters (at most {MAX_TEXT_CHARS:,})"
    return [(c, reason) for c in changes]


def change_size_refusals(changes: Iterable[Any]) -> Refusals:
    return [(c, f"a change of {len(c.bytes):,} bytes (at most {MAX_CHANGE_BYTES:,})")
            for c in changes if len(c.bytes) > MAX_CHANGE_BYTES]


def bytes_by_author(doc: Document, author_of: Callable[[bytes], str | None]) -> Counter[str]:
    """Bytes of ``doc``'s changes per author's peer id."""
    out: Counter[str] = Counter()
    for change in doc.get_changes([]):
        author = author_of(change.actor_id)
        if author is not None:
            out[author] += len(change.bytes)
    return out


class GuestQuota:
    """What each guest's changes cost in each shared space, kept per document and heads
    (a guest's message to one document of a space does not re-read the others)."""

    def __init__(self, ws: Any, documents_in: Callable[[str], list[dict[str, Any]]],
                 author_of: Callable[[bytes], str | None]) -> None:
        self.ws = ws
        self.documents_in = documents_in  # a space document -> the documents placed in it
        self.author_of = author_of
        self._usage: dict[str, tuple[list[bytes], Counter[str]]] = {}

    def space_of(self, doc_id: str) -> str | None:
        """The space document ``doc_id`` belongs to (None: not in a space)."""
        if doc_id.startswith(SPACE_PREFIX):
            return doc_id
        if doc_id.startswith(TEXT_PREFIX):
            place = self.ws.index.doc_of(doc_id[len(TEXT_PREFIX):])
            if place is not None and place[1].startswith(SPACE_PREFIX):
                return place[1]
        return None

    def _stored_usage(self, doc_id: str) -> Counter[str]:
        with self.ws.lock:
            if doc_id not in self.ws.docs and not self.ws.store.has_doc(doc_id):
                return Counter()
            heads = sorted(self.ws.heads(doc_id))
            cached = self._usage.get(doc_id)
            if cached is None or cached[0] != heads:
                cached = (heads, bytes_by_author(self.ws.doc(doc_id), self.author_of))
                self._usage[doc_id] = cached
            return cached[1]

    def refusals(self, doc_id: str, doc: Document, changes: list[Any],
                 role_of: Callable[[str], str | None]) -> Refusals:
        """The guests' ``changes`` (applied to ``doc``) that take their author over
        GUEST_QUOTA_BYTES in the space of ``doc_id``."""
        space = self.space_of(doc_id)
        guests = {a for c in changes if (a := self.author_of(c.actor_id)) is not None
                  and role_of(a) == "guest"}
        if space is None or not guests:
            return []
        others = [space] + [text_doc_id(d["id"]) for d in self.documents_in(space)]
        used = bytes_by_author(doc, self.author_of)
        for other in others:
            if other != doc_id:
                used.update(self._stored_usage(other))
        return [(c, f"guest {author[-6:]} is over its quota in this space "
                    f"({used[author]:,} bytes, at most {GUEST_QUOTA_BYTES:,})")
                for c in changes if (author := self.author_of(c.actor_id)) in guests
                and used[author] > GUEST_QUOTA_BYTES]


def refusals(doc_id: str, doc: Document, changes: Iterable[Any], quota: GuestQuota,
             role_of: Callable[[str], str | None]) -> Refusals:
    """Every limit above, for ``changes`` applied to ``doc`` and not stored yet."""
    changes = list(changes)
    return (change_size_refusals(changes) or text_refusals(doc_id, doc, changes)
            or quota.refusals(doc_id, doc, changes, role_of))
