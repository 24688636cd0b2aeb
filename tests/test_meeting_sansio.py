"""Meetings without a network: the packets, the jitter buffer, the forwarding hub, and two
engines talking through an in-process lossy link (real Opus, recording fakes for the rest)."""

from __future__ import annotations

import os
import random

import pytest

from bullpen.app.meetings import audio, opus, quality
from bullpen.app.meetings.engine import Engine
from bullpen.sync import meeting_hub as mh
from bullpen.sync import meeting_jitter as mj
from bullpen.sync import meeting_packets as mp

# ----- packets -------------------------------------------------------------------------------


def test_packets_roundtrip_in_any_split() -> None:
    wire = (mp.join(b"t" * 16) + mp.audio(3, 7, b"opus") + mp.mute(2, True)
            + mp.roster(1, "Standup", {0: "host", 1: "me"}, frozenset({0})) + mp.refused("no"))
    for step in (1, 5, len(wire)):
        dec = mp.Decoder()
        bodies = [b for i in range(0, len(wire), step) for b in dec.feed(wire[i:i + step])]
        assert [mp.parse(b) for b in bodies] == [
            mp.Join(b"t" * 16), mp.Audio(3, 7, b"opus"), mp.Mute(2, True),
            mp.Roster(1, "Standup", {0: "host", 1: "me"}, frozenset({0})), mp.Refused("no")]


@pytest.mark.parametrize("body", [
    bytes([mp.AUDIO, 0, 0, 0, 0, 1]),  # no payload
    bytes([mp.AUDIO, 0, 0, 0, 0, 1]) + bytes(mp.MAX_OPUS + 1),  # oversized payload
    bytes([mp.AUDIO, 200, 0, 0, 0, 1, 5]),  # slot out of range
    bytes([mp.MUTE, 1, 7]), bytes([mp.JOIN]) + bytes(3), bytes([99, 1, 2]),
    bytes([mp.ROSTER]) + b"{not json", bytes([mp.ROSTER]) + b'{"you":1,"peers":[],"muted":[]}',
    bytes([mp.ROSTER]) + b'{"you":1,"title":5,"peers":{},"muted":[]}',
])
def test_malformed_packets_are_refused(body: bytes) -> None:
    with pytest.raises(mp.PacketError):
        mp.parse(body)


def test_oversized_frame_refused_from_its_length() -> None:
    with pytest.raises(mp.PacketError):
        mp.Decoder().feed(b"\xff\xff")
    with pytest.raises(mp.PacketError):
        mp.Decoder().feed(b"\x00\x00")


def test_random_bytes_never_escape_as_other_errors() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        try:
            for body in mp.Decoder().feed(junk):
                mp.parse(body)
        except mp.PacketError:
            pass

# ----- jitter buffer -------------------------------------------------------------------------


def drive(buffer: mj.JitterBuffer, arrivals: dict[int, list[int]], ticks: int) -> list[mj.Play]:
    """``arrivals``: tick -> seqs arriving just before that tick's pop."""
    out = []
    for tick in range(ticks):
        for seq in arrivals.get(tick, []):
            buffer.push(seq, bytes([seq % 256]), tick * mj.FRAME_S)
        out.append(buffer.pop(tick * mj.FRAME_S))
    return out


def test_steady_stream_plays_every_frame_at_the_minimum_delay() -> None:
    buffer = mj.JitterBuffer()
    plays = drive(buffer, {t: [t] for t in range(100)}, 100)
    audio_seqs = [p.payload[0] for p in plays if p.kind == mj.AUDIO]
    assert audio_seqs == list(range(len(audio_seqs)))
    assert len(audio_seqs) >= 99
    assert buffer.target_s == mj.MIN_DELAY_S and buffer.stats.late == 0


def test_a_lost_frame_is_recovered_from_the_next_packets_fec() -> None:
    buffer = mj.JitterBuffer()
    plays = drive(buffer, {t: [t] for t in range(50) if t != 20}, 50)
    kinds = [p.kind for p in plays]
    assert kinds.count(mj.FEC) == 1
    fec = next(p for p in plays if p.kind == mj.FEC)
    assert fec.payload == bytes([21])  # recovered from the packet after the lost one


