"""The document editor's own undo history: local edits only, mapped through teammates' edits."""

from __future__ import annotations

from collections.abc import Callable

from bullpen.app.documents.local_undo import LocalUndo, Step
from bullpen.app.documents.text_mirror import Splice


class Text:
    """A text with a LocalUndo fed the way the editor feeds it."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.history = LocalUndo()
        self.clock = 0.0

    def _apply(self, pos: int, deleted: int, inserted: str) -> str:
        before = self.text[pos:pos + deleted]
        self.text = self.text[:pos] + inserted + self.text[pos + deleted:]
        return before

    def type(self, pos: int, deleted: int, inserted: str, pause: float = 0.1) -> None:
        self.clock += pause
        before = self._apply(pos, deleted, inserted)
        self.history.edited(pos, before, inserted, self.clock)

    def teammate(self, pos: int, deleted: int, inserted: str) -> None:
        self._apply(pos, deleted, inserted)
        self.history.remote([(pos, deleted, inserted)])

    def undo(self) -> bool:
        return self._replay(self.history.take_undo, Step.undo_splice, self.history.undone)

    def redo(self) -> bool:
        return self._replay(self.history.take_redo, Step.redo_splice, self.history.redone)

    def _replay(self, take: Callable[[str], Step | None], splice: Callable[[Step], Splice],
                done: Callable[[Step], None]) -> bool:
        step = take(self.text)
        if step is not None:
            self._apply(*splice(step))
            done(step)
        return step is not None


def test_a_burst_of_typing_undoes_at_once_and_redoes() -> None:
    t = Text("Deal: ")
    for i, ch in enumerate("Acme"):
        t.type(6 + i, 0, ch)
    t.type(10, 0, "!", pause=2.0)  # after a pause: its own step
    assert t.undo() and t.text == "Deal: Acme"
    assert t.undo() and t.text == "Deal: "
    assert not t.undo()
    assert t.redo() and t.text == "Deal: Acme"
    assert t.redo() and t.text == "Deal: Acme!"
    assert not t.redo()


def test_backspaces_merge_and_undo_restores_the_deleted_text() -> None:
    t = Text("Renewal 2027")
    for pos in (11, 10, 9, 8):
        t.type(pos, 1, "")
    assert t.text == "Renewal "
    assert t.undo() and t.text == "Renewal 2027"


def test_undo_keeps_a_teammates_edit_made_meanwhile() -> None:
    t = Text("Scope: 50 seats.")
    t.type(16, 0, " Term: 3 years")
    t.teammate(0, 0, "Proposal. ")  # before our text: our step moves right
    assert t.undo()
    assert t.text == "Proposal. Scope: 50 seats."
    assert t.redo() and t.text == "Proposal. Scope: 50 seats. Term: 3 years"


def test_a_step_a_teammate_edited_into_is_dropped_not_forced() -> None:
    t = Text("")
    t.type(0, 0, "Price 10k", pause=0)
    t.teammate(6, 2, "12")  # changed the middle of what we typed
    assert not t.undo()
    assert t.text == "Price 12k"  # their edit stays


def test_a_new_edit_clears_redo_and_undone_steps_never_merge() -> None:
    t = Text("ab")
    t.type(2, 0, "c")
    assert t.undo() and t.text == "ab"
    t.type(2, 0, "d")
    assert not t.redo()
    assert t.undo() and t.text == "ab"


def test_a_style_step_restores_the_spans_it_replaced_where_they_moved() -> None:
    t = Text("Price 45 per seat")
    t.history.styled(6, 8, "bold", [(6, 7, True)], None)  # unbolded "45", "4" was bold
    t.teammate(0, 0, "New: ")  # everything moves right by 5
    step = t.history.take_undo(t.text)
    assert step is not None and step.undo_styles() == [(11, 13, None), (11, 12, True)]
    t.history.undone(step)
    assert t.history.take_redo(t.text).redo_styles() == [(11, 13, None)]


def test_a_style_over_text_deleted_since_is_dropped() -> None:
    t = Text("Price 45 per seat")
    t.history.styled(6, 8, "bold", [], True)
    t.teammate(5, 4, "")  # " 45 " is gone
    assert t.history.take_undo(t.text) is None


def test_backspaces_over_styled_text_keep_its_marks_in_place() -> None:
    history = LocalUndo()
    history.edited(10, "d", "", 1.0, [(0, 1, "bold", True)])
    history.edited(9, "l", "", 1.1, [(0, 1, "bold", True)])
    history.edited(8, "x", "", 1.2)
    step = history.take_undo("0123456789")
    assert (step.pos, step.before) == (8, "xld")
    assert step.marks == [(1, 2, "bold", True), (2, 3, "bold", True)]
