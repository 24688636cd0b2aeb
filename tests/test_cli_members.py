"""``bullpen member`` and ``bullpen invite``."""

from __future__ import annotations

from helpers_procs import Cli

from bullpen.app.members.invites import parse_invite


def test_member_list_invite_and_refusals(cli: Cli):
    members = cli.json("member", "list")
    assert [(m["name"], m["role"], m["you"], m["online"]) for m in members] == [
        ("Dana", "manager", True, False)]  # no node runs: not online
    out = cli.json("invite", "--role", "guest", "--expires", "2h", "--addr",
                   "/ip4/127.0.0.1/tcp/4001/p2p/" + members[0]["peer_id"])
    invite = parse_invite(out["code"])
    assert invite.role == "guest" and invite.inviter == members[0]["peer_id"]
    cli.fails("invite", "--role", "rep", "--expires", "2y", needle="not a duration")
    cli.fails("member", "remove", "Dana", needle="last manager")
    cli.fails("member", "remove", "Nobody", needle="no member is called 'Nobody'")
