"""Relaying between in-process nodes (real libp2p on loopback, the members-only policy): what
the process tests cannot see from outside."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import trio
from libp2p.peer.id import ID

from bullpen.app.members.access import AccessPolicy
from bullpen.app.network.node_setup import make_node
from bullpen.app.workspace import Workspace
from bullpen.sync.node import Node
from bullpen.sync.relay import circuit_addr
from bullpen.sync.relay_client import relayed_by

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def team(tmp_path: Path) -> Any:
    """Ann (manager), Rel and Bob (reps), each holding the founder's index."""
    ann = Workspace.create(tmp_path / "ann", "Ann", "Acme")
    opened = [ann]
    for name in ("Rel", "Bob"):
        ws = Workspace.create_joining(tmp_path / name.lower(), name, ann.workspace_id)
        ann.add_member(ws.peer_id, "rep", name)
        opened.append(ws)
    for ws in opened[1:]:
        ws.merge_saved("index", ann.doc("index").save())
    yield opened
    for ws in opened:
        ws.close()


def node(ws: Workspace, **options: Any) -> Node:
    return make_node(ws, **{"listen": ["/ip4/127.0.0.1/tcp/0"], "redial": False,
                            "publish": False, **options})


async def until(check: Callable[[], Any], timeout: float = 20) -> None:
    with trio.fail_after(timeout):
        while not check():
            await trio.sleep(0.02)


def test_a_closed_circuit_leaves_the_destinations_connection_to_the_relay(team) -> None:
    """The relay dialled Bob (Bob accepted that connection); a circuit from Ann ends: Bob keeps
    the same connection to the relay and his link to it (the relayed connection was accepted
    inside that connection's task, and its end used to end that task)."""
    ann, rel, bob = team
    na, nr, nb = node(ann), node(rel, relay=True), node(bob)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            relay_addr = (await nursery.start(nr.run))[0]
            bob_addr = (await nursery.start(nb.run))[0]
            await nursery.start(na.run)
            await nr.dial(bob_addr)  # inbound at Bob
            await until(lambda: nb.relays.addrs())  # Bob's reservation
            await na.dial(relay_addr)
            relay_pid, bob_pid = ID.from_base58(nr.peer_id), ID.from_base58(nb.peer_id)
            before = nb.host.get_network().get_connections(relay_pid)
            link = await na.dialer.dial(nb.peer_id, [circuit_addr(nr.peer_id, nb.peer_id)])
            await until(lambda: link.synced)
            assert nr.relays.count.open == 1
            for conn in na.host.get_network().get_connections(bob_pid):
                await conn.close()
            await until(lambda: nr.relays.count.open == 0)
            await until(lambda: nb.peer_id not in na.links and na.peer_id not in nb.links)
            assert nb.host.get_network().get_connections(relay_pid) == before
            assert nr.peer_id in nb.links and nb.links[nr.peer_id].is_open
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_the_relay_forwards_ciphertext_only(team, monkeypatch) -> None:
    """Every byte the relay forwards between Ann and Bob is recorded: a deal crossed the
    circuit (the relay itself never syncs deals), and neither its title nor the
    workspace's appears in what the relay saw."""
    from bullpen.sync import relay

    seen = bytearray()
    read, write = relay._Counted.read, relay._Counted.write

    async def reading(self: Any, n: int | None = None) -> bytes:
        data = await read(self, n)
        seen.extend(data)
        return data

    async def writing(self: Any, data: bytes) -> None:
        seen.extend(data)
        await write(self, data)

    monkeypatch.setattr(relay._Counted, "read", reading)
    monkeypatch.setattr(relay._Counted, "write", writing)
    ann, rel, bob = team

    class NoPipeline(AccessPolicy):  # Rel never syncs deals: they can only cross the circuit
        def docs_visible_to(self, peer_id: str, doc_ids: Iterable[str]) -> set[str]:
            return super().docs_visible_to(peer_id, doc_ids) - {"pipeline"}

    na, nb = node(ann), node(bob)
    nr = node(rel, relay=True, policy=NoPipeline(rel))
    # Ann and Bob hear of no address of each other's from teammates: on loopback they would
    # otherwise dial direct ones too, and the link under test could be replaced by a direct one
    monkeypatch.setattr(na.reach, "heard", lambda link, peers: None)
    monkeypatch.setattr(nb.reach, "heard", lambda link, peers: None)
    secret = "Zanzibar secret expansion"
    before: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            relay_addr = (await nursery.start(nr.run))[0]
            await nursery.start(nb.run)
            await nursery.start(na.run)
            await nb.dial(relay_addr)
            await until(lambda: nb.relays.addrs())
            await na.dial(relay_addr)
            link = await na.dialer.dial(nb.peer_id, [circuit_addr(nr.peer_id, nb.peer_id)])
            await until(lambda: link.idle_in_sync)
            before.append(len(seen))
            await trio.to_thread.run_sync(lambda: ann.add("opportunity", {
                "account": "Initech", "title": secret, "amount": 10, "stage": "proposal",
                "close_date": "2026-12-15"}))
            await until(lambda: any(o["title"] == secret for o in bob.list("opportunity")))
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert len(seen) - before[0] > len(secret)  # the deal crossed the circuit
    for plain in (secret, "Acme"):
        assert plain.encode() not in seen


