"""Reaching teammates, between real ``bullpen serve`` processes on 127.0.0.1: new addresses
(``peer add`` on a running node, teammates telling each other), no redial storms, and refused
changes that are reported instead of left silently unsynced."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers_procs import (
    Serve,
    add_opp,
    cli,
    env,
    make_profiles,
    status,
    titles,
    wait_converged,
    wait_for,
)

from bullpen.app.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def peers_by_id(home: Path) -> dict[str, dict]:
    return {p["peer_id"]: p for p in status(home)["peers"]}


def connected(home: Path, peer_id: str) -> bool:
    return bool(peers_by_id(home).get(peer_id, {}).get("connected"))


def test_ring_restarted_on_new_ports_finds_itself_again(tmp_path: Path) -> None:
    homes = make_profiles(tmp_path, ["Ann", "Bob", "Cat", "Dan"])
    serves = [Serve(h) for h in homes]
    try:
        for i, home in enumerate(homes):  # a ring: each knows only the next one
            cli(home, "peer", "add", serves[(i + 1) % 4].addr)
        wait_converged(homes)
        for pair in ((0, 1), (2, 3)):  # two neighbours at once: both old addresses die
            for i in pair:
                serves[i].kill()
            old = {i: serves[i].addr for i in pair}
            for i in pair:
                serves[i] = Serve(homes[i])
                assert serves[i].addr != old[i]
            a, b = pair
            # Each reaches a teammate it knew; the teammates tell each other, so the two
            # restarted ones find each other's new address (neither could dial the other's).
            wait_for(lambda a=a, b=b: connected(homes[a], serves[b].peer_id)
                     and connected(homes[b], serves[a].peer_id), 60,
                     "the restarted neighbours to reconnect")
            for i, home in enumerate(homes):
                add_opp(home, f"after restart {pair} by {i}")
            wait_converged(homes, timeout=60)
            assert {f"after restart {pair} by {i}" for i in range(4)} <= titles(homes[0])
    finally:
        for s in serves:
            s.kill()
    assert "Traceback" not in "".join(s.log() for s in serves)


def test_peer_add_of_a_new_address_reaches_a_running_node(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    with Serve(a) as sa, Serve(b) as sb:
        cli(b, "peer", "add", sa.addr)
        wait_converged([a, b])
        old = sa.addr
        sa.kill()
        cli(a, "peer", "remove", sb.peer_id)  # A will not dial B: B must come to A
        with Serve(a) as sa2:
            assert sa2.addr != old
            add_opp(a, "after the move")
            cli(b, "peer", "add", sa2.addr)  # B's node is running
            wait_for(lambda: "after the move" in titles(b), 30, "B to reach A's new address")
            # B's node does not write the old address back over the new one
            wait_for(lambda: peers_by_id(b)[sa2.peer_id]["addrs"][0] == sa2.addr, 10,
                     "the new address first in B's table")
            sb.stop()
            assert peers_by_id(b)[sa2.peer_id]["addrs"][0] == sa2.addr


def _dials(home: Path, peer_id: str) -> int:
    """Connection attempts of ``home``'s node to ``peer_id`` (published in its status)."""
    return peers_by_id(home)[peer_id]["dials"]


def test_removed_member_and_stranger_cause_no_redial_storm(tmp_path: Path) -> None:
    a, b, e = make_profiles(tmp_path, ["Ann", "Bob", "Eli"])
    stranger = Workspace.create_joining(tmp_path / "sam", "Sam", status(a)["workspace_id"],
                                        passphrase=env()["BULLPEN_PASSPHRASE"])
    stranger_id = stranger.peer_id
    stranger.close()
    with Serve(a) as sa, Serve(b) as sb, Serve(e) as se:
        cli(b, "peer", "add", sa.addr)
        cli(e, "peer", "add", sa.addr)
        wait_converged([a, b, e])
        wait_for(lambda: connected(e, sb.peer_id), 30, "Eli to hear of Bob from Ann")
        cli(a, "member", "remove", "Eli")
        wait_for(lambda: not connected(e, sa.peer_id) and not connected(e, sb.peer_id), 30,
                 "Ann and Bob to hang up on Eli")
        # Ann and Bob forget Eli: not shown, not redialled
        wait_for(lambda: se.peer_id not in peers_by_id(a) and se.peer_id not in peers_by_id(b),
                 30, "Eli pruned from Ann's and Bob's peers")
        # A stranger opens a connection to Ann: refused, and never remembered
        proc = cli(tmp_path / "sam", "sync", "--peer", sa.addr, "--once", "--timeout", "10",
                   check=False)
        assert proc.returncode != 0
        before = {p: _dials(e, p) for p in (sa.peer_id, sb.peer_id)}
        # Not a wait for something: a redial storm is a rate, so the test watches a window of
        # 10 s in which Eli's node keeps trying (slowly) and the stranger never shows up.
        start = time.monotonic()
        while time.monotonic() - start < 10:
            assert stranger_id not in peers_by_id(a)
            time.sleep(0.5)
        after = {p: _dials(e, p) for p in (sa.peer_id, sb.peer_id)}
        # it does try (1, 2, 4 ... 30 s apart), never dozens of times a second
        assert all(before[p] >= 1 and after[p] - before[p] <= 5 for p in after), (before, after)
    assert "Traceback" not in sa.log() + sb.log() + se.log()


