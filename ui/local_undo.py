"""Undo and redo of this user's own edits of a co-edited document, never a teammate's.

Qt's undo stack records every change made to the editor, including the patches that bring in
teammates' edits: Ctrl+Z would delete a colleague's sentence and sync that deletion to everyone.
This history holds only local edits, as steps "``before`` was replaced by ``after`` at
``pos``", with ``pos`` kept in the current text's coordinates: every later edit, local or
remote, shifts it. A step is undone only if its ``after`` text is still there, exactly; a step
a teammate edited into is dropped instead (as Yjs's UndoManager does for text it cannot map).
No Qt here: the editor feeds it splices and applies what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .textsync import Splice, shift_position

MERGE_WITHIN_S = 1.0  # keystrokes closer than this undo together, as a word or a burst
MAX_STEPS = 500


@dataclass
class Step:
    pos: int
    before: str
    after: str
    at: float = 0.0

    def undo_splice(self) -> Splice:
        return self.pos, len(self.after), self.before

    def redo_splice(self) -> Splice:
        return self.pos, len(self.before), self.after


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

    def edited(self, pos: int, before: str, after: str, now: float) -> None:
        """The user replaced ``before`` by ``after`` at ``pos``."""
        self.redo_steps.clear()
        last = self.undo_steps[-1] if self.undo_steps else None
        if last is not None and now - last.at < MERGE_WITHIN_S and _merge(last, pos, before,
                                                                           after):
            last.at = now
            self._shift([(pos, len(before), after)], but=last)
            return
        self._shift([(pos, len(before), after)])
        self.undo_steps.append(Step(pos, before, after, now))
        del self.undo_steps[:-MAX_STEPS]

    def remote(self, patches: list[Splice]) -> None:
        """Teammates' edits were applied (ascending, in the old text's coordinates)."""
        self._shift(patches)

    # --- undo and redo ---

    def take_undo(self, text: str) -> Step | None:
        """The last step whose inserted text is still in place (stale ones are dropped); the
        caller applies :meth:`Step.undo_splice` and then calls :meth:`undone`."""
        return _take(self.undo_steps, text, lambda s: s.after)

    def undone(self, step: Step) -> None:
        self._shift([step.undo_splice()])
        step.at = 0.0  # never merge typing into an undone step
        self.redo_steps.append(step)

    def take_redo(self, text: str) -> Step | None:
        return _take(self.redo_steps, text, lambda s: s.before)

    def redone(self, step: Step) -> None:
        self._shift([step.redo_splice()])
        step.at = 0.0
        self.undo_steps.append(step)

    def _shift(self, patches: list[Splice], but: Step | None = None) -> None:
        for step in (*self.undo_steps, *self.redo_steps):
            if step is not but:
                step.pos = shift_position(step.pos, patches)


def _take(steps: list[Step], text: str, shown: Callable[[Step], str]) -> Step | None:
    while steps:
        step = steps.pop()
        if (step.before or step.after) and text[step.pos:step.pos + len(shown(step))] == \
                shown(step):
            return step
    return None


def _merge(last: Step, pos: int, before: str, after: str) -> bool:
    """Fold a keystroke into the previous step when it continues it: typing on at its end,
    backspacing over what it typed, or more backspaces / deletes next to its deletion."""
    end = last.pos + len(last.after)
    if not before and pos == end:  # typing on
        last.after += after
        return True
    if not after and before and last.after.endswith(before) and pos + len(before) == end:
        last.after = last.after[: len(last.after) - len(before)]  # backspace over own typing
        return True
    if not after and before and not last.after:
        if pos + len(before) == last.pos:  # backspace
            last.pos, last.before = pos, before + last.before
            return True
        if pos == last.pos:  # delete forward
            last.before += before
            return True
    return False
