"""The editor's QTextDocument read as the CRDT stores it, and stored tables drawn as QTextTables.

The Qt half of the document editor's text handling; the mirror of the stored text and the
splices between versions are Qt-free (app/documents/text_mirror.py).

Tables map one to one onto characters, so positions in the editor and in the CRDT are the same:
Qt writes a 2x2 table as ``FDD0 a FDD0 b FDD0 c FDD0 d FDD1``; the CRDT stores it as
``"\\na\\tb\\nc\\td\\n"`` (cells as lines with tab separators) under a ``table`` mark, so other
tools and older clients still read a legible grid. A line break inside a cell is U+2028, and
a tab pasted into a cell is stored as a space (a tab there is the cell separator).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from PySide6.QtGui import QTextCursor, QTextDocument, QTextTable
from PySide6.QtWidgets import QTextEdit

from bullpen.app.documents.text_mirror import table_cells

FRAME_START, FRAME_END = "\ufdd0", "\ufdd1"
PARAGRAPH, CELL_BREAK = "\u2029", "\u2028"
_SPECIAL = re.compile(f"[{FRAME_START}{FRAME_END}{PARAGRAPH}\t]")
RAW_OVER = 64  # ranges longer than this are read from the raw text, not char by char


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


def next_cell(edit: QTextEdit, *, back: bool = False) -> bool:
    """Move the cursor to the next (``back``: previous) cell of the table it is in, adding a
    row after the last cell; False outside a table. Tab must not be typed into a cell: the
    stored grid uses it as the cell separator."""
    cursor = edit.textCursor()
    table = cursor.currentTable()
    if table is None:
        return False
    cell = table.cellAt(cursor)
    index = cell.row() * table.columns() + cell.column() + (-1 if back else 1)
    if index >= table.rows() * table.columns():
        table.appendRows(1)
    index = max(index, 0)
    target = table.cellAt(index // table.columns(), index % table.columns())
    edit.setTextCursor(target.firstCursorPosition())
    return True