def _smuggle_outsider_change(tmp_path: Path, home: Path) -> None:
    """Put into ``home``'s pipeline a change by a key that is not a member (a modified client
    can write any change; here the library merges it without the sync checks)."""
    phrase = env()["BULLPEN_PASSPHRASE"]
    ws = Workspace.open(home, passphrase=phrase)
    try:
        outsider = Workspace.create_joining(tmp_path / "mal", "Mal", ws.workspace_id,
                                            passphrase=phrase)
        try:
            outsider.merge_saved("index", ws.doc("index").save())
            outsider.merge_saved("pipeline", ws.doc("pipeline").save())
            outsider.add("opportunity", {"account": "X", "title": "smuggled", "amount": 1,
                                         "stage": "proposal", "close_date": "2026-12-15"})
            ws.merge_saved("pipeline", outsider.doc("pipeline").save())
        finally:
            outsider.close()
    finally:
        ws.close()


def test_sync_once_names_refused_document_peer_and_reason(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    add_opp(a, "shared")
    with Serve(a) as sa:
        assert cli(b, "sync", "--peer", sa.addr, "--once").returncode == 0
        _smuggle_outsider_change(tmp_path, b)
        # B offers the outsider's change: A refuses it and tells B, which says so
        proc = cli(b, "sync", "--peer", sa.addr, "--once", "--timeout", "60", check=False)
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "pipeline" in line and sa.peer_id in line, line
    assert "not a member" in line and "refuses ours" in line, line
    assert "Traceback" not in proc.stderr and "smuggled" not in titles(a)


def test_refused_document_is_reported_and_not_offered_in_a_loop(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    add_opp(a, "shared")
    _smuggle_outsider_change(tmp_path, a)
    with Serve(a) as sa:
        # A holds the outsider's change; B refuses it from A, and says so
        proc = cli(b, "sync", "--peer", sa.addr, "--once", "--timeout", "60", check=False)
        assert proc.returncode == 1, proc.stderr
        assert "pipeline" in proc.stderr and "refused from this peer" in proc.stderr
        assert "not a member" in proc.stderr and sa.peer_id in proc.stderr
        with Serve(b) as sb:
            cli(b, "peer", "add", sa.addr)
            held = wait_for(lambda: peers_by_id(b).get(sa.peer_id, {}).get("refused"), 30,
                            "B's node to show A's pipeline held back")
            assert "pipeline" in held
            wait_for(lambda: "pipeline" in peers_by_id(a).get(sb.peer_id, {}).get(
                "held_by_peer", {}), 30, "A's node to show that B refuses its pipeline")
            assert "it refuses our pipeline" in cli(a, "status").stdout
            assert "holding back pipeline" in cli(b, "status").stdout
            # two running nodes with a refused document settle: no traffic loop
            # Not a wait for something: a traffic loop is a rate, so the test watches a 5 s
            # window in which nothing changes, and fails as soon as the bytes moved add up.
            first = peers_by_id(b)[sa.peer_id]
            start = time.monotonic()
            while time.monotonic() - start < 5:
                last = peers_by_id(b)[sa.peer_id]
                moved = sum(last[k] - first[k] for k in ("bytes_in", "bytes_out"))
                assert last["connected"] and moved < 5_000, moved
                time.sleep(0.5)
            # the other documents still sync
            cli(a, "contact", "add", "--name", "Carla", "--company", "Acme")
            wait_for(lambda: "Carla" in cli(b, "contact", "list").stdout, 30,
                     "A's contact on B")
            assert "Traceback" not in sa.log() + sb.log()
