"""crdt.textdoc on bare automerge documents: splicing a co-edited body, turning it into a new
text without disturbing a teammate's concurrent edits, and styles that merge like text. No
workspace, no Qt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from automerge.core import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from bullpen.crdt import textdoc as t
from bullpen.crdt.records import genesis

ALICE, BOB = b"a" * 16, b"b" * 16


def document(content: str = "", actor: bytes = ALICE) -> Document:
    doc = genesis("doc:proposal", texts=[t.BODY])
    doc.set_actor(actor)
    if content:
        with doc.transaction() as tx:
            t.splice(tx, t.body(tx), 0, 0, content)
    return doc


def fork(doc: Document, actor: bytes) -> Document:
    copy = doc.fork()
    copy.set_actor(actor)
    return copy


def edit(doc: Document, change: Callable[[Any, bytes], object]) -> None:
    """One change: ``change(transaction, body)``."""
    with doc.transaction() as tx:
        change(tx, t.body(tx))


def text(doc: Document) -> str:
    return t.read(doc)[0]


def spans(doc: Document) -> set[tuple[int, int, str, object]]:
    return {(s.start, s.end, s.name, s.value) for s in t.read(doc)[1]}


def test_a_splice_replaces_characters_at_a_position() -> None:
    doc = document("Price: 45 per seat")
    edit(doc, lambda tx, body: t.splice(tx, body, 7, 2, "38"))
    assert text(doc) == "Price: 38 per seat"
    edit(doc, lambda tx, body: t.splice(tx, body, len("Price: 38 per seat"), 0, "!"))
    assert text(doc) == "Price: 38 per seat!"


@pytest.mark.parametrize(("pos", "delete"), [(-1, 0), (4, 0), (0, -1), (2, 2), (0, 4)])
def test_an_edit_outside_the_text_is_refused(pos: int, delete: int) -> None:
    doc = document("abc")
    with pytest.raises(IndexError, match=r"outside the text \(length 3\)"):
        edit(doc, lambda tx, body: t.splice(tx, body, pos, delete, "x"))
    assert text(doc) == "abc"


def test_a_document_without_a_body_says_so() -> None:
    with pytest.raises(KeyError, match="no body text"):
        t.body(genesis("pipeline"))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_replace_all_turns_any_text_into_any_other(old: str, new: str) -> None:
    doc = document(old)
    edit(doc, lambda tx, body: t.replace_all(tx, body, new))
    assert text(doc) == new


def test_replace_all_splices_only_the_middle() -> None:
    """A teammate's concurrent edits and styles at the unchanged start and end survive."""
    ann = document("Hello world, bye")
    bob = fork(ann, BOB)
    edit(ann, lambda tx, body: t.replace_all(tx, body, "Hello brave world, bye"))
    edit(bob, lambda tx, body: t.splice(tx, body, len("Hello world, bye"), 0, "!"))
    edit(bob, lambda tx, body: t.set_mark(tx, body, 0, 5, "bold"))
    ann.merge(bob)
    assert text(ann) == "Hello brave world, bye!"
    assert (0, 5, "bold", True) in spans(ann)


def test_concurrent_typing_in_one_body_keeps_both() -> None:
    ann = document("ab")
    bob = fork(ann, BOB)
    edit(ann, lambda tx, body: t.splice(tx, body, 1, 0, "ANN"))
    edit(bob, lambda tx, body: t.splice(tx, body, 2, 0, "BOB"))
    ann.merge(bob)
    bob.merge(ann)
    assert text(ann) == text(bob) == "aANNbBOB"


def test_inline_styles_grow_with_typing_at_their_end_links_and_blocks_do_not() -> None:
    doc = document("Hello world")
    edit(doc, lambda tx, body: (t.set_mark(tx, body, 0, 5, "bold"),
                                t.set_mark(tx, body, 6, 11, "link", "https://acme.example"),
                                t.set_mark(tx, body, 0, 11, "heading", 2)))
    assert spans(doc) == {(0, 5, "bold", True), (6, 11, "link", "https://acme.example"),
                          (0, 11, "heading", 2)}
    edit(doc, lambda tx, body: (t.splice(tx, body, 5, 0, "!"), t.splice(tx, body, 12, 0, "?")))
    assert text(doc) == "Hello! world?"
    assert spans(doc) == {(0, 6, "bold", True), (7, 12, "link", "https://acme.example"),
                          (0, 12, "heading", 2)}


def test_a_style_is_removed_over_a_range_and_unknown_styles_are_refused() -> None:
    doc = document("Hello")
    edit(doc, lambda tx, body: t.set_mark(tx, body, 0, 5, "italic"))
    edit(doc, lambda tx, body: t.set_mark(tx, body, 0, 2, "italic", None))
    assert spans(doc) == {(2, 5, "italic", True)}
    edit(doc, lambda tx, body: t.set_mark(tx, body, 2, 5, "italic", False))
    assert spans(doc) == set()
    with pytest.raises(ValueError, match="unknown style 'blink'"):
        edit(doc, lambda tx, body: t.set_mark(tx, body, 0, 1, "blink"))


def test_the_body_is_read_as_it_was_at_past_heads() -> None:
    doc = document("draft")
    draft = doc.get_heads()
    edit(doc, lambda tx, body: (t.replace_all(tx, body, "final"),
                                t.set_mark(tx, body, 0, 5, "underline")))
    assert t.read(doc, draft) == ("draft", [])
    assert t.read(doc)[1][0].to_json() == {"start": 0, "end": 5, "name": "underline",
                                           "value": True}
