"""Values every part of the workspace passes around: what a write changed, the one error a
use case raises, and records, ids and times as the API shows them.

They live apart from :mod:`bullpen.app.workspace` so the document store, the indexer and the
use-case modules can share them without importing the facade that assembles them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from bullpen.app.errors import UserError
from bullpen.crdt.validation import readable


class WorkspaceError(UserError, RuntimeError):
    """A request that cannot be done (unknown id, no workspace here ...): one plain line."""


@dataclass
class ChangeSet:
    """What one write or one batch of received changes changed, so views refresh only that."""

    doc_id: str
    ids: set[str] = field(default_factory=set)
    remote: bool = False
    kinds: set[str] = field(default_factory=set)
    # Record values before and after (None: did not exist), for notifications and views.
    before: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    after: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def new_ids(count: int) -> list[str]:
    """Ids for a bulk import: one random 40-bit prefix and a counter, so the change that
    creates them can name them as a range (see crdt.records.encode_ids)."""
    if count > 0xFFFFFF:
        return [new_id() for _ in range(count)]
    prefix = uuid.uuid4().hex[:10]
    return [f"{prefix}{n:06x}" for n in range(count)]


def present(record_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the API shows it: meta fields without their underscore."""
    out: dict[str, Any] = {"id": record_id, "kind": raw.get("_kind")}
    for key, value in raw.items():
        if key.startswith("_"):
            if key != "_kind":
                out[key[1:]] = value
        else:
            out[key] = value
    out["deleted"] = bool(out.get("deleted"))
    return readable(out["kind"], out)  # whatever a peer wrote, callers get sound values
