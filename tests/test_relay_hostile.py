"""A relaying member serves its managers and reps only, within its limits (``sync/relay.py``).

The relay (Rel, ``bullpen serve --relay``) and the member behind it (Bob, who keeps a
reservation there) are real processes; the attackers are raw libp2p hosts in this process, each
with its own key: a stranger (a valid libp2p peer, no member), a guest (a customer admitted to a
deal room) and a rep (Cat) whose modified client sends any relay message; the stranger and the
guest also pose as a relay to Bob (a stop stream). Each asks for what it may not have, and a
rep's ordinary requests are the control (they succeed, so a broken attacker cannot pass for a
refusal; the relay's own stop streams to Bob carry Cat's circuit). The limits are tested
against an in-process relay node with small limits and two member hosts at the circuits' ends.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, StopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.relay.circuit_v2.utils import read_delimited_msg, write_delimited_msg
from multiaddr import Multiaddr

sys.path.insert(0, str(Path(__file__).parent))
from helpers_procs import PASSPHRASE, Serve, cli, wait_for  # noqa: E402

from bullpen.app.network.node_setup import make_node  # noqa: E402
from bullpen.app.workspace import Workspace  # noqa: E402
from bullpen.sync.relay import HOP_PROTOCOL, STOP_PROTOCOL, RelayLimits  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

HUNG_UP = "hung up"  # the relay reset the stream or dropped the connection unanswered
LOOPBACK = Multiaddr("/ip4/127.0.0.1/tcp/0")


def office(root: Path) -> dict[str, Path]:
    """Ann founds the workspace (manager); Rel, Bob, Cat are reps, Gus a guest; every profile
    holds the founder's index (as ``join`` gives it)."""
    founder = Workspace.create(root / "ann", "Ann", "Acme Sales", passphrase=PASSPHRASE)
    homes = {"ann": root / "ann"}
    try:
        for name, role in (("Rel", "rep"), ("Bob", "rep"), ("Cat", "rep"), ("Gus", "guest")):
            home = homes[name.lower()] = root / name.lower()
            joiner = Workspace.create_joining(home, name, founder.workspace_id,
                                              passphrase=PASSPHRASE)
            founder.add_member(joiner.peer_id, role, name)
            joiner.close()
        for name, home in homes.items():
            if name != "ann":
                ws = Workspace.open(home, passphrase=PASSPHRASE)
                ws.merge_saved("index", founder.doc("index").save())
                ws.close()
    finally:
        founder.close()
    return homes


def key_of(home: Path | None) -> Any:
    """The libp2p key pair of a profile (a fresh one for a stranger)."""
    if home is None:
        return create_new_key_pair()
    ws = Workspace.open(home, passphrase=PASSPHRASE)
    try:
        return create_new_key_pair(ws.identity.seed)
    finally:
        ws.close()


def peer_bytes(peer_id: str) -> bytes:
    return ID.from_base58(peer_id).to_bytes()


async def exchange(host: Any, addr: str, protocol: Any, msg: Any, reply_type: Any) -> Any:
    """Open ``protocol`` to ``addr``, send ``msg``, read one ``reply_type``: the reply, or
    :data:`HUNG_UP` when the peer reset the stream or dropped the connection unanswered."""
    peer = info_from_p2p_addr(Multiaddr(addr))
    try:
        await host.connect(peer)
        stream = await host.new_stream(peer.peer_id, [protocol])
        with trio.fail_after(10):
            await write_delimited_msg(stream, msg)
            return await read_delimited_msg(stream, reply_type)
    except trio.TooSlowError:
        raise
    except Exception:
        return HUNG_UP


async def ask(host: Any, relay_addr: str, msg: HopMessage) -> StatusCode | str:
    """One hop request to the relay: the status it answers, or :data:`HUNG_UP`."""
    reply = await exchange(host, relay_addr, HOP_PROTOCOL, msg, HopMessage)
    return reply if reply == HUNG_UP else StatusCode(reply.status)


