"""The adaptive jitter buffer of one remote speaker, sans I/O.

Packets go in as they arrive (:meth:`JitterBuffer.push`, with the arrival time); once per
20 ms tick :meth:`JitterBuffer.pop` says what to play: the frame itself, the frame recovered
from the next packet's in-band FEC, a concealed frame, or silence. Why this shape:

* **Late audio is dropped, never queued.** A packet whose turn has passed is thrown away, and
  the buffer never holds more than its target delay plus :data:`SLACK` frames: when more is
  waiting (a burst after a stall, as TCP delivers after a loss) the oldest frames are
  skipped. So after a burst of loss the delay returns to the target instead of growing.
* **The target adapts to the jitter seen.** Each packet's transit (arrival time minus its
  place in the sender's 20 ms clock) is kept for the last :data:`WINDOW` packets; the target is
  the spread between the fastest and the 95th percentile transit, in frames, plus one. The
  burst that follows a stall longer than :data:`MAX_TARGET` frames is not counted (it is
  loss, not jitter), so the target does not jump to the maximum after every outage. It
  grows by holding the playout for a tick when a frame is missing while the buffer is
  shallower than the target, and shrinks by skipping a frame when more than the target has
  been held for :data:`SHRINK_AFTER` ticks in a row (so a hold after a loss is undone
  within a fraction of a second, and the delay returns to the target).
* **Gaps are filled by FEC, then concealment, then silence.** A missing frame whose successor
  is here is recovered from the successor's FEC data; otherwise the decoder conceals it, for
  at most :data:`MAX_CONCEAL` frames in a row, after which the speaker is treated as silent
  (muted, or gone) and the buffer waits for packets again.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

FRAME_S = 0.020
MIN_TARGET = 2  # frames
MAX_TARGET = 10  # 200 ms: more is no longer a conversation
SLACK = 2
WINDOW = 100
MAX_CONCEAL = 5
SHRINK_AFTER = 10  # ticks held above the target before a frame is skipped

AUDIO, FEC, CONCEAL, SILENCE = "audio", "fec", "conceal", "silence"


@dataclass(frozen=True)
class Play:
    """What to play this tick: ``kind`` is one of AUDIO (decode ``payload``), FEC (recover
    the frame from ``payload``, the next packet), CONCEAL or SILENCE."""

    kind: str
    payload: bytes = b""


@dataclass
class Stats:
    received: int = 0
    played: int = 0
    recovered: int = 0
    concealed: int = 0
    late: int = 0
    skipped: int = 0
    duplicates: int = 0
    targets: list[int] = field(default_factory=list)


class JitterBuffer:
    def __init__(self, min_target: int = MIN_TARGET, max_target: int = MAX_TARGET) -> None:
        self.min_target = min_target
        self.max_target = max_target
        self.target = min_target
        self.stats = Stats()
        self._packets: dict[int, bytes] = {}
        self._next: int | None = None  # next seq to play; None while buffering
        self._floor = -1  # every seq up to this one has had its turn
        self._misses = 0
        self._transits: deque[float] = deque(maxlen=WINDOW)
        self._last_arrival = -math.inf
        self._over = 0  # ticks in a row with more than the target held
        self._recovering = False

    @property
    def playing(self) -> bool:
        return self._next is not None

    @property
    def depth(self) -> int:
        """Frames between the playout point and the newest packet held (the delay added)."""
        if not self._packets:
            return 0
        start = self._next if self._next is not None else min(self._packets)
        return max(self._packets) - start + 1

    def push(self, seq: int, payload: bytes, now: float) -> bool:
        """A packet arrived at ``now`` (seconds, any monotonic clock); False when dropped
        (late or a duplicate)."""
        self.stats.received += 1
        if seq <= self._floor or (self._next is not None and seq < self._next):
            self.stats.late += 1
            return False
        if seq in self._packets:
            self.stats.duplicates += 1
            return False
        self._packets[seq] = payload
        self._measure(now - seq * FRAME_S, now)
        self._trim()
        return True

    def _measure(self, transit: float, now: float) -> None:
        """Learn the jitter from ``transit``, unless it belongs to a stall's burst: after
        :data:`MAX_TARGET` frames with no packet, the packets that follow are late by the
        stall, not by jitter, until one arrives within the target again. Counting them would
        raise the target to the maximum after every burst of loss."""
        if now - self._last_arrival > MAX_TARGET * FRAME_S:
            self._recovering = True
        self._last_arrival = now
        if self._recovering and self._transits:
            if (transit - min(self._transits)) / FRAME_S > self.target:
                return
            self._recovering = False
        self._transits.append(transit)
        self._adapt()

    def _adapt(self) -> None:
        ordered = sorted(self._transits)
        spread = ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)] - ordered[0]
        self.target = max(self.min_target,
                          min(self.max_target, math.ceil(spread / FRAME_S - 1e-9) + 1))

    def _trim(self) -> None:
        """Skip the oldest frames while more than target + SLACK are held."""
        newest = max(self._packets)
        start = self._next if self._next is not None else min(self._packets)
        excess = newest - start + 1 - (self.target + SLACK)
        if excess <= 0:
            return
        first = start + excess
        for seq in [s for s in self._packets if s < first]:
            del self._packets[seq]
        self.stats.skipped += excess
        self._floor = max(self._floor, first - 1)
        if self._next is not None:
            self._next = first

    def pop(self) -> Play:
        """What to play for the next 20 ms."""
        if self._next is None:
            if not self._packets or self.depth < self.target:
                return Play(SILENCE)
            self._next = min(self._packets)
        self._shrink()
        seq = self._next
        payload = self._packets.pop(seq, None)
        if payload is not None:
            return self._advance(Play(AUDIO, payload), seq)
        after = self._packets.get(seq + 1)
        if after is not None:
            self.stats.recovered += 1
            return self._advance(Play(FEC, after), seq)
        if not self._packets:  # nothing held at all: a stall or the speaker stopped
            self._misses += 1
            if self._misses > MAX_CONCEAL:
                self._next = None  # buffer afresh when packets come again
                self._floor = seq - 1 + MAX_CONCEAL
                self._misses = 0
                return Play(SILENCE)
            self.stats.concealed += 1
            return Play(CONCEAL)  # hold the playout point: the frame may be late
        self.stats.concealed += 1
        if self.depth <= self.target:  # shallow: wait a tick for it (the delay grows by one)
            return Play(CONCEAL)
        return self._advance(Play(CONCEAL), seq)  # deep enough: it is lost

    def _advance(self, play: Play, seq: int) -> Play:
        self._next = seq + 1
        self._floor = max(self._floor, seq)
        self._misses = 0
        if play.kind != CONCEAL:
            self.stats.played += 1
        return play

    def _shrink(self) -> None:
        """Back to the target after a hold: while more than the target is held for
        :data:`SHRINK_AFTER` ticks in a row, skip the oldest frame held."""
        self._over = self._over + 1 if self.depth > self.target else 0
        if self._over >= SHRINK_AFTER and self._next in self._packets and len(self._packets) > 1:
            del self._packets[self._next]
            self._floor = self._next
            self._next += 1
            self.stats.skipped += 1
            self._over = 0
