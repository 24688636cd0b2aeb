"""The forecast call: submissions and adjustments, honest and forged.

Honest use goes through app/sales/submissions.py and syncs between replicas; every forgery is
made with raw automerge in the attacker's replica (tests/hostile.py) and delivered through
the sync node's receiving code, by sync messages and whole: it must be refused, and the
receiver's call must not change.
"""

from __future__ import annotations

import pytest
from helpers import opp_fields
from hostile import deliver, forge, put_record
from replicas import exchange, give

from bullpen.app.members.authz import NotAllowed
from bullpen.app.sales import submissions as calls
from bullpen.app.workspace import Workspace
from bullpen.crdt import records as rec
from bullpen.crdt.schema import ValidationError

Q4 = "2026-Q4"
DOC = "forecasts"


@pytest.fixture
def team(ws, join_ws, tmp_path):
    """Dana (manager), her reps Eli and Fay, Carl (a guest of a deal room), Sam (stranger)."""
    eli = join_ws(ws, "Eli", "rep")
    fay = join_ws(ws, "Fay", "rep")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    stranger = Workspace.create_joining(tmp_path / "sam", "Sam", ws.workspace_id)
    ws.add_member(guest.peer_id, "guest", "Carl")
    ws.add("space", {"title": "Initech room", "guests": [guest.peer_id]})
    for rep in (eli, fay):
        ws.set_role(rep.peer_id, "rep", manager=ws.peer_id)
    ws.add("opportunity", opp_fields(account="Initech", amount=40000, stage="negotiation",
                                     owner="Eli", close_date="2026-12-01"))
    exchange(ws, eli)
    exchange(ws, fay)
    give(ws, guest)
    yield {"manager": ws, "eli": eli, "fay": fay, "guest": guest, "stranger": stranger}
    guest.close()
    stranger.close()


def submission(author: Workspace, **fields) -> dict:
    """A submission record as a modified client writes it (meta fields included)."""
    return {"_kind": "forecast_submission", "period": Q4, "commit": 1.0, "best_case": 2.0,
            "comment": "", "rep": author.peer_id, "_created_by": author.peer_id,
            "_updated_by": author.peer_id, "_created_at": "2026-11-30T09:00:00+00:00",
            "_updated_at": "2026-11-30T09:00:00+00:00", "_deleted": False, **fields}


def write(rid: str, fields: dict):
    """A raw change that writes ``fields`` into record ``rid`` and names it, as Bullpen's own
    writes do (so only the rules, not a missing name, refuse it)."""
    def tx_write(tx):
        put_record(tx, rid, fields)
        rec.mark_touched(tx, [rid])
    return tx_write


def refused(attacker: Workspace, victim: Workspace, doc_id: str = DOC) -> str:
    """The attacker's document is refused by both receiving paths; the victim's call and
    heads are unchanged. Returns the reason."""
    seen = (calls.status(victim, Q4), calls.history(victim, Q4))
    heads = victim.heads(doc_id)
    reasons = []
    for whole in (False, True):
        reason = deliver(attacker, victim, doc_id, whole=whole)
        assert reason.startswith(f"refused change to {doc_id}"), reason
        assert (calls.status(victim, Q4), calls.history(victim, Q4)) == seen
        assert victim.heads(doc_id) == heads
        reasons.append(reason)
    return reasons[0]


def test_submit_adjust_and_roll_up_sync_between_replicas(team):
    dana, eli, fay = team["manager"], team["eli"], team["fay"]
    calls.submit(eli, 30000, 45000, "Initech signs in Dec", Q4)
    assert deliver(eli, dana, DOC) == ""
    calls.adjust(dana, "Eli", 20000, 40000, "legal is slow", Q4)
    calls.adjust(dana, "Dana", 25000, 50000, "team call", Q4, team=True)
    exchange(dana, eli)
    exchange(dana, fay)
    for replica in (dana, eli, fay):
        call = calls.status(replica, Q4)
        [row] = [r for r in call["reps"] if r["key"] == "Eli"]
        assert row["submitted"]["commit"] == 30000 and row["submitted"]["by"] == "Eli"
        assert row["adjusted"]["commit"] == 20000 and row["adjusted"]["by"] == "Dana"
        assert row["adjusted"]["comment"] == "legal is slow" and row["adjusted"]["at"]
        assert row["computed"] == {"commit": 40000.0, "best_case": 40000.0}
        assert row["final"] == {"commit": 20000.0, "best_case": 40000.0}
        assert call["not_submitted"] == ["Fay"]
        [squad] = call["teams"]
        assert squad["submitted"]["commit"] == 30000  # Eli's own number, summed
        assert squad["final"] == {"commit": 25000.0, "best_case": 50000.0}  # the team call
        assert call["total"]["final"] == squad["final"]


def test_a_resubmission_is_a_new_version_and_the_latest_counts(team):
    dana, eli = team["manager"], team["eli"]
    first = calls.submit(eli, 10000, 20000, "first", Q4)
    calls.submit(eli, 15000, 20000, "second", Q4)
    exchange(eli, dana)
    [row] = [r for r in calls.status(dana, Q4)["reps"] if r["key"] == "Eli"]
    assert row["submitted"]["commit"] == 15000 and row["submitted"]["versions"] == 2
    assert [h["comment"] for h in calls.history(dana, Q4)] == ["first", "second"]
    assert dana.get(first["id"])["commit"] == 10000  # the first is kept as it was


