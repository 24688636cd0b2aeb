"""Deal rooms with real processes: a guest joins by its room's invite and receives only that
room from a running ``bullpen serve``; the rep sees it active; revoked, it gets nothing more."""

from __future__ import annotations

import pytest
from helpers_procs import Serve, cli, cli_json, status, wait_for

from bullpen.app.workspace import Workspace

pytestmark = pytest.mark.slow


def made(home, *args) -> str:
    return cli_json(home, "room", *args)["id"]


def test_a_guest_joins_its_room_by_invite_and_receives_only_it(tmp_path):
    dana, carl = tmp_path / "dana", tmp_path / "carl"
    cli(dana, "init", "--name", "Dana", "--workspace", "Acme Sales")
    deal = cli(dana, "opp", "add", "--account", "Initech", "--title", "Renewal", "--amount",
               "50000", "--stage", "proposal", "--close", "2026-12-15", "--next-step",
               "Legal review").stdout.split()[0]
    room = made(dana, "create", "--deal", deal)
    other = made(dana, "create", "Globex room", "--account", "Globex")
    (tmp_path / "terms.md").write_text("Initech: 45 EUR per seat")
    doc = made(dana, "add", room, "--doc", "Proposal", "--text-file", str(tmp_path / "terms.md"))
    made(dana, "add", other, "--doc", "Globex pricing")
    made(dana, "add", room, "--from-deal")
    task = made(dana, "add", room, "--task", "Sign the MSA", "--side", "customer")
    topic = made(dana, "add", room, "--discussion", "Rollout", "--text", "Kickoff Monday?")
    cli(dana, "doc", "new", "Internal pricing floor")
    with Serve(dana) as node:
        wait_for(lambda: status(dana)["listening"], 30, "the node to publish its addresses")
        code = cli_json(dana, "room", "invite", room, "--email", "ann@initech.example",
                        "--expires", "1h")["code"]
        out = cli(carl, "join", code, "--name", "Ann Lee", timeout=90).stdout
        assert "as guest" in out
        guest = Workspace.open(carl)
        try:
            assert set(guest.doc_ids()) == {"index", f"space:{room}", f"doc:{doc}"}
        finally:
            guest.close()
        assert [r["id"] for r in cli_json(carl, "room", "list")] == [room]
        shown = cli_json(carl, "room", "show", room)
        assert shown["status"] == "Proposal" and shown["next_steps"] == "Legal review"
        assert "guests" not in shown  # who else is invited is the team's business
        cli(carl, "room", "done", task)
        cli(carl, "post", topic, "Monday works for us")
        cli(carl, "sync", "--peer", node.addr, "--once", "--timeout", "30")

        def active() -> dict | None:
            rows = cli_json(dana, "room", "show", room)["guests"]
            return next((r for r in rows if r["name"] == "Ann Lee" and r["writes"] >= 2
                         and r["last_sync"]), None)

        row = wait_for(active, 30, "Dana to see Ann's writes and sync")
        assert row["email"] == "ann@initech.example" and row["last_write"]
        assert [t["done"] for t in cli_json(dana, "room", "show", room)["tasks"]] == [True]

        refused = cli(carl, "room", "add", room, "--task", "Free training", "--side", "vendor",
                      check=False)
        assert refused.returncode != 0 and refused.stderr.count("\n") == 1

        revoked = cli_json(dana, "room", "revoke", room, "Ann Lee")
        assert revoked["removed_from_workspace"]
        cli(dana, "room", "add", room, "--status", "Signed")
        late = cli(carl, "sync", "--peer", node.addr, "--once", "--timeout", "10", check=False)
        assert late.returncode != 0
    assert cli_json(carl, "room", "show", room)["status"] == "Proposal"  # nothing newer
