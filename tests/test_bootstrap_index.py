"""A newcomer's first workspace index is judged like anyone's, by the log it carries.

A newcomer has no membership yet, so it cannot judge the index by roles it holds; taking the
index on its inviter's word let a rep inviter replace the membership map with a frozen copy
(every later entry, a removal included, then went into the old map, unseen by the newcomer for
good) or set the title. The newcomer judges its first index by the membership log that index
carries (signed entries chained to the founder whose entry's hash is the workspace id): every
change by header, content and signature, with those roles. Here a rep inviter, Eli, feeds his
guest newcomer, Carl, forged indexes, by sync messages and whole; each is refused, nothing is
kept, and Carl still joins with the honest index afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from automerge.core import ROOT, ObjType, ScalarType
from hostile import deliver, forge, put_setting
from replicas import exchange

from bullpen.app.workspace import Workspace
from bullpen.crdt import records as rec
from bullpen.crdt.schema import INDEX_DOC


@pytest.fixture
def office(ws, join_ws, tmp_path):
    """Dana (manager), Eli (rep) who invited Carl (a guest, joining through Eli)."""
    eli = join_ws(ws, "Eli", "rep")
    carl = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    eli.add_member(carl.peer_id, "guest", "Carl")
    exchange(ws, eli)
    yield {"dana": ws, "eli": eli, "carl": carl}
    carl.close()


def copy_log(eli: Workspace, settings: Any) -> Callable[[Any], None]:
    """A write putting a copy of Eli's membership log into the map ``settings(tx)``."""
    log = eli.membership_log()

    def write(tx: Any) -> None:
        copy = tx.put_object(settings(tx), "membership", ObjType.Map)
        for eid, text in log.items():
            tx.put(copy, eid, ScalarType.Str, text)

    return write


def replace_membership(eli: Workspace) -> None:
    """The reviewer's attack: the membership map replaced by a copy of itself."""
    forge(eli, INDEX_DOC, copy_log(eli, lambda tx: rec.container(tx, rec.SETTINGS)))


def forged_title(eli: Workspace) -> None:
    forge(eli, INDEX_DOC, lambda tx: put_setting(tx, ("title",), "Acme Sales (HACKED)"))


def replaced_settings(eli: Workspace) -> None:
    """A new settings map holding a copy of the log (and no title)."""
    forge(eli, INDEX_DOC, copy_log(eli, lambda tx: tx.put_object(ROOT, rec.SETTINGS,
                                                                  ObjType.Map)))


def unsigned_invite(eli: Workspace) -> None:
    """An invite entry (which a rep may add) that Eli does not sign."""
    forge(eli, INDEX_DOC, lambda tx: put_setting(tx, ("invites", "f" * 64), "{}"),
          sigs=lambda _: [])


def title_as_manager(eli: Workspace, dana: Workspace) -> None:
    forge(eli, INDEX_DOC, lambda tx: put_setting(tx, ("title",), "Acme Sales (HACKED)"),
          actor=dana.actor[:32] + os.urandom(4), sigs=lambda _: [])


FORGERIES = {
    "replaced membership map": (replace_membership, "may not replace the membership map"),
    "forged title": (forged_title, "may not change the workspace setting 'title'"),
    "replaced settings container": (replaced_settings, "replaces a top-level container"),
    "unsigned change": (unsigned_invite, "not signed by its author"),
    "change under the manager's actor": (title_as_manager, "not signed by its author"),
}


def assert_still_joining(carl: Workspace, eli: Workspace) -> None:
    """Nothing of a refused index is kept: Carl still waits for it, from his inviter."""
    assert INDEX_DOC not in carl.doc_ids() and carl.membership_log() == {}
    assert carl.role() is None
    assert "index must arrive first" in deliver(eli, carl, "pipeline", whole=True,
                                                trusted=(eli.peer_id,))


def assert_joined(carl: Workspace, dana: Workspace) -> None:
    assert carl.role() == "guest" and carl.title == "Acme Sales"
    assert carl.members() == dana.members()


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "sync messages"])
@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_first_index_is_refused_and_the_honest_one_still_joins(office, forgery,
                                                                        whole):
    dana, eli, carl = office["dana"], office["eli"], office["carl"]
    write, reason = FORGERIES[forgery]
    write(eli, dana) if write is title_as_manager else write(eli)
    refused = deliver(eli, carl, INDEX_DOC, whole=whole, trusted=(eli.peer_id,))
    assert refused.startswith("refused change to index") and reason in refused, refused
    assert_still_joining(carl, eli)
    assert deliver(dana, carl, INDEX_DOC, whole=whole, trusted=(eli.peer_id,)) == ""
    assert_joined(carl, dana)


def test_another_workspaces_index_is_refused(office, tmp_path: Path):
    """An index whose log is not rooted in this workspace's founder carries no membership."""
    eli, carl = office["eli"], office["carl"]
    other = Workspace.create(tmp_path / "olga", "Olga", "Other Sales")
    try:
        for whole in (True, False):
            refused = deliver(other, carl, INDEX_DOC, whole=whole, trusted=(eli.peer_id,))
            assert "carries no membership log rooted in its founder" in refused, refused
            assert_still_joining(carl, eli)
    finally:
        other.close()


def test_after_joining_the_managers_later_entries_reach_the_newcomer(office, tmp_path: Path):
    """The reviewer's scenario: Eli's frozen membership map is refused, so the manager's later
    entries (Eli removed, Gus added) reach Carl, and the manager accepts Carl's index."""
    dana, eli, carl = office["dana"], office["eli"], office["carl"]
    replace_membership(eli)
    assert deliver(eli, carl, INDEX_DOC, whole=True, trusted=(eli.peer_id,))
    assert deliver(dana, carl, INDEX_DOC, whole=True, trusted=(eli.peer_id,)) == ""
    gus = Workspace.create_joining(tmp_path / "gus", "Gus", dana.workspace_id)
    try:
        dana.add_member(gus.peer_id, "rep", "Gus")
        dana.append_membership("remove", eli.peer_id)
        assert deliver(dana, carl, INDEX_DOC) == ""
        assert carl.role(eli.peer_id) is None and carl.role(gus.peer_id) == "rep"
        assert deliver(carl, dana, INDEX_DOC) == ""
        assert carl.heads(INDEX_DOC) == dana.heads(INDEX_DOC)
    finally:
        gus.close()


def test_an_honest_index_with_a_demoted_manager_and_a_removed_rep_is_taken(office):
    """An honest index holds changes their authors' roles now refuse: a title set by Fay
    while she was a manager, an invite Eli added before his removal. Judged by the log the
    index carries, they stand (a current member built on them), as they do for members."""
    dana, eli, carl = office["dana"], office["eli"], office["carl"]
    fay = Workspace.create_joining(carl.home.parent / "fay", "Fay", dana.workspace_id)
    try:
        dana.add_member(fay.peer_id, "manager", "Fay")
        exchange(dana, fay)
        forge(fay, INDEX_DOC, lambda tx: put_setting(tx, ("title",), "Fay's Sales"))
        forge(eli, INDEX_DOC, lambda tx: put_setting(tx, ("invites", "e" * 64), "{}"))
        for member in (fay, eli):
            exchange(dana, member)
        dana.append_membership("role", fay.peer_id, role="rep")
        dana.append_membership("remove", eli.peer_id)
        assert deliver(dana, carl, INDEX_DOC, whole=True, trusted=(eli.peer_id,)) == ""
        assert carl.title == "Fay's Sales" and carl.members() == dana.members()
        assert carl.heads(INDEX_DOC) == dana.heads(INDEX_DOC)
    finally:
        fay.close()