async def stop_to(host: Any, addr: str) -> StatusCode | str:
    """Pose as a relay to ``addr``: a stop CONNECT from a made-up peer."""
    made_up = ID.from_pubkey(create_new_key_pair().public_key).to_bytes()
    reply = await exchange(host, addr, STOP_PROTOCOL,
                           StopMessage(type=StopMessage.CONNECT, peer=CircuitPeer(id=made_up)),
                           StopMessage)
    return reply if reply == HUNG_UP else StatusCode(reply.status)


def reserve(as_peer: str | None = None) -> HopMessage:
    if as_peer is None:
        return HopMessage(type=HopMessage.RESERVE)
    return HopMessage(type=HopMessage.RESERVE, peer=CircuitPeer(id=peer_bytes(as_peer)))


def connect(to_peer: str) -> HopMessage:
    return HopMessage(type=HopMessage.CONNECT, peer=CircuitPeer(id=peer_bytes(to_peer)))


async def as_host(key: Any, body: Callable[[Any], Awaitable[None]]) -> None:
    host = new_host(key_pair=key)
    async with host.run(listen_addrs=[LOOPBACK]):
        await body(host)


def test_strangers_guests_and_reps_cannot_misuse_a_relay(tmp_path: Path) -> None:
    homes = office(tmp_path)
    ids = {name: str(ID.from_pubkey(key_of(home).public_key)) for name, home in homes.items()}
    keys = {"stranger": key_of(None), "gus": key_of(homes["gus"]), "cat": key_of(homes["cat"])}
    stranger_id = str(ID.from_pubkey(keys["stranger"].public_key))
    with Serve(homes["rel"], "--relay") as rel, Serve(homes["bob"]) as bob:
        cli(homes["bob"], "peer", "add", rel.addr)
        wait_for(lambda: f"relay: reservation for {ids['bob'][-6:]}" in rel.log(), 30,
                 "Bob's reservation on the relay")
        outcomes: dict[str, Any] = {}

        async def attack(who: str, host: Any) -> None:
            outcomes[who, "reserve"] = await ask(host, rel.addr, reserve())
            outcomes[who, "circuit to Bob"] = await ask(host, rel.addr, connect(ids["bob"]))
            if who == "cat":
                outcomes[who, "reserve as Bob"] = await ask(host, rel.addr,
                                                            reserve(as_peer=ids["bob"]))
                outcomes[who, "circuit to Gus"] = await ask(host, rel.addr, connect(ids["gus"]))
                outcomes[who, "circuit to stranger"] = await ask(host, rel.addr,
                                                                 connect(stranger_id))
            else:  # a stop stream straight to Bob: only a teammate relays to him
                outcomes[who, "stop to Bob"] = await stop_to(host, bob.addr)

        async def main() -> None:
            for who, key in keys.items():
                await as_host(key, lambda host, who=who: attack(who, host))

        trio.run(main)
    assert outcomes == {
        ("stranger", "reserve"): HUNG_UP,
        ("stranger", "circuit to Bob"): HUNG_UP,
        ("stranger", "stop to Bob"): HUNG_UP,
        ("gus", "reserve"): StatusCode.PERMISSION_DENIED,
        ("gus", "circuit to Bob"): StatusCode.PERMISSION_DENIED,
        ("gus", "stop to Bob"): HUNG_UP,
        ("cat", "reserve"): StatusCode.OK,  # the controls: a rep's own requests
        ("cat", "circuit to Bob"): StatusCode.OK,
        ("cat", "reserve as Bob"): StatusCode.PERMISSION_DENIED,
        ("cat", "circuit to Gus"): StatusCode.PERMISSION_DENIED,
        ("cat", "circuit to stranger"): StatusCode.PERMISSION_DENIED,
    }


# ----- limits ---------------------------------------------------------------------------------