def test_a_burst_of_loss_is_concealed_then_silence() -> None:
    buffer = mj.JitterBuffer()
    plays = drive(buffer, {t: [t] for t in range(30)}, 60)
    kinds = [p.kind for p in plays]
    last = max(i for i, k in enumerate(kinds) if k == mj.AUDIO)
    tail = kinds[last + 1:]
    assert tail[:mj.MAX_CONCEAL] == [mj.CONCEAL] * mj.MAX_CONCEAL
    assert set(tail[mj.MAX_CONCEAL:]) == {mj.SILENCE}


def test_delay_does_not_grow_after_a_stall_delivered_in_a_burst() -> None:
    """A 600 ms stall (TCP retransmitting) then everything at once: what is late is dropped
    and the delay afterwards is back within target + SLACK."""
    arrivals: dict[int, list[int]] = {t: [t] for t in range(100)}
    for t in range(40, 70):
        del arrivals[t]
    arrivals[70] = list(range(40, 71))
    buffer = mj.JitterBuffer()
    drive(buffer, arrivals, 100)
    assert buffer.stats.late + buffer.stats.skipped >= 20
    assert buffer.depth <= buffer.target + mj.SLACK
    # after the burst, each frame plays within target + SLACK ticks of its arrival
    later = mj.JitterBuffer()
    plays = drive(later, arrivals, 200)
    played_at = {p.payload[0]: t for t, p in enumerate(plays) if p.kind == mj.AUDIO}
    after = [s for s in range(75, 100) if s in played_at]
    assert len(after) >= 20
    assert all(played_at[s] - s <= later.target + mj.SLACK for s in after)
    assert played_at[after[-1]] - after[-1] <= later.target  # back to the target


def test_a_hold_after_a_double_loss_is_undone() -> None:
    """Two frames lost in a row make the buffer hold for a tick; skipping a frame soon after
    brings the delay back to the target instead of keeping it one frame longer for good."""
    arrivals = {t + 1: [t] for t in range(200) if t not in (50, 51)}
    plays = drive(mj.JitterBuffer(), arrivals, 210)
    played_at = {p.payload[0]: t for t, p in enumerate(plays) if p.kind == mj.AUDIO}
    delay_before, delay_after = played_at[40] - 40, played_at[150] - 150
    assert delay_after == delay_before


def test_target_adapts_to_jitter_and_stays_bounded() -> None:
    rng = random.Random(2)
    arrivals: dict[int, list[int]] = {}
    for seq in range(300):
        arrivals.setdefault(seq + rng.choice([0, 0, 0, 3, 5]), []).append(seq)
    buffer = mj.JitterBuffer()
    plays = drive(buffer, arrivals, 320)
    assert 3 <= buffer.target <= mj.MAX_TARGET
    assert buffer.depth <= mj.MAX_TARGET + mj.SLACK
    assert sum(p.kind == mj.AUDIO for p in plays) > 250  # jitter absorbed, little dropped


def test_hostile_sequence_numbers_keep_memory_bounded() -> None:
    buffer = mj.JitterBuffer()
    rng = random.Random(3)
    for i in range(5000):
        buffer.push(rng.randrange(2 ** 32), b"x", i * 0.02)
        buffer.pop(i * 0.02)
    assert len(buffer._packets) <= mj.MAX_TARGET + mj.SLACK

# ----- hub -----------------------------------------------------------------------------------


def test_hub_forwards_stamped_with_the_senders_slot_and_refuses_strangers_tokens() -> None:
    hub = mh.Hub("host", "Standup", b"k" * 16)
    assert hub.join("eli", b"x" * 16, 0.0) == "no such meeting"
    assert hub.join("eli", b"k" * 16, 0.0) is None
    assert hub.join("fay", b"k" * 16, 0.0) is None
    assert hub.join("eli", b"k" * 16, 0.0) == "already in this meeting"
    frame = mp.audio(9, 1, b"hi")  # claims slot 9: the hub says who sent it
    out = hub.route("eli", frame[2:], frame, 0.0)
    assert sorted(p for p, _ in out) == ["fay", "host"]
    assert {mp.parse(f[2:]) for _, f in out} == {mp.Audio(1, 1, b"hi")}
    with pytest.raises(mp.PacketError):
        hub.route("eli", mp.join(b"k" * 16)[2:], b"", 0.0)


def test_hub_drops_a_flooders_packets_past_its_budget_only() -> None:
    hub = mh.Hub("host", "t", b"k" * 16)
    hub.join("flood", b"k" * 16, 0.0)
    frame = mp.audio(0, 1, b"x")
    delivered = sum(bool(hub.route("flood", frame[2:], frame, 0.5)) for _ in range(1000))
    assert delivered <= mh.BURST + 0.5 * mh.RATE + 1
    assert hub.members["flood"].dropped >= 1000 - delivered