def test_a_reservation_is_renewed_before_it_lapses(team) -> None:
    """With 2 s reservations, Bob renews his before each lapses, and Ann still reaches him
    through the relay well after the first one would have ended."""
    from bullpen.sync.relay import RelayLimits

    ann, rel, bob = team
    na, nb = node(ann), node(bob)
    nr = node(rel, relay=True, relay_limits=RelayLimits(reservation_seconds=2))

    def expiry() -> float:
        hop = nr.relays._hop
        held = hop.resource_manager.get_reservation(ID.from_base58(nb.peer_id)) if hop else None
        return held.expires_at if held is not None else 0.0

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            relay_addr = (await nursery.start(nr.run))[0]
            await nursery.start(nb.run)
            await nursery.start(na.run)
            await nb.dial(relay_addr)
            await until(lambda: expiry())
            first = expiry()
            await until(lambda: expiry() >= first + 2, timeout=10)  # renewed (twice)
            assert time.time() > first  # the first reservation would have lapsed by now
            await na.dial(relay_addr)
            link = await na.dialer.dial(nb.peer_id, [circuit_addr(nr.peer_id, nb.peer_id)])
            await until(lambda: link.synced)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_teammates_find_each_other_again_after_the_relay_restarts(team) -> None:
    """Ann and Bob listen nowhere (as behind a NAT), so they meet only through the relay; it
    goes away and comes back on the same address: they redial it, Bob reserves again, the relay
    tells Ann again, and Ann and Bob link again."""
    ann, rel, bob = team
    na, nb = node(ann, listen=[], redial=True), node(bob, listen=[], redial=True)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(na.run)
            await nursery.start(nb.run)
            listen = ["/ip4/127.0.0.1/tcp/0"]
            for run in ("first", "after a restart"):
                relay = node(rel, relay=True, listen=listen)
                async with trio.open_nursery() as relay_nursery:
                    relay_addr = (await relay_nursery.start(relay.run))[0]
                    listen = [relay_addr.split("/p2p/")[0]]
                    if run == "first":
                        for member in (na, nb):
                            await member.dial(relay_addr)
                    await until(lambda: nb.peer_id in na.links, timeout=60)
                    assert relayed_by(na.links[nb.peer_id].stream, na.peer_id) is not None
                    relay_nursery.cancel_scope.cancel()
                await until(lambda: nb.peer_id not in na.links)
            nursery.cancel_scope.cancel()

    trio.run(main)
