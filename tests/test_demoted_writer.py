"""A manager demoted while partitioned who keeps writing the admin document (issue 12).

Rule (docs/SECURITY.md, "Removed and demoted members"): a demoted manager's admin change is
kept when a current member accepted it before learning of the demotion (that member's node
builds on it; a rep with an adoption marker, which changes nothing a view reads), and refused
everywhere otherwise; whatever order the messages travel in, every member ends with the same
admin heads. A rep writes nothing else in the admin document.
"""

from __future__ import annotations

import pytest
from automerge.core import ScalarType
from helpers import opp_fields
from hostile import deliver, forge, put_setting, views
from replicas import exchange

from bullpen.app.sales import use_cases as sales
from bullpen.crdt import records as rec
from bullpen.crdt.schema import ADMIN_DOC, INDEX_DOC


def _everyone_syncs(peers) -> None:
    """Two rounds of every member sending the admin document to every other: all accepted."""
    for _ in range(2):
        for a in peers:
            for b in peers:
                if a is not b:
                    assert deliver(a, b, ADMIN_DOC) == ""


def _team(ws, join_ws):
    m1 = ws
    m2 = join_ws(m1, "Mona", "manager")
    m3 = join_ws(m1, "Milo", "manager")
    rep = join_ws(m1, "Ray", "rep")
    for a, b in ((m2, m3), (m2, rep), (m3, rep)):
        exchange(a, b)
    return m1, m2, m3, rep


def test_a_quota_written_by_a_partitioned_demoted_manager_converges(ws, join_ws):
    m1, m2, m3, rep = _team(ws, join_ws)
    sales.set_quota(m2, "Mona", "2026-Q4", 90000)  # M2 partitioned, not yet demoted
    m1.set_role(m2.peer_id, "rep")
    assert deliver(m2, rep, ADMIN_DOC) == ""  # Ray gets the quota before the demotion
    assert deliver(m1, m3, INDEX_DOC) == ""  # Milo gets the demotion first
    assert "may not change admin" in deliver(m2, m3, ADMIN_DOC)  # alone: refused
    assert "may not change admin" in deliver(m2, m1, ADMIN_DOC)
    assert deliver(m1, rep, INDEX_DOC) == ""  # the demotion reaches Ray: his node adopts
    assert deliver(m1, m2, INDEX_DOC) == ""
    assert deliver(rep, m3, ADMIN_DOC) == ""  # with Ray's marker on top: kept
    peers = (m1, m2, m3, rep)
    _everyone_syncs(peers)
    assert len({tuple(sorted(p.heads(ADMIN_DOC))) for p in peers}) == 1
    for p in peers:
        assert sales.quotas(p) == {("Mona", "2026-Q4"): 90000.0}


def test_the_demoting_manager_vouches_for_what_it_holds(ws, join_ws):
    m1, m2, m3, rep = _team(ws, join_ws)
    sales.set_quota(m2, "Mona", "2026-Q4", 70000)
    assert deliver(m2, m1, ADMIN_DOC) == ""  # reaches M1 while M2 is still a manager
    m1.set_role(m2.peer_id, "rep")  # M1's node builds on it at once
    for member in (m3, rep):
        assert deliver(m1, member, INDEX_DOC) == ""
        assert deliver(m1, member, ADMIN_DOC) == ""
        assert sales.quotas(member) == {("Mona", "2026-Q4"): 70000.0}
        assert member.heads(ADMIN_DOC) == m1.heads(ADMIN_DOC)


def test_a_rep_demoted_to_guest_while_partitioned_converges(ws, join_ws):
    dana = ws
    gil = join_ws(dana, "Gil", "rep")
    ray = join_ws(dana, "Ray", "rep")
    exchange(gil, ray)
    early = gil.add("opportunity", opp_fields(account="Early Inc"))
    assert deliver(gil, ray, "pipeline") == ""
    dana.set_role(gil.peer_id, "guest")
    assert "may not write pipeline" in deliver(ray, dana, "pipeline")  # alone: refused
    assert deliver(dana, ray, INDEX_DOC) == ""  # Ray's node builds on Gil's change
    assert deliver(ray, dana, "pipeline") == ""
    assert early in [o["id"] for o in dana.list("opportunity")]
    assert dana.heads("pipeline") == ray.heads("pipeline")


