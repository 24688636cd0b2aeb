"""The document editor's Qt-free text handling: splices, remote patches, marks through edits."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from bullpen.app.documents.text_mirror import (
    Splice,
    marks_under,
    merge_ranges,
    shift_position,
    shifted,
    spans_of,
    splice_between,
    table_cells,
    text_patches,
)


def _apply(text: str, patches: list[Splice]) -> str:
    out, delta = text, 0
    for pos, deleted, inserted in patches:
        out = out[:pos + delta] + inserted + out[pos + delta + deleted:]
        delta += len(inserted) - deleted
    return out


def test_splice_between() -> None:
    assert splice_between("hello world", "hello world") is None
    assert splice_between("hello world", "hello, world", 5) == (5, 0, ",")
    assert splice_between("hello world", "hello", 0) == (5, 6, "")
    assert splice_between("aaaa", "aaaaa", 2) == (4, 0, "a")
    assert splice_between("abc", "xbc", 3) == (0, 1, "x")  # a wrong hint is corrected


def test_text_patches_keep_far_apart_edits_separate() -> None:
    old = "".join(f"line {i}\n" for i in range(100))
    new = "TOP " + old.replace("line 50\n", "line fifty\n") + "END"
    patches = text_patches(old, new)
    assert patches == [(0, 0, "TOP "), (old.index("50\n"), 2, "fifty"), (len(old), 0, "END")]
    assert _apply(old, patches) == new
    assert shift_position(10, patches) == 14  # after the inserted "TOP "


_TEXT = st.text(alphabet="ab\n\t", max_size=400)


@given(_TEXT, _TEXT)
def test_text_patches_turn_old_into_new_in_ascending_order(old: str, new: str) -> None:
    patches = text_patches(old, new)
    assert _apply(old, patches) == new
    ends = [pos + deleted for pos, deleted, _ in patches]
    assert all(ends[i] <= patches[i + 1][0] for i in range(len(patches) - 1))
    assert (patches == []) == (old == new)


def test_positions_and_marks_move_through_a_teammates_edit() -> None:
    patches = [(0, 0, "DRAFT: "), (20, 5, "")]  # in the old text's coordinates
    assert shift_position(3, patches) == 10
    assert shift_position(22, patches) == 27  # inside the deleted range: to its start
    assert shift_position(25, patches, end=True) == 27
    bold = {"start": 10, "end": 20, "name": "bold", "value": True}
    assert shifted(bold, patches) == {**bold, "start": 17, "end": 27}


def test_marks_under_a_deletion_and_spans_of_a_style() -> None:
    spans = [{"start": 2, "end": 8, "name": "bold", "value": True},
             {"start": 0, "end": 30, "name": "heading", "value": 2},
             {"start": 4, "end": 6, "name": "italic", "value": None}]  # a cleared mark
    assert marks_under(spans, 5, 10) == [(0, 3, "bold", True), (0, 10, "heading", 2)]
    assert marks_under(spans, 5, 0) == []
    assert spans_of(spans, "bold", 0, 5) == [(2, 5, True)]
    assert spans_of(spans, "italic", 0, 30) == []
    assert merge_ranges([(5, 9), (0, 2), (2, 4), (8, 12)]) == [(0, 4), (5, 12)]


def test_table_cells_read_a_stored_grid_or_nothing() -> None:
    assert table_cells("\na\tb\nc\td\n") == [["a", "b"], ["c", "d"]]
    assert table_cells("\na\tb\nc\n") is None  # a teammate's edit broke the grid
    assert table_cells("a\tb") is None


def test_the_text_mirror_and_undo_load_no_qt() -> None:
    code = ("import sys, bullpen.app.documents.text_mirror, bullpen.app.documents.local_undo;"
            "print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
