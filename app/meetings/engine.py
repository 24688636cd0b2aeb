"""One participant's call: every 20 ms, the microphone's frame out and the others' mix in.

The engine is driven by :meth:`Engine.tick` (one 20 ms step) and fed by :meth:`Engine.on_packet`
(the meeting node's packets), so it is tested without a network or a clock; :meth:`Engine.run`
ticks it on trio's clock. Each remote speaker has its own jitter buffer
(``sync/meeting_jitter.py``) and Opus decoder: the buffer says, each tick, whether to decode,
recover from FEC, conceal or stay silent. Speakers who are not silent are mixed
(``audio.mix``) into the sink. ``seq`` is our frame count since the start, muted frames
included, so a listener's clock of us never jumps.

The speaking indicator is computed by each listener from the frames it decoded (never taken
from what a sender claims): a participant speaks while a frame of the last
:data:`HANGOVER` frames was above :data:`SPEAKING_DB`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from bullpen.sync import meeting_jitter as mj
from bullpen.sync import meeting_packets as mp

from . import audio
from .opus import FRAME_MS, Decoder, Encoder

SPEAKING_DB = -45.0
HANGOVER = 15  # frames: 300 ms, so pauses between words do not flicker the indicator
TICK = FRAME_MS / 1000

OnEvent = Callable[[str, str], None]  # (what, peer id): joined, left, speaking, quiet, ...


@dataclass
class Remote:
    """One other participant as this one hears them."""

    peer_id: str
    buffer: mj.JitterBuffer = field(default_factory=mj.JitterBuffer)
    decoder: Decoder = field(default_factory=Decoder)
    muted: bool = False
    loud_ago: int = HANGOVER  # frames since the last loud one
    speaking: bool = False


@dataclass
class Totals:
    sent: int = 0
    ticks: int = 0
    late_ticks: int = 0


class Engine:
    """``send`` takes our framed packets (the meeting node's ``send``); ``on_event`` hears
    who joined, left, started or stopped speaking, muted or unmuted; ``clock`` (seconds) times
    arrivals, trio's unless a test drives the engine."""

    def __init__(self, source: audio.Source | None, sink: audio.Sink,
                 send: Callable[[bytes], None], on_event: OnEvent,
                 clock: Callable[[], float] = trio.current_time) -> None:
        self.clock = clock  # when packets arrive (the jitter buffers' measure)
        self.source = source
        self.sink = sink
        self.send = send
        self.on_event = on_event
        self.encoder = Encoder()
        self.remotes: dict[int, Remote] = {}
        self.slot = -1
        self.title = ""
        self.muted = False
        self.seq = 0
        self.totals = Totals()
        self.gone: list[Remote] = []  # who left, with their counters (for the summary)

    # ----- from the network -----------------------------------------------------------------

    def on_packet(self, packet: mp.Packet) -> None:
        if isinstance(packet, mp.Audio):
            remote = self.remotes.get(packet.slot)
            if remote is not None:
                remote.buffer.push(packet.seq, packet.payload, self.clock())
        elif isinstance(packet, mp.Mute):
            remote = self.remotes.get(packet.slot)
            if remote is not None and remote.muted != packet.muted:
                remote.muted = packet.muted
                self.on_event("muted" if packet.muted else "unmuted", remote.peer_id)
        elif isinstance(packet, mp.Roster):
            self._roster(packet)

    def _roster(self, roster: mp.Roster) -> None:
        if self.slot < 0 and self.muted:  # joined muted: tell the others at once
            self.send(mp.mute(roster.you, True))
        self.slot, self.title = roster.you, roster.title
        others = {s: p for s, p in roster.peers.items() if s != roster.you}
        for slot in [s for s, r in self.remotes.items() if others.get(s) != r.peer_id]:
            remote = self.remotes.pop(slot)
            self.gone.append(remote)
            self.on_event("left", remote.peer_id)
        for slot, peer_id in others.items():
            if slot not in self.remotes:
                self.remotes[slot] = Remote(peer_id, muted=slot in roster.muted)
                self.on_event("joined", peer_id)

    # ----- local ----------------------------------------------------------------------------

    def set_muted(self, muted: bool) -> None:
        if muted != self.muted:
            self.muted = muted
            self.send(mp.mute(max(self.slot, 0), muted))

    def tick(self) -> None:
        """One 20 ms step: our frame out, the others' mix into the sink."""
        frame = self.source.read() if self.source is not None else None
        if frame is not None and not self.muted:
            self.send(mp.audio(max(self.slot, 0), self.seq, self.encoder.encode(frame)))
            self.totals.sent += 1
        self.seq += 1
        self.totals.ticks += 1
        heard = [pcm for remote in self.remotes.values()
                 if (pcm := self._hear(remote)) is not None]
        self.sink.write(audio.mix(heard))

    def _hear(self, remote: Remote) -> bytes | None:
        play = remote.buffer.pop(self.clock())
        if play.kind == mj.SILENCE:
            pcm = None
        elif play.kind == mj.AUDIO:
            pcm = remote.decoder.decode(play.payload)
        elif play.kind == mj.FEC:
            pcm = remote.decoder.recover(play.payload)
        else:
            pcm = remote.decoder.conceal()
        loud = pcm is not None and audio.level_db(pcm) > SPEAKING_DB
        remote.loud_ago = 0 if loud else remote.loud_ago + 1
        speaking = remote.loud_ago < HANGOVER
        if speaking != remote.speaking:
            remote.speaking = speaking
            self.on_event("speaking" if speaking else "quiet", remote.peer_id)
        return pcm

    def speaking(self) -> list[str]:
        """Who is speaking now (peer ids)."""
        return [r.peer_id for r in self.remotes.values() if r.speaking]

    async def run(self, duration: float | None = None) -> None:
        """Tick every 20 ms on trio's clock until ``duration`` seconds have passed (or
        cancelled). A tick that runs late is caught up at once, so the sink's timeline stays
        the wall clock's (a recording's position is a time)."""
        start = trio.current_time()
        ticks = None if duration is None else round(duration / TICK)
        while ticks is None or self.totals.ticks < ticks:
            due = start + self.totals.ticks * TICK
            now = trio.current_time()
            if now < due:
                await trio.sleep_until(due)
            else:
                self.totals.late_ticks += now - due > TICK
                await trio.lowlevel.checkpoint()  # catching up must not starve the network
            self.tick()

    def close(self) -> None:
        self.sink.close()
