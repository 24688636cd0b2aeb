"""Invite-only workspaces with real processes on loopback: join, refusals, guests, removal."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import readable
from helpers_procs import Serve, add_opp, cli, cli_json, status, titles, wait_for

from bullpen.app.members.invites import create_invite
from bullpen.app.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def founder(tmp_path):
    home = tmp_path / "dana"
    cli(home, "init", "--name", "Dana", "--workspace", "Acme Sales")
    add_opp(home, "Initech renewal")
    return home


def invite(home, role="rep", expires="1h"):
    """An invite made once the node running on ``home`` has published its addresses."""
    wait_for(lambda: status(home)["listening"], 30, "the node to publish its addresses")
    return cli_json(home, "invite", "--role", role, "--expires", expires)["code"]


def join(home, code, name, check=True):
    return cli(home, "join", code, "--name", name, check=check, timeout=90)


def test_invite_join_single_use_expiry_and_tampering(founder, tmp_path):
    with Serve(founder) as node:
        code = invite(founder)
        assert node.addr.rsplit("/p2p/")[0] in str(cli_json(founder, "invite", "--role", "rep"))
        eli = tmp_path / "eli"
        out = join(eli, code, "Eli").stdout
        assert "joined 'Acme Sales' as rep" in out
        assert titles(eli) == {"Initech renewal"}
        assert status(eli)["digest"] == status(founder)["digest"]
        members = {m["name"]: m["role"] for m in cli_json(founder, "member", "list")}
        assert members == {"Dana": "manager", "Eli": "rep"}
        # the same code a second time
        again = join(tmp_path / "mallory", code, "Mallory", check=False)
        assert again.returncode != 0 and "already used" in again.stderr
        assert not (tmp_path / "mallory").exists()  # nothing left behind
        # one changed character
        tampered = code[:20] + ("A" if code[20] != "A" else "B") + code[21:]
        bad = join(tmp_path / "trudy", tampered, "Trudy", check=False)
        assert bad.returncode != 0 and ("forged" in bad.stderr or "damaged" in bad.stderr)
        # an expired code (it expired a second before it was made: no clock has to pass)
        ws = Workspace.open(founder)
        expired = create_invite(ws, "rep", dt.timedelta(seconds=-1), [node.addr])
        ws.close()
        late = join(tmp_path / "late", expired, "Late", check=False)
        assert late.returncode != 0 and "expired" in late.stderr
        assert "Traceback" not in late.stderr + bad.stderr + again.stderr


def test_non_member_learns_nothing(founder, tmp_path):
    ws = Workspace.open(founder)
    workspace_id = ws.workspace_id
    ws.close()
    # A stranger who even knows the workspace id, with its own valid libp2p identity.
    stranger_home = tmp_path / "stranger"
    Workspace.create_joining(stranger_home, "Stranger", workspace_id).close()
    with Serve(founder) as node:
        out = cli(stranger_home, "sync", "--peer", node.addr, "--once", "--timeout", "10",
                  check=False)
        assert out.returncode != 0
        log = node.log()
    secrets = ("Acme Sales", "Dana", "Initech renewal")
    dana = Workspace.open(founder)
    try:
        assert all(secret in readable(dana) for secret in secrets)  # the check finds them
    finally:
        dana.close()
    stranger = Workspace.open(stranger_home)
    try:
        assert stranger.doc_ids() == []
        assert stranger.title == "" and stranger.members() == []
        stranger_holds = readable(stranger)
        assert not [secret for secret in secrets if secret in stranger_holds]
    finally:
        stranger.close()
    assert "not a member" in log


def test_guest_receives_exactly_what_is_shared(founder, tmp_path):
    carl = tmp_path / "carl"
    with Serve(founder):
        join(carl, invite(founder, role="guest"), "Carl (Initech)")
    ws = Workspace.open(founder)
    carl_id = next(m["peer_id"] for m in ws.members() if m["role"] == "guest")
    room = ws.add("space", {"title": "Initech deal room", "guests": [carl_id]})
    ws.add("topic", {"title": "Rollout plan"}, space=room)
    doc = ws.new_document("Initech proposal", "45 EUR per seat", space=room)
    ws.new_document("Internal pricing", "floor is 38 EUR")
    ws.add("topic", {"title": "Internal: beat Globex"})
    expected = {"index", f"space:{room}", f"doc:{doc}"}
    ws.close()
    with Serve(founder) as node:
        cli(carl, "sync", "--peer", node.addr, "--once", "--timeout", "30")
    guest = Workspace.open(carl)
    try:
        assert set(guest.doc_ids()) == expected
        assert [t["title"] for t in guest.list("topic")] == ["Rollout plan"]
        assert guest.list("opportunity") == [] and guest.search("floor") == []
    finally:
        guest.close()


def test_removed_member_is_cut_off_both_ways(founder, tmp_path):
    eli = tmp_path / "eli"
    with Serve(founder):
        join(eli, invite(founder), "Eli")
    cli(founder, "member", "remove", "Eli")
    add_opp(eli, "Eli's edit after removal")
    add_opp(founder, "Dana's new deal")
    with Serve(founder) as node:
        out = cli(eli, "sync", "--peer", node.addr, "--once", "--timeout", "10", check=False)
        assert out.returncode != 0
    assert "Eli's edit after removal" not in titles(founder)
    assert "Dana's new deal" not in titles(eli)


def test_connected_member_is_disconnected_on_removal(founder, tmp_path):
    """Dana removes Eli while both nodes run: her node hangs up on him and nothing she writes
    afterwards reaches him, while Fay, a member connected the same way, receives it (so Eli's
    node had the time to receive it too)."""
    eli, fay = tmp_path / "eli", tmp_path / "fay"
    with Serve(founder):
        join(eli, invite(founder), "Eli")
        join(fay, invite(founder), "Fay")
    eli_id = status(eli)["peer_id"]

    def connected() -> set[str]:
        return {p["peer_id"] for p in status(founder)["peers"] if p["connected"]}

    with Serve(founder) as dana_node:
        cli(eli, "peer", "add", dana_node.addr)
        cli(fay, "peer", "add", dana_node.addr)
        with Serve(eli), Serve(fay):
            fay_id = status(fay)["peer_id"]
            wait_for(lambda: {eli_id, fay_id} <= connected(), 30, "Eli and Fay to connect")
            cli(founder, "member", "remove", "Eli")
            wait_for(lambda: eli_id not in connected(), 30, "Dana's node to hang up on Eli")
            add_opp(founder, "After Eli left")
            wait_for(lambda: "After Eli left" in titles(fay), 30, "Fay to receive the deal")
            assert "After Eli left" not in titles(eli)
            assert "no longer a member" in dana_node.log()
