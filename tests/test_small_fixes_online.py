"""Issue 12/13: who is online (``bullpen member list``, the Team screen) comes from the node
running on this profile, never a guess: you were always "online" and, with no node running,
every teammate "offline". Real ``bullpen serve`` processes on loopback for the CLI; the Team
screen of the real app offscreen, fed the node states the app's Network emits."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_procs import Serve, cli, cli_json, make_profiles, wait_for
from ui_helpers import settle

from bullpen.cli.members import NO_NODE


def _online(profile: Path) -> dict[str, object]:
    return {m["name"]: m["online"] for m in cli_json(profile, "member", "list")}


def test_member_list_without_a_node_says_so(tmp_path: Path):
    dana, _ = make_profiles(tmp_path, ["Dana", "Eli"])
    assert _online(dana) == {"Dana": False, "Eli": None}  # you: not syncing; Eli: unknown
    out = cli(dana, "member", "list").stdout.splitlines()
    assert out[-1] == NO_NODE
    assert [line.split()[-1] for line in out[1:3]] == ["no", "?"]


@pytest.mark.slow
def test_member_list_shows_the_running_nodes_links(tmp_path: Path):
    dana, eli, _ = make_profiles(tmp_path, ["Dana", "Eli", "Fay"])
    with Serve(dana) as dana_node:
        wait_for(lambda: _online(dana)["Dana"], 30, "Dana's node to publish its state")
        assert _online(dana) == {"Dana": True, "Eli": False, "Fay": False}
        assert NO_NODE not in cli(dana, "member", "list").stdout
        cli(eli, "peer", "add", dana_node.addr)
        with Serve(eli):
            wait_for(lambda: _online(dana)["Eli"], 30, "Eli's link to show on Dana's side")
            assert _online(dana) == {"Dana": True, "Eli": True, "Fay": False}
        wait_for(lambda: not _online(dana)["Eli"], 30, "Eli's link to show as down")
    wait_for(lambda: _online(dana)["Dana"] is False, 30, "Dana's node state to go stale")
    assert _online(dana)["Eli"] is None


def _online_column(window) -> dict[str, str]:
    table = window.screen("Team").table
    return {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}


def test_team_screen_online_column_follows_the_node(qtbot, session):
    window = session.window
    window.go(list(window.screens).index("Team"))
    settle(qtbot)
    team = window.screen("Team")
    me = session.ws.peer_id
    others = [m for m in team.members if m["peer_id"] != me]
    assert others, "the demo office has teammates"
    column = _online_column(window)
    assert column["Dana Scott  (you)"] == "offline"  # the session runs no node
    assert {column[m["name"]] for m in others} == {"unknown (sync off)"}

    first = others[0]
    window.set_network_state({"online": True, "listening": ["/ip4/127.0.0.1/tcp/4001"],
                              "error": "", "peers": [{"peer_id": first["peer_id"],
                                                      "connected": True, "docs_behind": 0}]})
    column = _online_column(window)
    assert column["Dana Scott  (you)"] == "● online"
    assert column[first["name"]] == "● online"
    assert {column[m["name"]] for m in others[1:]} <= {"offline"}

    window.set_network_state({"online": False, "listening": [], "peers": [],
                              "error": "stopped"})
    assert _online_column(window)["Dana Scott  (you)"] == "offline"
