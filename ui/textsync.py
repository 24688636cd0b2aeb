"""The editor's text as the CRDT stores it, and the splices between two versions of it.

The document editor keeps a mirror of the CRDT text so that a keystroke costs only the edit:
Qt says where the document changed, the mirror says what was there, and only the changed
characters are read back from the editor. Remote changes are diffed against the mirror in a
worker (:func:`text_patches`), and only the differing pieces are patched into the editor.

Tables map one to one onto characters, so positions in the editor and in the CRDT are the same:
Qt writes a 2x2 table as ``FDD0 a FDD0 b FDD0 c FDD0 d FDD1``; the CRDT stores it as
``"\\na\\tb\\nc\\td\\n"`` (cells as lines with tab separators) under a ``table`` mark, so other
tools and older clients still read a legible grid. A line break inside a cell is U+2028, and
a tab pasted into a cell is stored as a space (a tab there is the cell separator).
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_right
from typing import Any

from PySide6.QtGui import QTextCursor, QTextDocument, QTextTable

FRAME_START, FRAME_END = "\ufdd0", "\ufdd1"
PARAGRAPH, CELL_BREAK = "\u2029", "\u2028"
_SPECIAL = re.compile(f"[{FRAME_START}{FRAME_END}{PARAGRAPH}\t]")
_LINES = re.compile(r"[^\n]*\n|[^\n]+")
RAW_OVER = 64  # ranges longer than this are read from the raw text, not char by char
DIFF_LINES_OVER = 200  # a changed middle longer than this is diffed line by line first

Splice = tuple[int, int, str]  # (position, characters deleted, text inserted)


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


def _tables(doc: QTextDocument) -> list[QTextTable]:
    return [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]


def editor_text(doc: QTextDocument, start: int = 0, end: int | None = None) -> str:
    """The editor's characters ``[start, end)`` as the CRDT stores them (see the module doc).

    A keystroke's few characters are read one by one (no copy of the document); a long
    range (opening, pasting) from the raw text. Both keep table markers and paragraph
    separators as they are (a cursor selection across cells would not), so only those few
    characters need a look at their table cell."""
    size = doc.characterCount() - 1
    end = size if end is None else min(end, size)
    if end <= start:
        return ""
    if end - start <= RAW_OVER:
        raw = "".join(doc.characterAt(i) for i in range(start, end))
    else:
        raw = doc.toRawText()[start:end]
    if not _SPECIAL.search(raw):
        return raw
    tables = _tables(doc)
    firsts = [t.firstPosition() for t in tables]

    def table_at(position: int) -> QTextTable | None:
        i = bisect_right(firsts, position) - 1
        if i >= 0 and position <= tables[i].lastPosition():
            return tables[i]
        return None

    def replace(match: re.Match[str]) -> str:
        char, position = match.group(), start + match.start()
        if char == FRAME_END:
            return "\n"
        if char == "\t":  # typed or pasted into a cell, it would read as a cell separator
            return " " if table_at(position) is not None else char
        table = table_at(position + 1 if char == FRAME_START else position)
        if char == PARAGRAPH:
            return CELL_BREAK if table is not None else "\n"
        if table is None:
            return "\n"
        return "\t" if table.cellAt(position + 1).column() > 0 else "\n"

    return _SPECIAL.sub(replace, raw)


def table_cells(text: str) -> list[list[str]] | None:
    """The rows of cells of a table's stored text (``"\\na\\tb\\nc\\td\\n"``), or None when
    it is not a full grid (a teammate's edit broke a separator): then it shows as text."""
    if len(text) < 2 or text[0] != "\n" or text[-1] != "\n":
        return None
    rows = [line.split("\t") for line in text[1:-1].split("\n")]
    if len({len(r) for r in rows}) != 1:
        return None
    return rows


def render_table(doc: QTextDocument, start: int, end: int, text: str) -> bool:
    """Turn the plain characters ``[start, end)`` (a stored table) into a QTextTable with the
    same number of characters; False if the text is not a grid or is one already."""
    rows = table_cells(text)
    if rows is None:
        return False
    for table in _tables(doc):
        if table.firstPosition() == start + 1:
            return False
    cursor = QTextCursor(doc)
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    cursor.beginEditBlock()
    cursor.removeSelectedText()
    table = cursor.insertTable(len(rows), len(rows[0]))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if cell:
                table.cellAt(r, c).firstCursorPosition().insertText(
                    cell.replace(CELL_BREAK, "\n"))
    cursor.endEditBlock()
    return True


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
