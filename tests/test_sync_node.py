"""The sync node in-process: two or three real libp2p hosts on 127.0.0.1 in one trio run.

Faster than the multi-process tests, so they cover the node's own behaviour: live propagation,
relays, blobs, duplicate connections, a hostile client, per-peer state.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr

from bullpen.app.network.node_setup import make_node
from bullpen.app.workspace import Workspace
from bullpen.sync import framing, messages, payloads
from bullpen.sync.node import PROTOCOL_ID, DialError, Node
from bullpen.sync.policy import Policy

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def replicas(tmp_path: Path):
    founder = Workspace.create(tmp_path / "ann", "Ann", "Acme")
    opened = [founder]

    def make(name: str) -> Workspace:
        ws = Workspace.create_joining(tmp_path / name.lower(), name, founder.workspace_id)
        founder.add_member(ws.peer_id, "rep", name)
        opened.append(ws)
        return ws

    yield founder, make
    for ws in opened:
        ws.close()


def opp(ws: Workspace, title: str) -> str:
    return ws.add("opportunity", {"account": "Acme", "title": title, "amount": 10,
                                  "stage": "proposal", "close_date": "2026-12-15"})


def titles(ws: Workspace) -> set[str]:
    return {o["title"] for o in ws.list("opportunity")}


async def eventually(check: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    with trio.fail_after(timeout):
        while True:
            value = await trio.to_thread.run_sync(check)
            if value:
                return value
            await trio.sleep(0.02)


def open_node(ws: Workspace, **options: Any) -> Node:
    """A node on loopback that syncs with anyone (these replicas test the protocol, not
    membership: ``test_sync_reach`` and the stranger tests run the members-only policy)."""
    return make_node(ws, listen=["/ip4/127.0.0.1/tcp/0"], policy=Policy(), **options)


def run_nodes(*nodes: Node, body: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            addrs = [await nursery.start(n.run) for n in nodes]
            await body(*addrs)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_live_changes_and_relay_down_a_line(replicas) -> None:
    a, make = replicas
    b, c = make("Bob"), make("Cat")
    opp(a, "first")
    # A and C hear of each other from B (Addrs) but do not redial: the line stays a line.
    na, nb = open_node(a, publish=False, redial=False), open_node(b, publish=False)
    nc = open_node(c, publish=False, redial=False)

    async def body(aa, ab, ac) -> None:
        await nb.dial(aa[0])
        await nc.dial(ab[0])
        await eventually(lambda: titles(c) == {"first"})
        assert a.peer_id not in nc.links  # a line: C only talks to B
        for i in range(5):
            start = trio.current_time()
            await trio.to_thread.run_sync(opp, c, f"from C {i}")
            await eventually(lambda i=i: f"from C {i}" in titles(a))
            assert trio.current_time() - start < 2
        await trio.to_thread.run_sync(opp, a, "from A")
        await eventually(lambda: "from A" in titles(c))
        await eventually(lambda: a.digest() == b.digest() == c.digest())
        states = {s.peer_id: s for s in nb.peer_states()}
        assert states[a.peer_id].connected and states[c.peer_id].connected
        assert states[a.peer_id].bytes_in > 0 and states[a.peer_id].bytes_out > 0
        await eventually(lambda: states[c.peer_id].docs_behind == 0 or
                         {s.peer_id: s for s in nb.peer_states()}[c.peer_id].docs_behind == 0)

    run_nodes(na, nb, nc, body=body)


def test_simultaneous_dials_leave_one_link(replicas) -> None:
    a, make = replicas
    b = make("Bob")
    na, nb = open_node(a, publish=False), open_node(b, publish=False)

    async def body(aa, ab) -> None:
        async with trio.open_nursery() as n:
            n.start_soon(na.dial, ab[0])
            n.start_soon(nb.dial, aa[0])
        await eventually(lambda: a.digest() == b.digest())
        await trio.sleep(0.5)
        assert set(na.links) == {b.peer_id} and set(nb.links) == {a.peer_id}
        await trio.to_thread.run_sync(opp, b, "after")
        await eventually(lambda: "after" in titles(a))

    run_nodes(na, nb, body=body)


def test_a_file_a_peer_lacked_at_first_is_asked_for_again(replicas, tmp_path: Path) -> None:
    """Cat asks Bob for a file Bob has the record of but not yet the bytes ("missing"); once
    Bob has it (from Ann), Cat gets it without any new change to ask again on."""
    from replicas import exchange

    a, make = replicas
    b, c = make("Bob"), make("Cat")
    deck = tmp_path / "deck.bin"
    deck.write_bytes(os.urandom(5000))
    a.add_resource(deck)
    sha = hashlib.sha256(deck.read_bytes()).hexdigest()
    exchange(a, b)  # the record, not the file
    assert not b.blobs.has(sha)
    na, nb, nc = (open_node(ws, publish=False, redial=False) for ws in (a, b, c))

    async def body(aa, ab, ac) -> None:
        await nc.dial(ab[0])
        await eventually(lambda: c.list("resource") and nc.links[b.peer_id].synced)
        assert not c.blobs.has(sha)
        await nb.dial(aa[0])
        await eventually(lambda: b.blobs.has(sha))
        await eventually(lambda: c.blobs.has(sha), timeout=15)

    run_nodes(na, nb, nc, body=body)


def test_resource_blob_is_fetched(replicas, tmp_path: Path) -> None:
    a, make = replicas
    b = make("Bob")
    deck = tmp_path / "deck.bin"
    deck.write_bytes(os.urandom(messages.BLOB_CHUNK * 2 + 123))
    rid = a.add_resource(deck)
    sha = hashlib.sha256(deck.read_bytes()).hexdigest()
    na, nb = open_node(a, publish=False), open_node(b, publish=False)

    async def body(aa, ab) -> None:
        await nb.dial(aa[0])
        await eventually(lambda: b.blobs.has(sha))
        # a resource added while connected also arrives
        later = tmp_path / "later.txt"
        later.write_bytes(b"notes " * 1000)
        await trio.to_thread.run_sync(a.add_resource, later)
        later_sha = hashlib.sha256(later.read_bytes()).hexdigest()
        await eventually(lambda: b.blobs.has(later_sha))

    run_nodes(na, nb, body=body)
    out = tmp_path / "out.bin"
    b.export_resource(rid, out)
    assert out.read_bytes() == deck.read_bytes()


def test_unreachable_peer_fails_fast(replicas) -> None:
    a, _ = replicas
    na = open_node(a, publish=False)
    ghost = create_new_key_pair(b"\x01" * 32)
    ghost_id = ID.from_pubkey(ghost.public_key)

    async def body(aa) -> None:
        start = trio.current_time()
        with pytest.raises(DialError):
            await na.dial(f"/ip4/127.0.0.1/tcp/1/p2p/{ghost_id}")
        assert trio.current_time() - start < 10

    run_nodes(na, body=body)


@pytest.mark.parametrize("attack", ["garbage", "oversize", "random_frame", "bad_sync",
                                    "bad_saved", "unrequested_blob", "other_workspace"])
def test_hostile_peer_is_dropped_and_changes_nothing(replicas, attack: str) -> None:
    a, make = replicas
    b = make("Bob")
    opp(a, "keep")
    na, nb = open_node(a, publish=False), open_node(b, publish=False)
    evil_host = new_host(key_pair=create_new_key_pair(os.urandom(32)))

    def payload() -> bytes:
        hello = messages.Hello(a.workspace_id, {})
        wire = b"".join(framing.encode(messages.encode(hello)))
        if attack == "garbage":
            return os.urandom(5000)
        if attack == "oversize":
            return struct.pack(">IB", framing.MAX_FRAME + 1, 0) + os.urandom(100)
        if attack == "random_frame":
            return b"".join(framing.encode(os.urandom(4000)))
        if attack == "bad_sync":
            return wire + b"".join(framing.encode(messages.encode(
                messages.Sync("pipeline", b"\x42\x00\x00\x00\x01\x20" + os.urandom(32)))))
        if attack == "bad_saved":
            return wire + b"".join(framing.encode(messages.encode(
                messages.Saved("pipeline", payloads.compress_saved(os.urandom(500))))))
        if attack == "unrequested_blob":
            return wire + b"".join(framing.encode(messages.encode(
                messages.BlobData("ab" * 32, 0, 3, b"abc"))))
        other = messages.Hello("another-workspace", {"pipeline": []})
        return b"".join(framing.encode(messages.encode(other)))

    async def body(aa, ab) -> None:
        await nb.dial(aa[0])
        await eventually(lambda: a.digest() == b.digest())
        before = a.digest()
        async with evil_host.run([Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            info = info_from_p2p_addr(Multiaddr(aa[0]))
            await evil_host.connect(info)
            stream = await evil_host.new_stream(info.peer_id, [PROTOCOL_ID])
            await stream.write(payload())
            with trio.fail_after(10):  # the node hangs up on us
                try:
                    while await stream.read(65536):
                        pass
                except Exception:
                    pass
        assert a.digest() == before
        assert str(evil_host.get_id()) not in na.links
        await trio.to_thread.run_sync(opp, b, "still syncing")
        await eventually(lambda: "still syncing" in titles(a))
        assert a.digest() == b.digest()

    run_nodes(na, nb, body=body)


def test_commands_from_another_thread(replicas) -> None:
    """The GUI thread drives the node only through submit() and stop()."""
    import threading
    import time

    a, make = replicas
    b = make("Bob")
    opp(a, "via submit")
    na, nb = open_node(a, publish=False), open_node(b, publish=False)
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            box["addrs"] = await nursery.start(na.run)
            await nursery.start(nb.run)
            started.set()  # the nursery then waits for both nodes to stop

    def runner() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            box["error"] = exc

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    assert started.wait(30)
    nb.submit(nb.dial, box["addrs"][0])  # called from this (non-trio) thread
    end = time.monotonic() + 20
    while "via submit" not in titles(b):
        assert time.monotonic() < end, "submitted dial did not sync"
        time.sleep(0.05)
    assert any(s.connected for s in nb.peer_states())
    nb.stop()
    na.stop()
    thread.join(20)
    assert not thread.is_alive()


def test_relayed_changes_of_a_removed_member_converge(tmp_path: Path) -> None:
    """Bob accepted Xena's edit before he learned she was removed. Ann, who removed her,
    refuses it while it comes alone; once the removal reaches Bob, his node builds on what he
    accepted, Ann keeps it with Bob's change on top (docs/SECURITY.md, "Removed members"), and
    the pipeline converges; the connection stays up throughout."""
    from replicas import exchange, join, send_whole

    from bullpen.app.network.node_setup import make_node

    ann = Workspace.create(tmp_path / "ann", "Ann", "Acme")
    bob = join(ann, tmp_path / "bob", "Bob")
    xena = join(ann, tmp_path / "xena", "Xena")
    exchange(ann, bob)
    try:
        ann.remove_member(xena.peer_id)  # Bob has not heard of it yet
        opp(xena, "after removal")
        send_whole(xena, bob, "pipeline")
        bob.add("contact", {"name": "Eli"})
        nodes = [make_node(ws, listen=["/ip4/127.0.0.1/tcp/0"], redial=False, publish=False)
                 for ws in (ann, bob)]

        async def body(aa, ab) -> None:
            await nodes[1].dial(aa[0])
            names = lambda: {c["name"] for c in ann.list("contact")}  # noqa: E731
            await eventually(lambda: "Eli" in names())
            await eventually(lambda: bob.role(xena.peer_id) is None)  # Bob learns
            link = nodes[0].links[bob.peer_id]
            await eventually(lambda: "after removal" in titles(ann))
            await eventually(lambda: ann.heads("pipeline") == bob.heads("pipeline"))
            await trio.to_thread.run_sync(lambda: bob.add("contact", {"name": "Fay"}))
            await eventually(lambda: "Fay" in names())  # the connection stayed up
            assert nodes[0].links[bob.peer_id] is link
            state = {s.peer_id: s for s in nodes[0].peer_states()}[bob.peer_id]
            await eventually(lambda: not nodes[0].links[bob.peer_id].session.blocked)
            assert "pipeline" not in state.refused

        run_nodes(*nodes, body=body)
    finally:
        for ws in (ann, bob, xena):
            ws.close()
