"""The meeting host's forwarding hub, sans I/O: who is in, and who gets which packet.

**Forwarding, not mixing.** The host forwards each participant's Opus packets to the others
unchanged (a selective forwarding unit), and every participant decodes and mixes what it
receives. Why: the host decodes and encodes nothing (a 6-person meeting costs it a few
hundred packet copies a second instead of six decoders and six encoders); audio is encoded
once, by its speaker, so there is no second lossy pass; each listener keeps one jitter
buffer per speaker, so one speaker's late packets never delay another's. A participant dials
only the host, one stream, which is all a participant behind NAT can count on (the host may
be reached through a relay). The cost: the host uploads N-1 streams to each of N participants
(about 30 kbit/s each), fine for a team meeting; mixing at the host would cut that to one
stream each, at the cost of a decode and encode per participant on the host.

The hub stamps every forwarded packet with its sender's slot (a participant cannot speak as
another), refuses a participant past :data:`MAX_PARTICIPANTS`, and drops packets beyond a
sender's budget (:data:`RATE` a second, bursts of :data:`BURST`): a member flooding the
meeting costs the others nothing but its own dropped packets.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import meeting_packets as mp

MAX_PARTICIPANTS = 16
MAX_TITLE = 200  # characters
RATE = 60.0  # packets a second: 50 audio frames plus mutes and slack
BURST = 60.0


@dataclass
class Member:
    peer_id: str
    slot: int
    muted: bool = False
    budget: float = BURST
    last: float = 0.0
    received: int = 0
    dropped: int = 0


class Hub:
    """``host`` is the host's own peer id (slot 0); ``token`` the meeting's secret."""

    def __init__(self, host: str, title: str, token: bytes) -> None:
        self.title = title[:MAX_TITLE]  # the roster, title included, fits its frame
        self.token = token
        self.members: dict[str, Member] = {host: Member(host, 0)}

    def join(self, peer_id: str, token: bytes, now: float) -> str | None:
        """Admit a member (the caller checked membership); the refusal's reason, else None."""
        if token != self.token:
            return "no such meeting"
        if peer_id in self.members:
            return "already in this meeting"
        if len(self.members) >= MAX_PARTICIPANTS:
            return f"the meeting is full ({MAX_PARTICIPANTS} participants)"
        used = {m.slot for m in self.members.values()}
        slot = next(s for s in range(mp.MAX_SLOTS) if s not in used)
        self.members[peer_id] = Member(peer_id, slot, last=now)
        return None

    def leave(self, peer_id: str) -> None:
        self.members.pop(peer_id, None)

    def roster_for(self, peer_id: str) -> bytes:
        return mp.roster(self.members[peer_id].slot, self.title,
                         {m.slot: m.peer_id for m in self.members.values()},
                         frozenset(m.slot for m in self.members.values() if m.muted))

    def rosters(self) -> list[tuple[str, bytes]]:
        """Every member's roster (after a join or a leave)."""
        return [(peer, self.roster_for(peer)) for peer in self.members]

    def route(self, sender: str, body: bytes, frame: bytes, now: float) -> list[tuple[str, bytes]]:
        """Where a frame from ``sender`` goes: (peer id, frame) pairs, the host's own included.
        Raises :class:`~.meeting_packets.PacketError` for what a participant may not send."""
        member = self.members.get(sender)
        if member is None:
            return []
        member.received += 1
        packet = mp.parse(body)
        if not isinstance(packet, mp.Audio | mp.Mute):
            raise mp.PacketError(f"a participant sent a {type(packet).__name__} packet")
        member.budget = min(BURST, member.budget + (now - member.last) * RATE)
        member.last = now
        if member.budget < 1:
            member.dropped += 1
            return []
        member.budget -= 1
        if isinstance(packet, mp.Mute):
            member.muted = packet.muted
        stamped = mp.with_slot(frame, member.slot)
        return [(peer, stamped) for peer in self.members if peer != sender]
