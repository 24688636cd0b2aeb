"""A meeting over libp2p: the host's end (a :class:`~.meeting_hub.Hub` behind
``/bullpen/meet/1``) or a participant's (one stream to the host).

A meeting runs its own libp2p host, on its own port, with the profile's identity, so it works
whether or not ``bullpen serve`` or the app runs on the same profile. Admission is the sync
node's: the same :class:`~.gate.Gate` (Noise only; strangers limited, hung up on, told only
that they are not members) over the workspace's membership check, passed in as
``is_member``; ``may_meet`` (the caller's policy, by role) then keeps guests out of team
meetings. A participant checks the host the same way: a host that is not a member gets
nothing.

Late audio is dropped here too: each participant's outgoing packets wait in a queue of
:data:`SEND_QUEUE` frames (half a second); when a participant's link is that far behind, new
packets for it are dropped instead of queued, so a slow link never delays anyone else.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr

from . import addresses
from . import meeting_packets as mp
from .gate import Gate, refuse, reset
from .meeting_hub import Hub
from .peers import short_id

log = logging.getLogger("bullpen.meet")

PROTOCOL = TProtocol(mp.MEET_PROTOCOL)
SEND_QUEUE = 25
JOIN_TIMEOUT = 10.0
RECHECK_S = 2.0  # a participant taken off the team is dropped within this
NOT_MEMBER = "not a member of this workspace"
NO_GUESTS = "guests do not take part in team meetings"

OnPacket = Callable[[mp.Packet], None]


class MeetingError(Exception):
    """Joining failed, or the meeting ended: the message says why, for the user."""


def meeting_id(token: bytes, addr: str) -> str:
    """What a participant needs to join: the token and where the host listens."""
    return f"{token.hex()}@{addr}"


def parse_meeting_id(text: str) -> tuple[bytes, str]:
    token, _, addr = text.partition("@")
    try:
        raw = bytes.fromhex(token)
        info_from_p2p_addr(Multiaddr(addr))
    except Exception:
        raise MeetingError(f"not a meeting id: {text[:80]!r} (expected TOKEN@/ip4/.../p2p/PEER,"
                           f" as `bullpen meet start` prints it)") from None
    if len(raw) != mp.TOKEN_BYTES:
        raise MeetingError(f"not a meeting id: {text[:80]!r} (bad token)")
    return raw, addr


class _Peer:
    """A stream to one participant (or, for a participant, to the host) and its send queue."""

    def __init__(self, peer_id: str, stream: Any, decoder: mp.Decoder) -> None:
        self.peer_id = peer_id
        self.stream = stream
        self.decoder = decoder  # holds what was read past the join
        self.send, self._queue = trio.open_memory_channel[bytes](SEND_QUEUE)
        self.dropped = 0
        self.serving = trio.CancelScope()  # cancelled to drop the link (see _recheck)

    def put(self, frame: bytes) -> None:
        try:
            self.send.send_nowait(frame)
        except (trio.WouldBlock, trio.ClosedResourceError):
            self.dropped += 1  # too far behind (or gone): late audio is dropped

    async def write_all(self) -> None:
        """Until the stream fails (its reader then sees the end and cleans up). Frames
        waiting together go out in one write: each write costs a yamux frame and a Noise
        message, which is most of a host's CPU."""
        with contextlib.suppress(Exception):
            async for frame in self._queue:
                batch = [frame]
                with contextlib.suppress(trio.WouldBlock):
                    while len(batch) < SEND_QUEUE:
                        batch.append(self._queue.receive_nowait())
                await self.stream.write(b"".join(batch))