def test_a_quota_nobody_accepted_in_time_is_refused_everywhere(ws, join_ws):
    m1, m2, m3, rep = _team(ws, join_ws)
    m1.set_role(m2.peer_id, "rep")
    for member in (m3, rep, m2):
        assert deliver(m1, member, INDEX_DOC) == ""
    forge(m2, ADMIN_DOC, lambda tx: put_setting(tx, ("quotas", "Mona|2026-Q4"), 1.0))
    for member in (m1, m3, rep):
        for whole in (False, True):
            assert "may not change admin" in deliver(m2, member, ADMIN_DOC, whole=whole)
    # Mona's own marker on top vouches for nothing: a change never vouches for its author
    forge(m2, ADMIN_DOC, lambda tx: rec.mark_touched(tx, []))
    assert "may not change admin" in deliver(m2, m1, ADMIN_DOC)
    assert all(sales.quotas(p) == {} for p in (m1, m3, rep))
    assert len({tuple(sorted(p.heads(ADMIN_DOC))) for p in (m1, m3, rep)}) == 1


def _touch(value: str):
    return lambda tx: tx.put(rec.container(tx, rec.TOUCHED), rec.TOUCH_KEY, ScalarType.Str,
                             value)


REP_ADMIN_WRITES = {
    "a quota": lambda tx: put_setting(tx, ("quotas", "Eli|2026-Q4"), 1.0),
    "a rate removed": lambda tx: put_setting(tx, ("rates", "USD"), None),
    "a marker naming a record": _touch("0badf00d:opp1"),
    "a marker carrying data": _touch("0badf00d:" + "x" * 4000),
    "a marker that is no text": lambda tx: tx.put(
        rec.container(tx, rec.TOUCHED), rec.TOUCH_KEY, ScalarType.Int, 7),
    "a marker removed": lambda tx: tx.delete(rec.container(tx, rec.TOUCHED), rec.TOUCH_KEY),
    "a marker and a quota": lambda tx: (rec.mark_touched(tx, []), put_setting(
        tx, ("quotas", "Eli|2026-Q4"), 1.0)),
    "another bookkeeping key": lambda tx: tx.put(
        rec.container(tx, rec.TOUCHED), "x", ScalarType.Str, "0badf00d:"),
}


@pytest.fixture
def manager_and_rep(ws, join_ws):
    sales.set_quota(ws, ws.peer_id, "2026-Q4", 50000)
    sales.set_rate(ws, "USD", "0.9")
    rep = join_ws(ws, "Eli", "rep")
    return ws, rep


@pytest.mark.parametrize("attack", sorted(REP_ADMIN_WRITES))
def test_a_rep_writes_nothing_but_the_marker_into_admin(manager_and_rep, attack):
    manager, rep = manager_and_rep
    forge(rep, ADMIN_DOC, REP_ADMIN_WRITES[attack])
    seen, heads = views(manager), manager.heads(ADMIN_DOC)
    for whole in (False, True):
        assert "may not change admin" in deliver(rep, manager, ADMIN_DOC, whole=whole)
    # a marker on top vouches for nothing: the rep never held a role that may write admin
    forge(rep, ADMIN_DOC, lambda tx: rec.mark_touched(tx, []))
    assert "may not change admin" in deliver(rep, manager, ADMIN_DOC)
    assert views(manager) == seen and manager.heads(ADMIN_DOC) == heads


def test_a_reps_marker_changes_no_view(manager_and_rep):
    manager, rep = manager_and_rep
    seen, heads = views(manager), manager.heads(ADMIN_DOC)
    forge(rep, ADMIN_DOC, lambda tx: rec.mark_touched(tx, []))
    assert deliver(rep, manager, ADMIN_DOC) == ""
    assert manager.heads(ADMIN_DOC) != heads and manager.heads(ADMIN_DOC) == rep.heads(ADMIN_DOC)
    assert views(manager) == seen


def test_two_reps_cannot_vouch_for_each_other(manager_and_rep, join_ws):
    manager, eli = manager_and_rep
    fay = join_ws(manager, "Fay", "rep")
    forge(eli, ADMIN_DOC, lambda tx: put_setting(tx, ("quotas", "Eli|2026-Q4"), 1.0))
    # Fay's modified client takes Eli's change and builds its marker on it
    fay.doc(ADMIN_DOC).merge(eli.doc(ADMIN_DOC))
    forge(fay, ADMIN_DOC, lambda tx: rec.mark_touched(tx, []))
    seen = views(manager)
    for whole in (False, True):
        assert "may not change admin" in deliver(fay, manager, ADMIN_DOC, whole=whole)
    assert views(manager) == seen