def test_local_refusals_are_one_line_errors(team):
    eli, guest = team["eli"], team["guest"]
    with pytest.raises(NotAllowed, match="only managers can adjust"):
        calls.adjust(eli, "Fay", 1, 2, period=Q4)
    with pytest.raises(NotAllowed, match="only reps and managers submit"):
        calls.submit(guest, 1, 2, period=Q4)
    with pytest.raises(ValidationError, match="best case includes commit"):
        calls.submit(eli, 5, 2, period=Q4)
    with pytest.raises(ValidationError, match="not a number"):
        calls.submit(eli, "lots", 2, period=Q4)
    with pytest.raises(ValidationError, match="Fay leads no team"):
        calls.adjust(team["manager"], "Fay", 1, 2, period=Q4, team=True)


def test_a_rep_cannot_forge_another_reps_submission(team):
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    forge(eli, DOC, write("fake1", submission(eli, rep=fay.peer_id, commit=1e6,
                                              best_case=1e6)))
    assert "submits only its own" in refused(eli, dana)


@pytest.mark.parametrize("last_writer, reason", [
    ("fay", "last writer must be the change's author"), ("eli", "only as their author")])
def test_a_rep_cannot_write_under_another_reps_name(team, last_writer, reason):
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    forged = submission(fay, commit=0.0, best_case=0.0,  # Fay's name, Eli's change
                        _updated_by=team[last_writer].peer_id)
    forge(eli, DOC, write("fake2", forged))
    assert reason in refused(eli, dana)


def test_a_rep_cannot_adjust(team):
    eli, dana, fay = team["eli"], team["manager"], team["fay"]
    adjustment = {**submission(eli), "_kind": "forecast_adjustment", "scope": "rep",
                  "target": fay.peer_id}
    del adjustment["rep"]
    forge(eli, DOC, write("fake3", adjustment))
    assert "only managers adjust" in refused(eli, dana)


@pytest.mark.parametrize("attacker, target", [
    ("eli", "submission"), ("eli", "adjustment"), ("manager", "submission")])
def test_nobody_rewrites_a_submission_or_an_adjustment(team, attacker, target):
    """Not the rep its own (a new version is the way), not a rep a manager's adjustment,
    not a manager a rep's submission."""
    dana, eli = team["manager"], team["eli"]
    ids = {"submission": calls.submit(eli, 10000, 20000, "honest", Q4)["id"]}
    exchange(dana, eli)
    ids["adjustment"] = calls.adjust(dana, "Eli", 5000, 9000, "", Q4)["id"]
    exchange(dana, eli)
    writer = team[attacker]
    forge(writer, DOC, write(ids[target], {"commit": 90000.0, "_updated_by": writer.peer_id}))
    victim = eli if writer is dana else dana
    assert "never changed" in refused(writer, victim)


@pytest.mark.parametrize("fields, reason", [
    ({"commit": -5.0}, "must be at least 0"),
    ({"period": "2026-q4"}, "not a period label"),
    ({"period": "Q4"}, "not a period label"),
    ({"commit": "lots"}, "not a number"),
    ({"commit": "12000"}, "not stored as validated"),
    ({"surprise": "field"}, "has no field"),
    ({"_kind": "opportunity"}, "forecasts holds"),
])
def test_malformed_submissions_are_refused(team, fields, reason):
    eli, dana = team["eli"], team["manager"]
    forge(eli, DOC, write("bad", submission(eli, **fields)))
    assert reason in refused(eli, dana)


def test_a_change_must_name_every_record_it_writes(team):
    """An unnamed write (the touched key names another record, or nothing) is refused even
    when the record would be allowed: the judge reads only what a change names."""
    eli, dana = team["eli"], team["manager"]

    def sneaky(tx):
        put_record(tx, "hidden", submission(eli))
        rec.mark_touched(tx, ["decoy"])

    forge(eli, DOC, sneaky)
    assert "more than the records it names" in refused(eli, dana)


@pytest.mark.parametrize("who", ["guest", "stranger"])
def test_a_guest_or_stranger_cannot_submit_or_adjust(team, who):
    attacker, dana = team[who], team["manager"]
    for kind in ("forecast_submission", "forecast_adjustment"):
        fields = {**submission(attacker), "_kind": kind, "scope": "rep",
                  "target": attacker.peer_id}
        forge(attacker, DOC, write(f"fake-{kind}", fields))
        refused(attacker, dana)


def test_a_submission_forged_in_the_pipeline_is_never_listed(team):
    """The pipeline is not judged record by record for reps; a submission there (or a deal
    under a real submission's id) neither counts nor hides the real one."""
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    real = calls.submit(fay, 7000, 9000, "", Q4)["id"]
    exchange(fay, dana)
    exchange(dana, eli)
    forge(eli, "pipeline", write("fake4", submission(eli, rep=fay.peer_id, commit=1e6)))
    forge(eli, "pipeline", write(real, {**submission(eli), "_kind": "opportunity"}))
    assert deliver(eli, dana, "pipeline") == ""
    for check in (dana, eli):
        check.reindex_doc("pipeline")
        [row] = [r for r in calls.status(check, Q4)["reps"] if r["key"] == "Fay"]
        assert row["submitted"]["commit"] == 7000
        assert [s["id"] for s in check.list("forecast_submission")] == [real]
