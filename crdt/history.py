"""Per-record change history derived from the automerge change graph itself.

Nothing here is a separate log that could drift from the data: every entry is a change in the
document, read back at its own heads and at its parents' heads. Concurrent edits of one field
each appear as their own entry, so the value that lost the merge is still visible here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automerge.core import Document

from .records import META_FIELDS, RECORDS, TOUCHED, container, read_record, touched_by


@dataclass
class HistoryEntry:
    change: str  # change hash, hex
    actor: str
    at: str | None  # the record's _updated_at written by this change
    by: str | None  # the author's peer id written by this change
    action: str  # created | updated | deleted | restored
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (old, new)
    concurrent: bool = False  # another change edited this record without seeing this one

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "actor": self.actor,
            "at": self.at,
            "by": self.by,
            "action": self.action,
            "fields": {k: {"old": o, "new": n} for k, (o, n) in self.fields.items()},
            "concurrent": self.concurrent,
        }


def _action(before: dict | None, after: dict) -> str:
    if before is None:
        return "created"
    if after.get("_deleted") and not before.get("_deleted"):
        return "deleted"
    if before.get("_deleted") and not after.get("_deleted"):
        return "restored"
    return "updated"


def record_history(doc: Document, record_id: str) -> list[HistoryEntry]:
    """Every change that touched ``record_id``, in causal order (oldest first)."""
    records, touched = container(doc, RECORDS), container(doc, TOUCHED)
    entries: list[HistoryEntry] = []
    seen_hashes: list[bytes] = []
    for change in doc.get_changes([]):
        ids = touched_by(doc, touched, change)
        if not ids or record_id not in ids:
            continue
        deps = list(change.deps)
        after = read_record(doc, records, record_id, [change.hash])
        if after is None:
            continue
        before = read_record(doc, records, record_id, deps) if deps else None
        diff = {
            k: ((before or {}).get(k), after.get(k))
            for k in sorted(set(after) | set(before or {}))
            if k not in META_FIELDS and (before or {}).get(k) != after.get(k)
        }
        entries.append(
            HistoryEntry(
                change=change.hash.hex(),
                actor=change.actor_id.hex(),
                at=after.get("_updated_at"),
                by=after.get("_updated_by"),
                action=_action(before, after),
                fields=diff,
                concurrent=_is_concurrent(doc, seen_hashes, change),
            )
        )
        seen_hashes.append(change.hash)
    return entries


def _is_concurrent(doc: Document, earlier: list[bytes], change: Any) -> bool:
    """True when the previous entry's change is not an ancestor of ``change`` (a merge race).

    ``get_changes([h])`` lists the changes that are not ancestors of ``h``."""
    if not earlier:
        return False
    return earlier[-1] in {c.hash for c in doc.get_changes([change.hash])}
