"""Sync between real ``bullpen serve`` / ``bullpen sync`` processes over libp2p on 127.0.0.1."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from helpers_procs import (
    Serve,
    add_opp,
    cli,
    cli_json,
    env,
    make_profiles,
    status,
    titles,
    wait_converged,
    wait_for,
)

from bullpen.app.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def open_ws(home: Path) -> Workspace:
    return Workspace.open(home, passphrase=env()["BULLPEN_PASSPHRASE"])


def peers_by_id(home: Path) -> dict[str, dict]:
    return {p["peer_id"]: p for p in status(home)["peers"]}


def test_two_serves_sync_both_ways_and_show_peers(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    add_opp(a, "from Ann")
    with Serve(a) as sa, Serve(b) as sb:
        cli(b, "peer", "add", sa.addr)
        wait_for(lambda: "from Ann" in titles(b), 30, "A's record on B")
        add_opp(b, "from Bob")
        wait_for(lambda: "from Bob" in titles(a), 30, "B's record on A")
        digest = wait_converged([a, b])
        assert status(a)["digest"] == status(b)["digest"] == digest
        # status --json of a separate process shows the running node's peer states
        on_a = wait_for(lambda: peers_by_id(a).get(sb.peer_id, {}).get("connected")
                        and peers_by_id(a), 10, "B connected in A's status")
        peer = on_a[sb.peer_id]
        assert peer["short_id"] == sb.peer_id[-6:] and peer["name"] == "Bob"
        assert peer["bytes_in"] > 0 and peer["docs_behind"] == 0
        assert sa.stop(signal.SIGTERM) == 0 and sb.stop(signal.SIGINT) == 0
    assert "Traceback" not in sa.log() + sb.log()
    # the node is gone: status says not connected, and remembers when it last saw B
    peer = peers_by_id(a)[sb.peer_id]
    assert not peer["connected"] and peer["last_seen"]


def test_cli_change_reaches_connected_peer_within_a_second(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    with Serve(a) as sa, Serve(b):
        cli(b, "peer", "add", sa.addr)
        wait_converged([a, b])
        ws_b = open_ws(b)
        try:
            for i in range(3):
                add_opp(a, f"live {i}")  # a CLI process beside A's node
                wait_for(lambda i=i: f"live {i}" in {o["title"] for o in ws_b.list("opportunity")},
                         1.0, f"'live {i}' to reach B", interval=0.01)
        finally:
            ws_b.close()


def test_line_topology_converges_through_the_middle(tmp_path: Path) -> None:
    a, b, c = make_profiles(tmp_path, ["Ann", "Bob", "Cat"])
    with Serve(a) as sa, Serve(b) as sb, Serve(c) as sc:
        cli(b, "peer", "add", sa.addr)
        cli(c, "peer", "add", sb.addr)
        add_opp(a, "from Ann")
        add_opp(c, "from Cat")
        wait_converged([a, b, c])
        assert titles(a) == titles(c) == {"from Ann", "from Cat"}
        # B tells each side where it reached the other (Addrs): the line becomes a mesh
        wait_for(lambda: sc.peer_id in peers_by_id(a) and sa.peer_id in peers_by_id(c), 30,
                 "A and C to hear of each other from B")
        add_opp(b, "from Bob")
        wait_converged([a, b, c])
        assert "from Bob" in titles(a) and "from Bob" in titles(c)


def test_sync_once_and_unreachable_peer(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    add_opp(a, "deal")
    with Serve(a) as sa:
        proc = cli(b, "sync", "--peer", sa.addr, "--once")
        assert proc.returncode == 0
        assert status(a)["digest"] == status(b)["digest"]
        addr = sa.addr
    start = time.monotonic()
    proc = cli(b, "sync", "--peer", addr, "--once", check=False)
    assert proc.returncode != 0 and time.monotonic() - start < 15
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    bad = cli(b, "sync", "--peer", "/ip4/127.0.0.1/tcp/1", "--once", check=False)
    assert bad.returncode != 0 and "peer address" in bad.stderr


def test_offline_edits_merge_on_reconnect(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    opp_id = add_opp(a, "Renewal")
    contact = cli(a, "contact", "add", "--name", "Carla", "--company", "Acme").stdout.strip()
    with Serve(a) as sa, Serve(b):
        cli(b, "peer", "add", sa.addr)
        wait_converged([a, b])
        addr = sa.addr
    # offline: different fields, then the same field, plus delete vs edit
    cli(a, "opp", "update", opp_id, "--amount", "2000")
    cli(b, "opp", "update", opp_id, "--stage", "negotiation")
    cli(a, "opp", "update", opp_id, "--title", "Renewal (Ann)")
    cli(b, "opp", "update", opp_id, "--title", "Renewal (Bob)")
    cli(a, "contact", "delete", contact)
    cli(b, "contact", "update", contact, "--notes", "met at expo")
    port = addr.split("/tcp/")[1].split("/")[0]
    try:  # B redials A's known address...
        sa = Serve(a, listen=f"/ip4/127.0.0.1/tcp/{port}")
    except AssertionError:  # ...unless another test's process took that port meanwhile
        sa = Serve(a)
        cli(b, "peer", "add", sa.addr)
    with sa, Serve(b):
        wait_converged([a, b], timeout=90)
    shown = [cli_json(h, "opp", "show", opp_id) for h in (a, b)]
    assert shown[0]["amount"] == shown[1]["amount"] == 2000
    assert shown[0]["stage"] == shown[1]["stage"] == "negotiation"
    assert shown[0]["title"] == shown[1]["title"] in {"Renewal (Ann)", "Renewal (Bob)"}
    for home in (a, b):
        ws = open_ws(home)
        try:
            record = ws.get(contact, include_deleted=True)
            assert record["deleted"] and record["notes"] == "met at expo"  # edit kept
            assert any("notes" in e.fields for e in ws.history(contact))
            titles_seen = {e.fields["title"][1] for e in ws.history(opp_id) if "title" in e.fields}
            assert {"Renewal (Ann)", "Renewal (Bob)"} <= titles_seen  # the loser is in history
        finally:
            ws.close()


def test_kill_9_during_large_initial_sync_then_converge(tmp_path: Path) -> None:
    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    ws = open_ws(a)
    try:
        for batch in range(50):
            ws.add_many("opportunity", [
                {"account": f"Acct {batch}", "title": f"Deal {batch}-{i}", "amount": i,
                 "stage": "proposal", "close_date": "2026-12-15"} for i in range(100)])
    finally:
        ws.close()
    with Serve(a) as sa:
        cli(b, "peer", "add", sa.addr)
        # SIGKILL mid-sync: once the link is up, then once the deals' document is arriving
        for started in ("syncing with peer", " pipeline"):
            with Serve(b) as sb:
                wait_for(lambda started=started: started in sb.log(), 60,
                         f"B's log to show {started!r}", interval=0.01)
                sb.kill()
        with Serve(b):
            wait_converged([a, b], timeout=120)
    assert len(cli_json(b, "opp", "list")) == 5000
