"""Undo and redo of this user's own edits of a co-edited document, never a teammate's.

Qt's undo stack records every change made to the editor, including the patches that bring in
teammates' edits: Ctrl+Z would delete a colleague's sentence and sync that deletion to everyone.
This history holds only local edits: text steps, "``before`` was replaced by ``after`` at
``pos``", and style steps, "mark ``name`` was set to ``after`` over ``start..end``, where it
had the ``before`` spans". Positions are kept in the current text's coordinates: every later
edit, local or remote, shifts them. A text step is undone only if its ``after`` text is still
there, exactly; a step a teammate edited into is dropped instead (as Yjs's UndoManager does for
text it cannot map). No Qt here: the editor (ui/document_editor.py) feeds it splices and applies
what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .text_mirror import Mark, Span, Splice, shift_position

MERGE_WITHIN_S = 1.0  # keystrokes closer than this undo together, as a word or a burst
MAX_STEPS = 500


@dataclass
class Step:
    pos: int
    before: str
    after: str
    at: float = 0.0
    # the marks the deleted ``before`` text carried, relative to ``pos``: put back on undo
    marks: list[Mark] = field(default_factory=list)

    def undo_splice(self) -> Splice:
        return self.pos, len(self.after), self.before

    def redo_splice(self) -> Splice:
        return self.pos, len(self.before), self.after

    def shift(self, patches: list[Splice]) -> None:
        self.pos = shift_position(self.pos, patches)

    def applies(self, text: str, undo: bool) -> bool:
        shown = self.after if undo else self.before
        return bool(self.before or self.after) and text[self.pos:self.pos + len(shown)] == shown


@dataclass
class StyleStep:
    start: int
    end: int
    name: str
    before: list[Span]  # the mark's spans inside start..end before the change
    after: Any
    at: float = 0.0

    def undo_styles(self) -> list[Span]:
        """What to set, in order: clear the range, then put back what was there."""
        return [(self.start, self.end, None), *self.before]

    def redo_styles(self) -> list[Span]:
        return [(self.start, self.end, self.after)]

    def shift(self, patches: list[Splice]) -> None:
        self.start = shift_position(self.start, patches)
        self.end = shift_position(self.end, patches, end=True)
        self.before = [(shift_position(s, patches), shift_position(e, patches, end=True), v)
                       for s, e, v in self.before]

    def applies(self, text: str, undo: bool) -> bool:
        return self.start < self.end  # its text was not deleted meanwhile


class LocalUndo:
    def __init__(self) -> None:
        self.undo_steps: list[Step] = []
        self.redo_steps: list[Step] = []

    def clear(self) -> None:
        self.undo_steps.clear()
        self.redo_steps.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_steps)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_steps)

    # --- what happened to the text ---

    def edited(self, pos: int, before: str, after: str, now: float,
               marks: list[Mark] | None = None) -> None:
        """The user replaced ``before`` by ``after`` at ``pos``; ``marks``: the styles the
        replaced text had, relative to ``pos``."""
        self.redo_steps.clear()
        last = self.undo_steps[-1] if self.undo_steps else None
        step = Step(pos, before, after, now, list(marks or []))
        if isinstance(last, Step) and now - last.at < MERGE_WITHIN_S and _merge(last, step):
            last.at = now
            self._shift([(pos, len(before), after)], but=last)
            return
        self._shift([(pos, len(before), after)])
        self._push(step)

    def styled(self, start: int, end: int, name: str, before: list[Span], after: Any) -> None:
        """The user set mark ``name`` to ``after`` over ``start..end`` (``before``: the
        mark's spans there until then)."""
        self.redo_steps.clear()
        self._push(StyleStep(start, end, name, before, after))

    def _push(self, step: Step | StyleStep) -> None:
        self.undo_steps.append(step)
        del self.undo_steps[:-MAX_STEPS]

    def remote(self, patches: list[Splice]) -> None:
        """Teammates' edits were applied (ascending, in the old text's coordinates)."""
        self._shift(patches)

    # --- undo and redo ---

    def take_undo(self, text: str) -> Step | StyleStep | None:
        """The last step that still applies (stale ones are dropped); the caller applies
        its undo splice or styles, then calls :meth:`undone`."""
        return _take(self.undo_steps, text, undo=True)

    def undone(self, step: Step | StyleStep) -> None:
        if isinstance(step, Step):
            self._shift([step.undo_splice()])
        step.at = 0.0  # never merge typing into an undone step
        self.redo_steps.append(step)

    def take_redo(self, text: str) -> Step | StyleStep | None:
        return _take(self.redo_steps, text, undo=False)

    def redone(self, step: Step | StyleStep) -> None:
        if isinstance(step, Step):
            self._shift([step.redo_splice()])
        step.at = 0.0
        self.undo_steps.append(step)

    def _shift(self, patches: list[Splice], but: Step | None = None) -> None:
        for step in (*self.undo_steps, *self.redo_steps):
            if step is not but:
                step.shift(patches)


def _take(steps: list[Step | StyleStep], text: str, undo: bool) -> Step | StyleStep | None:
    while steps:
        step = steps.pop()
        if step.applies(text, undo):
            return step
    return None


def _merge(last: Step, new: Step) -> bool:
    """Fold a keystroke into the previous step when it continues it: typing on at its end,
    backspacing over what it typed, or more backspaces / deletes next to its deletion."""
    pos, before, after = new.pos, new.before, new.after
    end = last.pos + len(last.after)
    if not before and pos == end:  # typing on
        last.after += after
        return True
    if not after and before and last.after.endswith(before) and pos + len(before) == end:
        last.after = last.after[: len(last.after) - len(before)]  # backspace over own typing
        return True
    if not after and before and not last.after:
        if pos + len(before) == last.pos:  # backspace
            last.marks = new.marks + [(s + len(before), e + len(before), n, v)
                                      for s, e, n, v in last.marks]
            last.pos, last.before = pos, before + last.before
            return True
        if pos == last.pos:  # delete forward
            last.marks += [(s + len(last.before), e + len(last.before), n, v)
                           for s, e, n, v in new.marks]
            last.before += before
            return True
    return False
