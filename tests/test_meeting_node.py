"""The meeting protocol over real libp2p in one trio process: admission (strangers, guests,
wrong tokens refused), forwarding with the sender's slot, and a hostile member's malformed or
oversized packets dropping that member only."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from bullpen.sync import meeting_packets as mp
from bullpen.sync.meeting_node import MeetingError, MeetingNode, parse_meeting_id

LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)


def peer_of(seed: bytes) -> str:
    return str(ID.from_pubkey(create_new_key_pair(seed).public_key))


SEEDS = {name: os.urandom(32) for name in ("host", "eli", "mal", "gus", "sam")}
PEERS = {name: peer_of(seed) for name, seed in SEEDS.items()}
MEMBERS = {PEERS[n] for n in ("host", "eli", "mal", "gus")}  # sam is a stranger
TEAM = {PEERS[n] for n in ("host", "eli", "mal")}  # gus is a guest


class Heard:
    """A recording fake of the engine: every packet a node delivers."""

    def __init__(self) -> None:
        self.packets: list[mp.Packet] = []
        self.changed = trio.Event()

    def __call__(self, packet: mp.Packet) -> None:
        self.packets.append(packet)
        self.changed.set()
        self.changed = trio.Event()

    def roster(self) -> mp.Roster:
        return [p for p in self.packets if isinstance(p, mp.Roster)][-1]

    async def until(self, predicate: Callable[[], bool]) -> None:
        with trio.fail_after(20):
            while not predicate():
                await self.changed.wait()


def node(name: str, heard: Heard, members: set[str] = MEMBERS) -> MeetingNode:
    return MeetingNode(SEEDS[name], is_member=members.__contains__, may_meet=TEAM.__contains__,
                       on_packet=heard, listen=LOOPBACK)


async def hosting(nursery: trio.Nursery) -> tuple[MeetingNode, Heard, str]:
    heard = Heard()
    host = node("host", heard)
    meeting = await nursery.start(host.run, "Standup")
    return host, heard, meeting


async def joined(nursery: trio.Nursery, name: str, meeting: str,
                 members: set[str] = MEMBERS) -> tuple[MeetingNode, Heard]:
    heard = Heard()
    participant = node(name, heard, members | {PEERS["host"]})
    await nursery.start(participant.run, "", meeting)
    return participant, heard


def test_meeting_id_round_trip_and_garbage() -> None:
    token, addr = parse_meeting_id("ab" * 16 + "@/ip4/127.0.0.1/tcp/1/p2p/" + PEERS["eli"])
    assert token == bytes([0xAB]) * 16 and addr.endswith(PEERS["eli"])
    for bad in ("", "zz@/ip4/1.2.3.4/tcp/1", "ab@/ip4/127.0.0.1/tcp/1/p2p/" + PEERS["eli"]):
        with pytest.raises(MeetingError):
            parse_meeting_id(bad)


@pytest.mark.parametrize(("name", "meeting_of", "needle"), [
    ("sam", lambda m: m, "not a member"),
    ("gus", lambda m: m, "guests do not take part"),
    ("eli", lambda m: "00" * 16 + m[32:], "no such meeting"),
])
def test_refused(name: str, meeting_of: Callable[[str], str], needle: str) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            host, heard, meeting = await hosting(nursery)
            with pytest.raises(MeetingError, match=needle):
                await joined(nursery, name, meeting_of(meeting))
            assert set(heard.roster().peers.values()) == {PEERS["host"]}
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_participant_refuses_a_host_that_is_not_a_member() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            _, _, meeting = await hosting(nursery)
            heard = Heard()
            eli = MeetingNode(SEEDS["eli"], is_member={PEERS["eli"]}.__contains__,
                              may_meet=TEAM.__contains__, on_packet=heard, listen=LOOPBACK)
            with pytest.raises(MeetingError, match="host is not a member"):
                await nursery.start(eli.run, "", meeting)
            nursery.cancel_scope.cancel()

    trio.run(main)


@pytest.mark.parametrize("garbage", [
    b"\xff\xff" + bytes(100),  # a frame longer than any packet
    mp.frame(bytes([mp.AUDIO, 0, 0, 0, 0, 1]) + bytes(mp.MAX_OPUS + 1)),  # oversized Opus
    mp.frame(bytes([mp.ROSTER]) + b"{}"),  # a host's packet from a participant
    mp.frame(bytes([42, 1, 2, 3])),  # no such kind
])
def test_a_hostile_member_is_dropped_and_the_others_still_hear(garbage: bytes) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            host, host_heard, meeting = await hosting(nursery)
            eli, eli_heard = await joined(nursery, "eli", meeting)
            mal, _ = await joined(nursery, "mal", meeting)
            await eli_heard.until(lambda: len(eli_heard.roster().peers) == 3)
            mal.send(mp.audio(0, 1, b"\x08hello"))  # valid first: forwarded with mal's slot
            mal_slot = next(s for s, p in eli_heard.roster().peers.items() if p == PEERS["mal"])
            await eli_heard.until(lambda: mp.Audio(mal_slot, 1, b"\x08hello") in eli_heard.packets)
            assert mal._host_link is not None
            await mal._host_link.stream.write(garbage)
            await host_heard.until(lambda: len(host_heard.roster().peers) == 2)
            await eli_heard.until(lambda: PEERS["mal"] not in eli_heard.roster().peers.values())
            host.send(mp.audio(0, 7, b"\x08after"))
            await eli_heard.until(lambda: mp.Audio(0, 7, b"\x08after") in eli_heard.packets)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_flood_from_one_member_is_cut_to_its_budget() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            host, host_heard, meeting = await hosting(nursery)
            mal, _ = await joined(nursery, "mal", meeting)
            assert mal._host_link is not None and host.hub is not None
            flood = b"".join(mp.audio(0, seq, b"\x08x") for seq in range(2000))
            await mal._host_link.stream.write(flood)
            member = host.hub.members[PEERS["mal"]]
            with trio.fail_after(20):
                while member.received < 2000:  # the host read it all
                    await trio.sleep(0.05)
            got = sum(isinstance(p, mp.Audio) for p in host_heard.packets)
            assert got + member.dropped == 2000 and got < 200
            nursery.cancel_scope.cancel()

    trio.run(main)