class MeetingNode:
    """``seed``: the profile's Ed25519 seed (the peer id is the member key). ``on_packet`` gets
    every packet of the others (audio, mutes, rosters) on the trio thread."""

    def __init__(self, seed: bytes, *, is_member: Callable[[str], bool],
                 may_meet: Callable[[str], bool], on_packet: OnPacket,
                 listen: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",)) -> None:
        self.gate = Gate(is_member)
        self.may_meet = may_meet
        self.on_packet = on_packet
        self.listen = list(listen)
        self._key = create_new_key_pair(seed)
        self.peer_id = ""
        self.hub: Hub | None = None
        self.meeting_id = ""
        self._peers: dict[str, _Peer] = {}
        self._host_link: _Peer | None = None
        self._nursery: trio.Nursery | None = None

    async def run(self, title: str, join: str | None = None, *,
                  task_status: Any = trio.TASK_STATUS_IGNORED) -> str:
        """Host a meeting called ``title`` (``join`` None) or join the meeting ``join``;
        ``task_status.started(meeting id)`` once in. A host runs until cancelled; a
        participant returns why the meeting ended for it (the host left or the connection was
        lost). Raises :class:`MeetingError` (not wrapped in trio's exception groups) when
        joining fails or the host sends garbage."""
        try:
            return await self._run(title, join, task_status)
        except BaseExceptionGroup as group:
            found, _ = group.split(MeetingError)
            if found is None:
                raise
            raise _leaf(found) from None

    async def _run(self, title: str, join: str | None, task_status: Any) -> str:
        host = new_host(key_pair=self._key, sec_opt=self.gate.security_options(self._key),
                        connection_config=ConnectionConfig(max_connections_per_peer=1))
        self.peer_id = str(host.get_id())
        async with host.run(listen_addrs=[Multiaddr(a) for a in self.listen]):
            self.gate.install(host)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self.gate.run)
                if join is None:
                    token = secrets.token_bytes(mp.TOKEN_BYTES)
                    self.hub = Hub(self.peer_id, title, token)
                    host.set_stream_handler(PROTOCOL, self._serve)
                    addrs = addresses.dialable(str(a) for a in host.get_addrs())
                    self.meeting_id = meeting_id(token, addrs[0])
                    self._deliver(self.hub.roster_for(self.peer_id))
                    task_status.started(self.meeting_id)
                    await self._recheck()
                link = await self._join(host, join)
                task_status.started(join)
                nursery.start_soon(self._recheck)
                try:
                    with link.serving:
                        await self._read(link, self._from_host)
                    if link.serving.cancelled_caught:
                        await reset(link.stream)
                        return "left: the host is no longer a member of this workspace"
                except mp.PacketError as exc:
                    raise MeetingError(f"left: the host sent a malformed packet ({exc})") from None
                finally:
                    nursery.cancel_scope.cancel()
        return "the host ended the meeting, or the connection to it was lost"

    def send(self, frame: bytes) -> None:
        """Our own audio or mute frame, to everyone else."""
        if self.hub is not None:
            for peer, stamped in self.hub.route(self.peer_id, frame[2:], frame,
                                                trio.current_time()):
                self._peers[peer].put(stamped)
        elif self._host_link is not None:
            self._host_link.put(frame)

    @property
    def dropped(self) -> int:
        """Frames dropped on the way out because a link was too far behind."""
        links = [*self._peers.values(), *([self._host_link] if self._host_link else [])]
        return sum(p.dropped for p in links)

    def _deliver(self, frame: bytes) -> None:
        self.on_packet(mp.parse(frame[2:]))

    # ----- participant ----------------------------------------------------------------------

    async def _join(self, host: Any, text: str) -> _Peer:
        token, addr = parse_meeting_id(text)
        info = info_from_p2p_addr(Multiaddr(addr))
        try:
            with trio.fail_after(JOIN_TIMEOUT):
                await host.connect(info)
                stream = await host.new_stream(info.peer_id, [PROTOCOL])
        except Exception as exc:
            raise MeetingError(f"cannot reach the meeting's host at {addr}: {exc}") from None
        if not await self.gate.admitted(stream):
            raise MeetingError("the meeting's host is not a member of this workspace")
        await stream.write(mp.join(token))
        decoder = mp.Decoder()
        with trio.move_on_after(JOIN_TIMEOUT):
            while True:
                data = await _read_some(stream)
                if not data:
                    break
                bodies = decoder.feed(data)
                if bodies:
                    first = mp.parse(bodies[0])
                    if isinstance(first, mp.Refused):
                        raise MeetingError(f"the host refused: {first.reason}")
                    if not isinstance(first, mp.Roster):
                        raise MeetingError("the host did not answer as a meeting host")
                    link = _Peer(str(info.peer_id), stream, decoder)
                    self._host_link = link  # first: the roster's receiver may send already
                    assert self._nursery is not None
                    self._nursery.start_soon(link.write_all)
                    self.on_packet(first)
                    for body in bodies[1:]:
                        self._from_host(link, body, b"")
                    return link
        raise MeetingError("the meeting's host did not answer (refused, or no such meeting)")

    def _from_host(self, link: _Peer, body: bytes, frame: bytes) -> None:
        packet = mp.parse(body)
        if isinstance(packet, mp.Join | mp.Refused):
            raise mp.PacketError("the host sent a participant's packet")
        self.on_packet(packet)

    # ----- host -----------------------------------------------------------------------------

    async def _serve(self, stream: Any) -> None:
        peer_id = str(stream.muxed_conn.peer_id)
        hub = self.hub
        assert hub is not None and self._nursery is not None
        try:
            if not await self.gate.admitted(stream, mp.refused(NOT_MEMBER)):
                log.info("refused %s: not a member", short_id(peer_id))
                return
            if not await trio.to_thread.run_sync(self.may_meet, peer_id):
                log.info("refused %s: a guest", short_id(peer_id))
                await refuse(stream, mp.refused(NO_GUESTS))
                return
            decoder = mp.Decoder()
            bodies: list[bytes] = []
            with trio.move_on_after(JOIN_TIMEOUT):
                while not bodies:
                    data = await _read_some(stream)
                    if not data:
                        return
                    bodies = decoder.feed(data)
            first = mp.parse(bodies[0]) if bodies else None
            reason = (hub.join(peer_id, first.token, trio.current_time())
                      if isinstance(first, mp.Join) else "no join request")
            if reason is not None:
                log.info("refused %s: %s", short_id(peer_id), reason)
                await refuse(stream, mp.refused(reason))
                return
        except Exception as exc:  # malformed, or the stream failed
            log.info("refused %s: %s", short_id(peer_id), exc)
            await reset(stream)
            return
        peer = _Peer(peer_id, stream, decoder)
        self._peers[peer_id] = peer
        log.info("%s joined", short_id(peer_id))
        self._rosters()
        try:
            with peer.serving:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(peer.write_all)
                    for body in bodies[1:]:
                        self._from_participant(peer, body, mp.frame(body))
                    await self._read(peer, self._from_participant)
                    nursery.cancel_scope.cancel()
        except Exception as exc:  # handler exceptions vanish silently in libp2p: log them
            log.info("dropped %s: %s", short_id(peer_id), _leaf(exc))
        finally:
            self._peers.pop(peer_id, None)
            hub.leave(peer_id)
            peer.send.close()
            await reset(stream)
            log.info("%s left", short_id(peer_id))
            self._rosters()

    async def _recheck(self) -> None:
        """Until the meeting ends: drop a participant removed from the team or made a guest
        since it joined, and leave a host removed since (admission is checked at the join,
        and a meeting can last an hour; the membership is read afresh, as another process
        may sync it)."""
        while True:
            await trio.sleep(RECHECK_S)
            links = [(peer, self._may_stay) for peer in list(self._peers.values())]
            if self._host_link is not None:
                links.append((self._host_link, self.gate.is_member))
            for peer, allowed in links:
                if not await trio.to_thread.run_sync(allowed, peer.peer_id):
                    log.info("dropped %s: no longer on the team", short_id(peer.peer_id))
                    peer.serving.cancel()  # it leaves the meeting, its stream is reset

    def _may_stay(self, peer_id: str) -> bool:
        return self.gate.is_member(peer_id) and self.may_meet(peer_id)

    def _from_participant(self, peer: _Peer, body: bytes, frame: bytes) -> None:
        assert self.hub is not None
        for dest, stamped in self.hub.route(peer.peer_id, body, frame, trio.current_time()):
            if dest == self.peer_id:
                self._deliver(stamped)
            else:
                self._peers[dest].put(stamped)

    def _rosters(self) -> None:
        assert self.hub is not None
        for peer, frame in self.hub.rosters():
            if peer == self.peer_id:
                self._deliver(frame)
            elif peer in self._peers:
                self._peers[peer].put(frame)

    # ----- both -----------------------------------------------------------------------------

    async def _read(self, peer: _Peer,
                    handle: Callable[[_Peer, bytes, bytes], None]) -> None:
        """Frames from ``peer`` until its stream ends; a malformed one raises PacketError."""
        while True:
            data = await _read_some(peer.stream)
            if not data:
                return
            for body in peer.decoder.feed(data):
                handle(peer, body, mp.frame(body))


def _leaf(exc: BaseException) -> BaseException:
    """The first error inside trio's exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _read_some(stream: Any) -> bytes:
    with contextlib.suppress(Exception):  # reset or closed: the end of the stream
        return bytes(await stream.read(4096))
    return b""
