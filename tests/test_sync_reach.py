"""Timestamped addresses: merging, the peers table, the Addrs/Held messages, and the node's
address book in-process (two or three real libp2p hosts in one trio run)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import trio
from helpers import until

from bullpen.app.network.node_setup import make_node
from bullpen.app.network.peer_book import StorePeerBook, add_peer
from bullpen.app.workspace import Workspace
from bullpen.sync.addresses import MAX_KEPT, merge_times, newest_first
from bullpen.sync.messages import Addrs, Held, ProtocolError, decode, encode
from bullpen.sync.peers import PeerState

pytestmark = pytest.mark.timeout(120)

A1 = "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA"
A2 = "/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWA"


def test_an_older_address_never_overwrites_a_newer_one() -> None:
    book = merge_times({}, {A1: 100.0}, now=1000)
    book = merge_times(book, {A2: 200.0}, now=1000)
    assert newest_first(book) == [A2, A1]
    assert merge_times(book, {A1: 50.0}, now=1000) == book  # an old report changes nothing
    assert newest_first(merge_times(book, {A1: 300.0}, now=1000)) == [A1, A2]
    # a time from the future (another clock, or a lie) counts as now, no later
    assert merge_times(book, {A1: 10**9}, now=1000)[A1] == 1000
    many = merge_times({}, {f"/ip4/10.0.1.{i}/tcp/1": float(i) for i in range(20)}, now=1000)
    assert len(many) == MAX_KEPT and min(many.values()) == 20 - MAX_KEPT


def test_reach_messages_round_trip_and_bad_ones_are_protocol_errors() -> None:
    for msg in (Addrs({"12D3KooWA": {A1: 1.5, A2: 2}}), Held("pipeline", "why"),
                Held("pipeline")):
        assert decode(encode(msg)) == msg
    for header in ({"peers": {"p": {A1: True}}}, {"peers": {"p": {A1: -1}}},
                   {"peers": {"p": [A1]}}, {"peers": {"p": {A1: 1}}, "x": 1} | {"peers": 3},
                   {"peers": {"p": {f"/ip4/1.1.1.{i}/tcp/1": 1 for i in range(17)}}}):
        raw = json.dumps(header).encode()
        with pytest.raises(ProtocolError):
            decode(struct.pack(">BI", 8, len(raw)) + raw)


@pytest.fixture
def ws(tmp_path: Path):
    w = Workspace.create(tmp_path / "ann", "Ann", "Acme")
    yield w
    w.close()


def test_peers_table_merges_addresses_and_save_seen_keeps_them(ws: Workspace) -> None:
    other = Workspace.create_joining(ws.home.parent / "bob", "Bob", ws.workspace_id)
    bob = other.peer_id
    other.close()
    old, new = f"/ip4/127.0.0.1/tcp/1000/p2p/{bob}", f"/ip4/127.0.0.1/tcp/2000/p2p/{bob}"
    book = StorePeerBook(ws)
    book.remember(bob, {old: 100.0})
    add_peer(ws, new)  # stamped now: first
    state = book.known()[bob]
    assert state.addrs == [new, old]
    # a node's stale in-memory view never writes the old address back
    stale = PeerState(bob, "Bob", [old], last_seen=5.0)
    stale.set_times({old: 100.0})
    book.save_seen([stale])
    book.remember(bob, {old: 100.0})
    again = book.known()[bob]
    assert again.addrs == [new, old] and again.name == "Bob" and again.last_seen == 5.0
    # a table written by an older Bullpen (a plain list) still reads, as never confirmed
    with ws.lock, ws.store.transaction():
        ws.store.db.execute("UPDATE peers SET addrs = ? WHERE peer_id = ?",
                            [json.dumps([old]), bob])
    assert book.known()[bob].addr_times == {old: 0.0}
    book.forget([bob])
    assert book.known() == {}


def test_teammates_tell_each_other_and_strangers_are_not_kept(ws: Workspace) -> None:
    """B hears from A where C is (and C of B) and dials it: a line becomes a mesh. A
    report naming a non-member is dropped."""
    made = []
    for name in ("Bob", "Cat"):
        joiner = Workspace.create_joining(ws.home.parent / name.lower(), name, ws.workspace_id)
        ws.add_member(joiner.peer_id, "rep", name)
        joiner.merge_saved("index", ws.doc("index").save())
        made.append(joiner)
    stranger = Workspace.create_joining(ws.home.parent / "sam", "Sam", ws.workspace_id)
    guest = Workspace.create_joining(ws.home.parent / "gus", "Gus", ws.workspace_id)
    ws.add_member(guest.peer_id, "guest", "Gus")
    guest.merge_saved("index", ws.doc("index").save())
    b, c = made
    na, nb, nc, ng = (make_node(w, listen=["/ip4/127.0.0.1/tcp/0"], publish=False)
                      for w in (ws, b, c, guest))  # members only (make_node's policy)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            aa, ab, ac, _ = [await nursery.start(n.run) for n in (na, nb, nc, ng)]
            await nb.dial(aa[0])
            await nc.dial(aa[0])
            await ng.dial(aa[0])
            await until(lambda: c.peer_id in nb.peers and b.peer_id in nc.peers
                        and nb.links.get(c.peer_id) and nb.links[c.peer_id].is_open, 20,
                        "Bob and Cat to hear of each other from Ann and connect")
            assert nb.peers[c.peer_id].addrs[0] in ac
            # a member's report naming a stranger is not learned (the member in it is)
            moved = f"/ip4/127.0.0.1/tcp/9/p2p/{c.peer_id}"
            na.links[b.peer_id].send(Addrs({
                stranger.peer_id: {f"/ip4/127.0.0.1/tcp/9/p2p/{stranger.peer_id}": 1e10},
                c.peer_id: {moved: 1e10}}))
            await until(lambda: nb.peers[c.peer_id].addrs[0] == moved, 10,
                        "Bob to learn Cat's reported address")
            assert stranger.peer_id not in nb.peers
            # a guest (a customer) is a member, but is told nothing of where teammates are
            await until(lambda: na.links.get(guest.peer_id) is not None
                        and na.links[guest.peer_id].teammate is not None, 10,
                        "Ann's link to the guest to know whether it is a teammate")
            assert na.links[guest.peer_id].teammate is False
            assert na.links[b.peer_id].teammate is True
            assert set(ng.peers) == {ws.peer_id}
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        for w in (b, c, stranger, guest):
            w.close()
