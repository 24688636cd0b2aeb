"""Rich text of a co-edited document: automerge text plus marks.

Text is inserted one character per ``insert`` call: the binding has no ``splice_text``, and a
whole string inserted at once becomes one list element that later index edits cannot address.
Inline styles (bold, italic, underline, link) are automerge marks; block styles (heading
level, list kind, table cell) are marks over the whole paragraph, so both merge like text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automerge.core import ROOT, Document, ExpandMark, ObjType, ScalarType, Transaction

BODY = "body"
INLINE_MARKS = ("bold", "italic", "underline", "strike", "link")
BLOCK_MARKS = ("heading", "list", "table")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    name: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "name": self.name, "value": self.value}


def body(doc: Document | Transaction) -> bytes:
    found = doc.get(ROOT, BODY)
    if found is None or found[0] != ObjType.Text:
        raise KeyError("document has no body text")
    return found[1]


def splice(tx: Transaction, obj: bytes, pos: int, delete: int, insert: str) -> None:
    """Replace ``delete`` characters at ``pos`` with ``insert``."""
    length = tx.length(obj)
    if pos < 0 or pos > length or delete < 0 or pos + delete > length:
        raise IndexError(f"edit at {pos}+{delete} is outside the text (length {length})")
    for _ in range(delete):
        tx.delete(obj, pos)
    for i, ch in enumerate(insert):
        tx.insert(obj, pos + i, ScalarType.Str, ch)


def replace_all(tx: Transaction, obj: bytes, new: str) -> None:
    """Turn the text into ``new`` by splicing only the differing middle (keeps others' edits
    and marks on the unchanged prefix and suffix)."""
    old = tx.text(obj)
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    splice(tx, obj, prefix, len(old) - prefix - suffix, new[prefix : len(new) - suffix])


def _scalar(value: Any) -> tuple[ScalarType, Any]:
    if isinstance(value, bool):
        return ScalarType.Boolean, value
    if isinstance(value, int):
        return ScalarType.Int, value
    return ScalarType.Str, str(value)


def set_mark(
    tx: Transaction, obj: bytes, start: int, end: int, name: str, value: Any = True
) -> None:
    """Apply (or with ``value`` None, remove) a style over ``[start, end)``."""
    if name not in INLINE_MARKS + BLOCK_MARKS:
        raise ValueError(f"unknown style {name!r}")
    expand = ExpandMark.Neither if name in ("link",) + BLOCK_MARKS else ExpandMark.After
    if value is None or value is False:
        tx.unmark(obj, start, end, name, expand)
        return
    kind, scalar = _scalar(value)
    tx.mark(obj, start, end, name, kind, scalar, expand)


def read(doc: Document, heads: list[bytes] | None = None) -> tuple[str, list[Span]]:
    obj = body(doc)
    spans = [
        Span(m.start, m.end, m.name, m.value[1])
        for m in doc.marks(obj, heads)
        if m.value[0] != ScalarType.Null
    ]
    return doc.text(obj, heads), spans