def test_a_long_title_still_fits_the_roster() -> None:
    hub = mh.Hub("host", "x" * 100_000, b"k" * 16)
    for i in range(mh.MAX_PARTICIPANTS - 1):
        hub.join("12D3KooW" + "p" * 44 + f"{i:02}", b"k" * 16, 0.0)
    assert all(mp.parse(frame[2:]) for _, frame in hub.rosters())


def test_hub_is_full_at_its_limit() -> None:
    hub = mh.Hub("host", "t", b"k" * 16)
    for i in range(mh.MAX_PARTICIPANTS - 1):
        assert hub.join(f"p{i}", b"k" * 16, 0.0) is None
    assert "full" in (hub.join("late", b"k" * 16, 0.0) or "")

# ----- two engines over an in-process lossy link ---------------------------------------------


def call(pcm: bytes, loss: float, seed: int = 5) -> tuple[Engine, audio.MemorySink, list[tuple]]:
    """Speaker -> listener through a link losing ``loss`` of the packets at random, one tick
    of transit. Returns the listener, what it heard, and its events."""
    rng = random.Random(seed)
    in_flight: list[bytes] = []
    events: list[tuple] = []
    sink = audio.MemorySink()
    speaker = Engine(audio.MemorySource(pcm), audio.NullSink(), in_flight.append, lambda *e: None,
                     clock=lambda: speaker.totals.ticks * 0.02)
    listener = Engine(None, sink, lambda f: None, lambda *e: events.append(e),
                      clock=lambda: listener.totals.ticks * 0.02)
    listener.on_packet(mp.Roster(1, "t", {0: "speaker", 1: "listener"}, frozenset()))
    speaker.on_packet(mp.Roster(0, "t", {0: "speaker", 1: "listener"}, frozenset()))
    for _ in range(len(pcm) // audio.FRAME_BYTES + 40):
        arriving, in_flight[:] = list(in_flight), []
        speaker.tick()
        for frame in arriving:
            if rng.random() >= loss:
                listener.on_packet(mp.parse(frame[2:]))
        listener.tick()
    return listener, sink, events


@pytest.mark.parametrize("loss", [0.0, 0.05, 0.10])
def test_speech_survives_loss_through_fec_and_concealment(loss: float) -> None:
    pcm = quality.syllables(4.0)
    listener, sink, events = call(pcm, loss)
    heard = b"".join(sink.frames)
    match = quality.find(pcm, heard)
    assert match.correlation > 0.85, match
    stats = listener.remotes[0].buffer.stats
    if loss:
        assert stats.recovered > 0  # in-band FEC filled single gaps
    assert ("speaking", "speaker") in events and events[-1] == ("quiet", "speaker")
    assert match.offset < 0.12  # one tick of transit plus the buffer's minimum target


def test_silence_matches_nothing() -> None:
    assert quality.find(quality.syllables(2.0), bytes(opus.RATE * 2 * 4)).correlation < 0.5
    assert quality.find(quality.syllables(2.0), os.urandom(opus.RATE * 2 * 4)).correlation < 0.5


def test_mute_stops_sending_and_tells_the_others() -> None:
    sent: list[bytes] = []
    engine = Engine(audio.MemorySource(quality.syllables(1.0)), audio.NullSink(), sent.append,
                    lambda *e: None, clock=lambda: 0.0)
    engine.on_packet(mp.Roster(2, "t", {0: "h", 2: "me"}, frozenset()))
    engine.tick()
    engine.set_muted(True)
    for _ in range(10):
        engine.tick()
    kinds = [mp.parse(f[2:]) for f in sent]
    assert isinstance(kinds[0], mp.Audio) and kinds[1] == mp.Mute(2, True) and len(kinds) == 2
    assert engine.seq == 11  # the clock goes on while muted


@pytest.mark.parametrize("delay_ms", [0, 35, 260])
def test_find_measures_the_delay_of_a_copy_to_5_ms(delay_ms: int) -> None:
    said = quality.syllables(3.0)
    heard = bytes(delay_ms * 48 * 2) + said + bytes(48_000)
    match = quality.find(said, heard)
    assert match.correlation > 0.99
    assert abs(match.offset * 1000 - delay_ms) <= 5
