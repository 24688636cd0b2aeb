"""The editor's mirror of a document's CRDT text, and the splices between two versions of it.

The document editor keeps a copy of the stored text (the *mirror*) so that a keystroke costs
only the edit: the editor says where it changed, the mirror says what was there, and
:func:`splice_between` finds the one splice to save. Remote changes (a teammate, another
process) are diffed against the mirror in a worker (:func:`text_patches`), and only the
differing pieces are patched into the editor, so the reader's cursor, selection and styles
outside them stay. Marks are kept as the workspace reports them (``{"start", "end", "name",
"value"}``) and moved through splices with :func:`shift_position`.

Why difflib and not automerge's ``Document.diff(before_heads, after_heads)``, measured in
``bench/ui.py`` (``remote_text_*``; bench/RESULTS.md, the desktop app section):

* it is slower: a teammate's word in the middle and line at the end of the benchmark's
  20,000-character document take 1.9-5.9 ms to diff there (median of 30, per run), against
  0.6 ms here; one keystroke 1.8-2.6 ms against 0.35 ms;
* in automerge 1.0.0rc1 (the pinned version) its ``Patch`` objects have no Python fields, only
  a Rust debug ``repr``: the splices would have to be parsed out of that text;
* the mirror is not the text at any set of heads once a local write and a remote change
  interleave (our change is built on the remote one, which the mirror has not shown yet), so a
  diff between heads would still need this path as the fallback.

What it would do better: its splices are the edits as made. Here, where the text alone is
ambiguous (typing "a" into "aaa"), a position is chosen, and two edits far apart on one long
line (no line break between them) come out as one splice over everything in between, whose
styles are then redrawn from the stored marks. The text shown is the same either way.

A table is stored as tab-separated lines between two line breaks, under a ``table`` mark
(``"\\na\\tb\\nc\\td\\n"``), so other tools and older clients still read a legible grid;
:func:`table_cells` reads it back.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

DIFF_LINES_OVER = 200  # a changed middle longer than this is diffed line by line first
_LINES = re.compile(r"[^\n]*\n|[^\n]+")

Splice = tuple[int, int, str]  # (position, characters deleted, text inserted)
Mark = tuple[int, int, str, Any]  # start, end, name, value
Span = tuple[int, int, Any]  # start, end, value of one mark


def splice_between(old: str, new: str, hint: int = 0) -> Splice | None:
    """The one splice turning ``old`` into ``new`` (None if equal), searching from ``hint``.

    Slice comparisons run in C, so a 50k-character document costs microseconds, not a Python
    loop per character."""
    if old == new:
        return None
    limit = min(len(old), len(new))
    prefix = min(max(hint, 0), limit)
    if old[:prefix] != new[:prefix]:
        low, high = 0, prefix  # binary search for the longest common prefix
        while low < high:
            mid = (low + high + 1) // 2
            if old[:mid] == new[:mid]:
                low = mid
            else:
                high = mid - 1
        prefix = low
    else:
        while prefix < limit and old[prefix] == new[prefix]:
            prefix += 1
    room = limit - prefix
    low, high = 0, room  # longest common suffix within what the prefix left
    while low < high:
        mid = (low + high + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            low = mid
        else:
            high = mid - 1
    suffix = low
    return prefix, len(old) - prefix - suffix, new[prefix:len(new) - suffix]


def text_patches(old: str, new: str) -> list[Splice]:
    """Small splices turning ``old`` into ``new``, in ascending order of their old position.

    Two teammates editing far apart arrive as one batch; one prefix/suffix splice would
    replace everything between their edits (moving the reader's cursor and dropping the
    styles in between), so a long changed middle is diffed by lines, then each changed run of
    lines narrowed to its characters. Runs in a worker: the GUI only applies the result."""
    whole = splice_between(old, new)
    if whole is None:
        return []
    pos, deleted, inserted = whole
    if deleted + len(inserted) <= DIFF_LINES_OVER:
        return [whole]
    a_lines = _LINES.findall(old[pos:pos + deleted])
    b_lines = _LINES.findall(inserted)
    matcher = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    a_at = [0]
    for line in a_lines:
        a_at.append(a_at[-1] + len(line))
    b_at = [0]
    for line in b_lines:
        b_at.append(b_at[-1] + len(line))
    out: list[Splice] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        part = splice_between(old[pos + a_at[i1]:pos + a_at[i2]], inserted[b_at[j1]:b_at[j2]])
        if part is not None:
            out.append((pos + a_at[i1] + part[0], part[1], part[2]))
    return out


def shift_position(position: int, patches: list[Splice], *, end: bool = False) -> int:
    """Where an old position is after ``patches`` (ascending, old coordinates) are applied."""
    delta = 0
    for pos, deleted, inserted in patches:
        if position < pos or (position == pos and end):
            break
        if position < pos + deleted:
            return pos + delta + (len(inserted) if end else 0)
        delta += len(inserted) - deleted
    return position + delta


def shifted(span: dict[str, Any], patches: list[Splice]) -> dict[str, Any]:
    """A stored mark moved through ``patches`` (its end stays before text inserted there)."""
    return {**span, "start": shift_position(span["start"], patches),
            "end": shift_position(span["end"], patches, end=True)}


def marks_under(spans: list[dict[str, Any]], pos: int, deleted: int) -> list[Mark]:
    """The marks set on the ``deleted`` characters at ``pos``, relative to ``pos``: what an
    undo of that deletion puts back with the text."""
    if not deleted:
        return []
    return [(max(m["start"], pos) - pos, min(m["end"], pos + deleted) - pos, m["name"],
             m["value"]) for m in spans
            if m["value"] not in (None, False) and m["start"] < pos + deleted and m["end"] > pos]


def spans_of(spans: list[dict[str, Any]], name: str, start: int, end: int) -> list[Span]:
    """Where mark ``name`` is set within ``[start, end)``, clipped to it."""
    return [(max(s["start"], start), min(s["end"], end), s["value"]) for s in spans
            if s["name"] == name and s["value"] not in (None, False)
            and s["start"] < end and s["end"] > start]


def span_key(span: dict[str, Any]) -> tuple[int, int, str, str]:
    """A span as a hashable key (values compared as text)."""
    return span["start"], span["end"], span["name"], repr(span["value"])


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ranges joined, ascending."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def table_cells(text: str) -> list[list[str]] | None:
    """The rows of cells of a table's stored text (``"\\na\\tb\\nc\\td\\n"``), or None when
    it is not a full grid (a teammate's edit broke a separator): then it shows as text."""
    if len(text) < 2 or text[0] != "\n" or text[-1] != "\n":
        return None
    rows = [line.split("\t") for line in text[1:-1].split("\n")]
    if len({len(r) for r in rows}) != 1:
        return None
    return rows
