"""How a document's marks look in the editor, and the toolbar that sets them.

Inline marks (bold, italic, underline, strike, link) become character formats; block marks
become whole paragraphs' formats (a heading's size and weight, a list); a ``table`` mark over
stored cells becomes a QTextTable (``qt_text.render_table``). The editor calls
:func:`format_range` over what changed, so a remote edit restyles only its own paragraphs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QAction,
    QFont,
    QKeySequence,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextListFormat,
)
from PySide6.QtWidgets import QToolBar

from .qt_text import render_table

if TYPE_CHECKING:
    from .document_editor import DocumentEditor

HEADING_SIZES = {1: 20.0, 2: 16.0, 3: 13.5}
INLINE = ("bold", "italic", "underline", "strike")


def inline_format(name: str, value: Any) -> QTextCharFormat:
    fmt = QTextCharFormat()
    on = value not in (None, False)
    if name == "bold":
        fmt.setFontWeight(QFont.Weight.Bold if on else QFont.Weight.Normal)
    elif name == "italic":
        fmt.setFontItalic(on)
    elif name == "underline":
        fmt.setFontUnderline(on)
    elif name == "strike":
        fmt.setFontStrikeOut(on)
    elif name == "link" and on:
        fmt.setAnchor(True)
        fmt.setAnchorHref(str(value))
        fmt.setFontUnderline(True)
        fmt.setForeground(Qt.GlobalColor.blue)
    return fmt


def has_inline(fmt: QTextCharFormat, name: str) -> bool:
    return {
        "bold": fmt.fontWeight() >= QFont.Weight.DemiBold,
        "italic": fmt.fontItalic(),
        "underline": fmt.fontUnderline() and not fmt.isAnchor(),
        "strike": fmt.fontStrikeOut(),
    }[name]


def list_style(kind: str) -> QTextListFormat.Style:
    """A ``list`` mark's value as Qt's list style."""
    return (QTextListFormat.Style.ListDisc if kind == "bullet"
            else QTextListFormat.Style.ListDecimal)


def format_heading(block: Any, level: int | None, body_size: float) -> None:
    """Give ``block`` the heading ``level`` (None: normal text): block format, the size
    and weight of its characters, and its block char format (what typing into an empty
    heading line takes)."""
    cursor = QTextCursor(block)
    fmt = QTextBlockFormat(block.blockFormat())
    fmt.setHeadingLevel(level or 0)
    cursor.setBlockFormat(fmt)
    chars = QTextCharFormat()
    chars.setFontPointSize(HEADING_SIZES.get(level or 0, body_size))
    chars.setFontWeight(QFont.Weight.Bold if level else QFont.Weight.Normal)
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock,
                        QTextCursor.MoveMode.KeepAnchor)
    cursor.mergeCharFormat(chars)
    cursor.mergeBlockCharFormat(chars)
    if block.position() == 0:
        # Qt (seen in 6.12) reports a block char format change on the first block as
        # contentsChange(0, 0, 0): the layout drops that block's lines, then re-lays out
        # an empty range, so the paragraph has no lines and zero height (its text is
        # invisible, e.g. a title line opened with a heading mark). Lay it out again.
        block.document().markContentsDirty(block.position(), block.length())


def format_range(doc: QTextDocument, text: str, spans: list[dict[str, Any]], start: int,
                 end: int, body_size: float) -> None:
    """Show the marks ``spans`` of the stored ``text`` over ``[start, end)`` (whole blocks
    for block marks); everything else in the range goes back to plain. Tables are built
    first, as they replace their characters. ``body_size``: the editor's text size."""
    size = doc.characterCount() - 1
    start, end = max(0, min(start, size)), max(0, min(end, size))
    for span in spans:
        if span["name"] == "table" and span["value"] and span["start"] <= end \
                and span["end"] >= start:
            s, e = span["start"], min(span["end"], size)
            render_table(doc, s, e, text[s:e])
    last = doc.findBlock(end)  # whole blocks: a heading's look spans its paragraph
    start = doc.findBlock(start).position()
    end = min(size, last.position() + max(last.length() - 1, 0)) if last.isValid() else size
    near = [s for s in spans if s["start"] <= end and s["end"] >= start]
    cursor = QTextCursor(doc)
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    cursor.setCharFormat(QTextCharFormat())
    block = doc.findBlock(start)
    while block.isValid() and block.position() <= end:
        at = block.position()
        level = next((int(s["value"]) for s in near if s["name"] == "heading"
                      and s["value"] and s["start"] <= at < max(s["end"], s["start"] + 1)),
                     None)
        if level or block.blockFormat().headingLevel():
            format_heading(block, level, body_size)
        listed = block.textList()
        if listed is not None and not any(s["name"] == "list" and s["value"]
                                          and s["start"] <= at <= s["end"] for s in near):
            listed.remove(block)
            fmt = QTextBlockFormat(block.blockFormat())
            fmt.setIndent(0)
            QTextCursor(block).setBlockFormat(fmt)
        block = block.next()
    for span in near:
        s, e = min(span["start"], size), min(span["end"], size)
        name, value = span["name"], span["value"]
        if name in INLINE or name == "link":
            cursor.setPosition(max(s, start))
            cursor.setPosition(min(e, end), QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(inline_format(name, value))
        elif name == "list" and value:
            style = list_style(value)
            first = doc.findBlock(s).textList()
            if first is not None and first.format().style() == style:
                continue  # shown already
            cursor.setPosition(s)
            cursor.setPosition(e, QTextCursor.MoveMode.KeepAnchor)
            cursor.createList(style)


def formatting_toolbar(editor: DocumentEditor) -> QToolBar:
    """The editor's toolbar; its shortcuts work anywhere in the editor."""
    toolbar = QToolBar(editor)

    def add(text: str, shortcut: str | None, slot: Any, tip: str) -> QAction:
        action = QAction(text, editor)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        action.triggered.connect(slot)
        toolbar.addAction(action)
        editor.addAction(action)
        return action

    add("B", "Ctrl+B", lambda: editor.toggle_inline("bold"), "Bold")
    add("I", "Ctrl+I", lambda: editor.toggle_inline("italic"), "Italic")
    add("U", "Ctrl+U", lambda: editor.toggle_inline("underline"), "Underline")
    add("S", None, lambda: editor.toggle_inline("strike"), "Strike through")
    toolbar.addSeparator()
    add("Normal", "Ctrl+0", lambda: editor.set_heading(None), "Normal text")
    for level in (1, 2, 3):
        add(f"H{level}", f"Ctrl+Alt+{level}", lambda _=False, n=level: editor.set_heading(n),
            f"Heading {level}")
    toolbar.addSeparator()
    add("• List", None, lambda: editor.set_list("bullet"), "Bulleted list")
    add("1. List", None, lambda: editor.set_list("ordered"), "Numbered list")
    add("Table", None, editor.insert_table, "Insert a 2×2 table")
    toolbar.addSeparator()
    add("Undo", None, editor.undo, "Undo your last edit (Ctrl+Z); teammates' edits stay")
    add("Redo", None, editor.redo, "Redo (Ctrl+Shift+Z)")
    return toolbar