class Destination:
    """A member's raw host at the end of circuits: accepts every stop stream and counts what
    arrives on each until it ends."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.ended: list[float] = []
        self.opened = 0

    async def handle(self, stream: Any) -> None:
        msg = await read_delimited_msg(stream, StopMessage)
        assert msg.type == StopMessage.CONNECT
        await write_delimited_msg(stream, StopMessage(type=StopMessage.STATUS,
                                                      status=StatusCode.OK))
        self.opened += 1
        got = 0
        try:
            while data := await stream.read(1 << 16):
                got += len(data)
        except Exception:
            pass
        self.received.append(got)
        self.ended.append(trio.current_time())


def test_a_relay_bounds_reservations_circuits_bytes_and_time(tmp_path: Path) -> None:
    homes = office(tmp_path)
    limits = RelayLimits(reservations=1, circuits_per_peer=2, circuit_bytes=64 << 10,
                         circuit_seconds=2)
    rel_ws = Workspace.open(homes["rel"], passphrase=PASSPHRASE)
    node = make_node(rel_ws, listen=["/ip4/127.0.0.1/tcp/0"], relay=True, relay_limits=limits,
                     redial=False, publish=False)
    bob_key, cat_key = key_of(homes["bob"]), key_of(homes["cat"])
    bob_id = str(ID.from_pubkey(bob_key.public_key))
    dest = Destination()
    results: dict[str, Any] = {}

    async def circuit(cat: Any, relay_addr: str) -> Any:
        relay = info_from_p2p_addr(Multiaddr(relay_addr))
        stream = await cat.new_stream(relay.peer_id, [HOP_PROTOCOL])
        await write_delimited_msg(stream, connect(bob_id))
        reply = await read_delimited_msg(stream, HopMessage)
        return stream if reply.status == StatusCode.OK else StatusCode(reply.status)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            relay_addr = (await nursery.start(node.run))[0]
            bob, cat = new_host(key_pair=bob_key), new_host(key_pair=cat_key)
            async with bob.run(listen_addrs=[LOOPBACK]), cat.run(listen_addrs=[LOOPBACK]):
                bob.set_stream_handler(STOP_PROTOCOL, dest.handle)
                assert await ask(bob, relay_addr, reserve()) == StatusCode.OK
                results["second reservation"] = await ask(cat, relay_addr, reserve())
                first, second = await circuit(cat, relay_addr), await circuit(cat, relay_addr)
                results["third"] = await circuit(cat, relay_addr)
                opened = trio.current_time()
                with trio.fail_after(20):
                    with contextlib.suppress(Exception):  # 256 KiB where 64 KiB may pass
                        for _ in range(32):
                            await first.write(b"x" * 8192)
                    while len(dest.ended) < 2:  # the idle one ends with its time
                        await trio.sleep(0.05)
                results["lifetime"] = max(dest.ended) - opened
                results["fourth"] = await circuit(cat, relay_addr)  # slots are freed
                if not isinstance(results["fourth"], StatusCode):
                    results["fourth"] = StatusCode.OK
                del second
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        rel_ws.close()
    assert results["second reservation"] == StatusCode.RESOURCE_LIMIT_EXCEEDED
    assert results["third"] == StatusCode.RESOURCE_LIMIT_EXCEEDED
    assert results["fourth"] == StatusCode.OK
    assert dest.opened >= 3 and len(dest.received) >= 2
    assert max(dest.received) <= 64 << 10  # the relay cut the circuit at its byte budget
    assert 1.5 < results["lifetime"] < 6  # the idle circuit lived about its 2 s


def test_a_machine_marked_to_relay_relays_without_the_flag(tmp_path: Path) -> None:
    """``bullpen relay on`` marks the profile: its node (here ``serve`` without ``--relay``,
    as the app's would) grants a rep a reservation; before that it was no relay at all."""
    homes = office(tmp_path)
    cat = key_of(homes["cat"])
    answers = []
    assert cli(homes["rel"], "relay").stdout.startswith("off")
    for state in ("off", "on"):
        if state == "on":
            assert cli(homes["rel"], "relay", "on").stdout.startswith("on")
        with Serve(homes["rel"]) as rel:
            async def main(addr: str = rel.addr) -> None:
                await as_host(cat, lambda host: _reserve_into(host, addr, answers))

            trio.run(main)
    assert answers == [HUNG_UP, StatusCode.OK]


async def _reserve_into(host: Any, addr: str, answers: list[Any]) -> None:
    answers.append(await ask(host, addr, reserve()))
