"""The adaptive jitter buffer of one remote speaker, sans I/O.

Packets go in as they arrive (:meth:`JitterBuffer.push`, with the arrival time); once per
20 ms tick :meth:`JitterBuffer.pop` says what to play: the frame itself, the frame recovered
from the next packet's in-band FEC, a concealed frame, or silence. Why this shape:

* **Late audio is dropped, never queued.** A packet whose turn has passed is thrown away, and
  the buffer never holds more than its target delay plus :data:`SLACK` frames: when more is
  waiting (a burst after a stall, as TCP delivers after a loss) the oldest frames are
  skipped. So after a burst of loss the delay returns to the target instead of growing.
* **The target adapts to the jitter seen.** Each packet's transit (arrival time minus its
  place in the sender's 20 ms clock) is kept for the last :data:`WINDOW` packets; the target
  delay is the spread between the fastest and the 98th-percentile transit plus
  :data:`MARGIN_S` (:data:`MIN_DELAY_S` at least, :data:`MAX_TARGET` frames at most), and a
  frame plays once it is that late. The burst that follows a stall longer than
  :data:`MAX_TARGET` frames is not counted (it is loss, not jitter), so the target does not
  jump to the maximum after every outage. The delay grows by holding the playout for a tick
  when a frame is missing and has not yet waited the target, and shrinks by skipping a
  frame when frames have played over a frame later than the target for
  :data:`SHRINK_AFTER` ticks in a row (so a hold is undone within a fraction of a second).
* **Gaps are filled by FEC, then concealment, then silence.** A missing frame whose successor
  is here is recovered from the successor's FEC data; otherwise the decoder conceals it, for
  at most :data:`MAX_CONCEAL` frames in a row, after which the speaker is treated as silent
  (muted, or gone) and the buffer waits for packets again. FEC needs the next packet at hand,
  one frame of lookahead: the target is at least a frame (plus the margin) for
  :data:`LOSS_MEMORY_S` after a frame was missing, and only :data:`MIN_DELAY_S` on a clean
  link.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

FRAME_S = 0.020
MIN_DELAY_S = 0.010  # the least a frame waits beyond its earliest possible arrival
MARGIN_S = 0.005  # above the 98th-percentile jitter
MAX_TARGET = 10  # frames: 200 ms, more is no longer a conversation
SLACK = 2
WINDOW = 250  # packets: 5 s of one speaker
QUANTILE = 0.98
MAX_CONCEAL = 5
SHRINK_AFTER = 10  # ticks played later than the target before a frame is skipped
LOSS_MEMORY_S = 5.0  # after a loss, keep a frame of lookahead for FEC this long

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


class JitterBuffer:
    """Decisions are taken in time, not in frames held: a frame's *lateness* is how long
    after its earliest possible arrival (its place in the sender's clock plus the smallest
    transit seen) it would be played now. Counting frames held instead made the buffer flap
    when packets arrived near the tick's edge (one held more, one less, every other tick)."""

    def __init__(self) -> None:
        self.target_s = MIN_DELAY_S
        self.stats = Stats()
        self._packets: dict[int, bytes] = {}
        self._next: int | None = None  # next seq to play; None while buffering
        self._floor = -1  # every seq up to this one has had its turn
        self._misses = 0
        self._transits: deque[float] = deque()  # arrival order, to forget the oldest
        self._sorted: list[float] = []  # the same, sorted
        self._base = 0.0  # the smallest transit of the window
        self._last_arrival = -math.inf
        self._over = 0  # ticks in a row played later than the target allows
        self._recovering = False
        self._lossy_until = -math.inf

    @property
    def target(self) -> int:
        """The target delay in whole frames (for reports)."""
        return math.ceil(self.target_s / FRAME_S - 1e-9)

    @property
    def playing(self) -> bool:
        return self._next is not None

    @property
    def depth(self) -> int:
        """Frames between the playout point and the newest packet held."""
        if not self._packets:
            return 0
        start = self._next if self._next is not None else min(self._packets)
        return max(self._packets) - start + 1

    def lateness(self, seq: int, now: float) -> float:
        return now - seq * FRAME_S - self._base

    def push(self, seq: int, payload: bytes, now: float) -> bool:
        """A packet arrived at ``now`` (seconds, any monotonic clock); False when dropped
        (late or a duplicate)."""
        self.stats.received += 1
        if seq in self._packets:
            self.stats.duplicates += 1
            return False
        self._measure(now - seq * FRAME_S, now)  # a late packet is news of jitter too
        if seq <= self._floor or (self._next is not None and seq < self._next):
            self.stats.late += 1
            return False
        self._packets[seq] = payload
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
            if transit - self._base > self.target_s:
                return
            self._recovering = False
        self._transits.append(transit)
        bisect.insort(self._sorted, transit)
        if len(self._transits) > WINDOW:
            del self._sorted[bisect.bisect_left(self._sorted, self._transits.popleft())]
        ordered = self._sorted
        self._base = ordered[0]
        spread = ordered[min(len(ordered) - 1, math.ceil(len(ordered) * QUANTILE) - 1)] - self._base
        floor = FRAME_S + MARGIN_S if now < self._lossy_until else MIN_DELAY_S
        self.target_s = max(floor, min(MAX_TARGET * FRAME_S, spread + MARGIN_S))

    def _trim(self) -> None:
        """Skip the oldest frames while more than target + SLACK are held (a burst)."""
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

    def pop(self, now: float) -> Play:
        """What to play for the 20 ms starting at ``now``."""
        if self._next is None:
            if not self._packets:
                return Play(SILENCE)
            first = min(self._packets)
            if self.lateness(first, now) < self.target_s:
                return Play(SILENCE)
            self._next = first
        self._shrink(now)
        seq = self._next
        payload = self._packets.pop(seq, None)
        if payload is not None:
            return self._advance(Play(AUDIO, payload), seq)
        self._lossy_until = now + LOSS_MEMORY_S
        after = self._packets.get(seq + 1)
        if after is not None:
            self.stats.recovered += 1
            return self._advance(Play(FEC, after), seq)
        if not self._packets:  # nothing held at all: a stall or the speaker stopped
            self._misses += 1
            if self._misses > MAX_CONCEAL:
                self._next = None  # buffer afresh when packets come again
                self._floor = seq + MAX_CONCEAL
                self._misses = 0
                return Play(SILENCE)
        self.stats.concealed += 1
        if self.lateness(seq, now) < self.target_s:  # it may still come: wait a tick for it
            return Play(CONCEAL)
        return self._advance(Play(CONCEAL), seq)  # too late: it is lost

    def _advance(self, play: Play, seq: int) -> Play:
        self._next = seq + 1
        self._floor = max(self._floor, seq)
        if play.kind != CONCEAL:
            self._misses = 0
            self.stats.played += 1
        return play

    def _shrink(self, now: float) -> None:
        """Back to the target after a hold: while frames play more than a frame later than
        the target for :data:`SHRINK_AFTER` ticks in a row, skip one. (Our ticks and the
        sender's frames are both periodic, so a frame's lateness at playout is steady,
        between the target and a frame more: it changes with a hold, a skip or a new smallest
        transit, not with each packet's jitter.)"""
        assert self._next is not None
        late = self.lateness(self._next, now) > self.target_s + FRAME_S
        self._over = self._over + 1 if late else 0
        if self._over >= SHRINK_AFTER and self._next + 1 in self._packets:
            self._packets.pop(self._next, None)
            self._floor = self._next
            self._next += 1
            self.stats.skipped += 1
            self._over = 0
