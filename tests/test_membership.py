"""The signed membership log: roles, removal, concurrency, forgery, fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replicas import exchange

from bullpen.app.members.identity import Identity
from bullpen.app.members.membership import MembershipError, new_entry, parse_entry, replay
from bullpen.crdt.schema import ValidationError


def test_founder_is_the_only_manager_at_first(ws):
    members = ws.members()
    assert [(m["name"], m["role"]) for m in members] == [("Dana", "manager")]
    assert ws.workspace_id == ws.membership().workspace_id


def test_roles_decide_who_may_add_whom(ws, join_ws):
    rep = join_ws(ws, "Eli", "rep")
    assert {m["name"]: m["role"] for m in rep.members()} == {"Dana": "manager", "Eli": "rep"}
    guest = Identity.generate().peer_id
    rep.add_member(guest, "guest", "Customer Carl")  # reps may invite guests
    with pytest.raises(ValidationError, match="a rep cannot add a rep"):
        rep.add_member(Identity.generate().peer_id, "rep", "Nope")
    with pytest.raises(ValidationError, match="only managers"):
        rep.remove_member("Dana")
    exchange(ws, rep)
    assert ws.role(guest) == "guest"
    assert ws.members() == rep.members()
    team = {m["name"]: m["manager"] for m in ws.members()}
    assert team["Eli"] == ws.peer_id


def test_removed_members_later_entries_are_void(ws, join_ws):
    mgr = join_ws(ws, "Fay", "manager")
    stale = mgr.membership_log()
    ws.remove_member("Fay")
    exchange(ws, mgr)
    assert mgr.role(mgr.peer_id) is None
    # Fay signs an entry on her old view of the log: every peer rejects it.
    parents = sorted(set(stale) - {p for t in stale.values()
                                   for p in json.loads(t)["payload"]["parents"]})
    eid, text = new_entry(mgr.identity, ws.workspace_id, "add", Identity.generate().peer_id,
                          at="2026-11-25T00:00:00", parents=parents, role="manager", name="X")
    state = replay({**ws.membership_log(), eid: text}, ws.workspace_id)
    assert state.rejected[eid] == "signed without seeing its author's removal"
    assert "X" not in {m.name for m in state.members.values()}


def test_two_managers_removing_each_other_agree_everywhere(ws, join_ws):
    """Dana made Gus a manager, so she outranks him: her removal of him holds, his of her is
    void, on every peer."""
    other = join_ws(ws, "Gus", "manager")
    third = join_ws(ws, "Hana", "rep")
    exchange(ws, other)
    exchange(ws, third)
    ws.remove_member("Gus")
    other.remove_member("Dana")
    exchange(ws, other)
    exchange(other, third)
    exchange(ws, third)
    lists = [w.members() for w in (ws, other, third)]
    assert lists[0] == lists[1] == lists[2]
    assert {m["name"] for m in lists[0]} == {"Dana", "Hana"}


def test_removal_wins_over_concurrent_role_change(ws, join_ws):
    other = join_ws(ws, "Gus", "manager")
    rep = join_ws(ws, "Ivy", "rep")
    exchange(ws, other)
    ws.remove_member("Ivy")
    other.set_role("Ivy", "manager")
    exchange(ws, other)
    exchange(ws, rep)
    for w in (ws, other, rep):
        assert "Ivy" not in {m["name"] for m in w.members()}


def test_forged_and_tampered_entries_are_rejected(ws):
    log = ws.membership_log()
    intruder = Identity.generate()
    eid, text = new_entry(intruder, ws.workspace_id, "add", intruder.peer_id,
                          at="2026-11-25T00:00:00", parents=list(log), role="manager",
                          name="Mallory")
    state = replay({**log, eid: text}, ws.workspace_id)
    assert state.rejected[eid] == "author is not a member"
    # Dana's real signature over a changed payload
    legit = ws.add_member(Identity.generate().peer_id, "rep", "Eli")
    entry = json.loads(ws.membership_log()[legit])
    entry["payload"]["role"] = "manager"
    with pytest.raises(MembershipError, match="does not match"):
        parse_entry(legit, json.dumps(entry), ws.workspace_id)
    with pytest.raises(MembershipError, match="no valid founding entry"):
        replay(ws.membership_log(), "0" * 32)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=70))
def test_entry_parser_never_crashes_or_accepts_junk(text, eid):
    with pytest.raises(MembershipError):
        parse_entry(eid, text, "w" * 32)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["ws", "action", "subject", "by", "at",
                                                "parents", "role", "name"]), JSONISH),
       sig=st.binary(max_size=64))
def test_structured_junk_is_rejected(payload, sig):
    from bullpen.app.members.membership import entry_id

    text = json.dumps({"payload": payload, "sig": sig.hex()})
    with pytest.raises(MembershipError):
        parse_entry(entry_id(payload), text, None)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=64), st.text(max_size=200), max_size=6))
def test_replay_of_junk_logs_raises_cleanly(log):
    with pytest.raises(MembershipError):
        replay(log, "w" * 32)


def test_invite_code_round_trip_single_use_and_refusals(ws, tmp_path):
    import datetime as dt

    from bullpen.app.members.invites import InviteError, admit, create_invite, parse_invite
    from bullpen.app.workspace import Workspace

    code = create_invite(ws, "rep", dt.timedelta(hours=24), ["/ip4/127.0.0.1/tcp/4001"])
    assert code.startswith("BP1-") and "\n" not in code
    invite = parse_invite(code)
    assert (invite.workspace_id, invite.inviter, invite.role) == (ws.workspace_id, ws.peer_id,
                                                                   "rep")
    assert invite.addrs == ("/ip4/127.0.0.1/tcp/4001",)
    joiner = Workspace.create_joining(tmp_path / "eli", "Eli", invite.workspace_id)
    try:
        admit(ws, invite.secret, joiner.peer_id, "Eli")
        assert ws.role(joiner.peer_id) == "rep"
        admit(ws, invite.secret, joiner.peer_id, "Eli")  # a retry by the same person is fine
        with pytest.raises(InviteError, match="already used"):
            admit(ws, invite.secret, Identity.generate().peer_id, "Mallory")
    finally:
        joiner.close()
    with pytest.raises(InviteError, match="expired"):
        parse_invite(code, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    for i in range(len("BP1-"), len(code)):
        flipped = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1:]
        with pytest.raises(InviteError):
            parse_invite(flipped)
    with pytest.raises(InviteError, match="not a Bullpen invite"):
        parse_invite("hello")


def test_reps_invite_guests_only(ws, join_ws):
    import datetime as dt

    from bullpen.app.members.invites import create_invite

    rep = join_ws(ws, "Eli", "rep")
    assert create_invite(rep, "guest", dt.timedelta(hours=1), [])
    with pytest.raises(ValidationError, match="cannot invite a rep"):
        create_invite(rep, "rep", dt.timedelta(hours=1), [])


def test_first_invites_made_offline_by_two_managers_both_work_after_sync(ws, join_ws, tmp_path):
    import datetime as dt

    from replicas import exchange

    from bullpen.app.members.invites import admit, create_invite, parse_invite
    from bullpen.app.workspace import Workspace

    other = join_ws(ws, "Eli", "manager")
    # neither replica has an invites map yet: each creates it while offline
    codes = [create_invite(m, "rep", dt.timedelta(hours=1), []) for m in (ws, other)]
    exchange(ws, other)
    assert ws.digest() == other.digest()
    for i, code in enumerate(codes):
        joiner = Workspace.create_joining(tmp_path / f"new{i}", f"New{i}", ws.workspace_id)
        try:
            admit(ws, parse_invite(code).secret, joiner.peer_id, f"New{i}")
            assert ws.role(joiner.peer_id) == "rep"
        finally:
            joiner.close()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_invite_parser_never_crashes(text):
    from bullpen.app.members.invites import InviteError, parse_invite

    with pytest.raises(InviteError):
        parse_invite(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_invite_parser_rejects_random_codes(data):
    import base64

    from bullpen.app.members.invites import InviteError, parse_invite

    with pytest.raises(InviteError):
        parse_invite("BP1-" + base64.urlsafe_b64encode(data).decode())
