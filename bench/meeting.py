"""Meeting benchmark (issue 16): a voice meeting measured like a phone call.

1. **Real processes**: N ``bullpen meet`` processes (default 6) on 127.0.0.1, one hosting.
   a. One talker plays 8 espeak-ng sentences, 0.6 s apart (``--audio-in``), every other
      participant records (``--record``). Mouth-to-ear delay of every sentence at every
      listener, from file timestamps: each process prints the wall-clock time of its first
      audio frame, and each sentence is found in the recording by loudness-envelope
      correlation (``app/meetings/quality.py``, 5 ms steps), so delay = recording start +
      offset found - (talker's start + the sentence's place in its file). It includes
      encoding, the host's forwarding, the jitter buffer and decoding, not a sound card's
      buffers (no devices). Wideband PESQ and STOI of each sentence heard, where the bench-only
      ``pesq`` and ``pystoi`` packages are installed.
   b. Everyone talks at once (each plays a different sentence): the worst case for CPU, each
      listener decoding and mixing N-1 speakers.
   CPU per participant: user+system time (psutil) over a window while everyone is in.
2. **Loss, in process**: the same engines (real Opus, jitter buffer, FEC, concealment) through
   a loss injector, one tick of transit: random loss of 0-20%, a 300 ms outage delivered in a
   burst (what TCP does after a loss), and random jitter of 0-60 ms; envelope correlation of
   what was heard with what was said, and the delay.

3. ``--netem`` (root): 1a again with every participant in its own network namespace, linked
   by the torture suite's emulation (``bench/torture/netlab.py``) at 20 ms each way, without
   and with 5% loss each way: what yamux over TCP does to real-time audio under loss.

    python bench/meeting.py [--participants N] [--quick] [--netem]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bullpen.app.meetings import audio, quality
from bullpen.app.meetings.engine import Engine
from bullpen.app.meetings.opus import Encoder
from bullpen.app.workspace import Workspace
from bullpen.sync import meeting_packets as mp

PHRASE = "bench passphrase"
SEEDS = (1, 2, 3, 4)  # random loss and jitter patterns per in-process case
NAMES = ["Dana", "Eli", "Fay", "Gil", "Hana", "Ivo", "Jo", "Kit"]
SENTENCES = [
    "Good morning team. The quarterly forecast is ready for review.",
    "The Initech renewal moved to proposal stage yesterday afternoon.",
    "Please update your next steps before Friday's pipeline call.",
    "We closed three deals this week, well ahead of the target.",
    "The demo with Globex went well and they asked for pricing.",
    "Remember to log every customer call in the activity feed.",
    "Our win rate in the north region improved by four points.",
    "Let us review the stalled opportunities one by one.",
]


def profiles(root: Path, n: int) -> list[Path]:
    homes = [root / name.lower() for name in NAMES[:n]]
    founder = Workspace.create(homes[0], NAMES[0], "Bench Sales", passphrase=PHRASE)
    for home, name in zip(homes[1:], NAMES[1:n], strict=True):
        joiner = Workspace.create_joining(home, name, founder.workspace_id, passphrase=PHRASE)
        founder.add_member(joiner.peer_id, "rep", name)
        joiner.close()
    for home in homes[1:]:
        joiner = Workspace.open(home, passphrase=PHRASE)
        joiner.merge_saved("index", founder.doc("index").save())
        joiner.close()
    founder.close()
    return homes


def speech(path: Path, text: str) -> Path:
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=60)
    else:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(48_000)
            out.writeframes(quality.syllables(3.5, seed=len(text)))
    return path


def pcm(path: Path) -> bytes:
    source = audio.FileSource(path)
    return b"".join(iter(source.read, None))


def scores(said: bytes, heard: bytes, offset: float) -> dict:
    """Wideband PESQ and STOI of ``heard`` (from ``offset`` seconds, as long as ``said``)
    against ``said``, at 16 kHz; empty when the ``pesq`` and ``pystoi`` packages (bench-only:
    numpy, scipy) are not installed."""
    try:
        import numpy as np
        from pesq import pesq
        from pystoi import stoi
        from scipy.signal import resample_poly
    except ImportError:
        return {}
    start = int(offset * 48_000) * 2
    ref = np.frombuffer(said, "<i2").astype(np.float64)
    deg = np.frombuffer(heard[start:start + len(said)].ljust(len(said), b"\0"), "<i2")
    ref16 = resample_poly(ref, 1, 3)
    deg16 = resample_poly(deg.astype(np.float64), 1, 3)
    return {"pesq": float(pesq(16_000, ref16, deg16, "wb")),
            "stoi": float(stoi(ref16, deg16, 16_000, extended=False))}


class Meet:
    """A ``bullpen meet`` process, in the network namespace ``prefix`` enters, listening on
    ``host``."""

    def __init__(self, home: Path, *args: str, prefix: Sequence[str] = (),
                 host: str = "127.0.0.1") -> None:
        env = {"BULLPEN_PASSPHRASE": PHRASE, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "bullpen.cli", "--home", str(home), "meet", *args,
             "--listen", f"/ip4/{host}/tcp/0"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.ps = psutil.Process(self.proc.pid)

    def python(self) -> psutil.Process:
        """The Python process itself (under ``ip netns exec``, its child)."""
        if self.ps.name().startswith("python"):
            return self.ps
        children = self.ps.children()
        return children[0] if children else self.ps

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")  # ended
            self._cond.notify_all()

    def line(self, prefix: str, timeout: float = 60) -> str:
        with self._cond:
            found = self._cond.wait_for(
                lambda: next((x for x in self.lines if x.startswith(prefix)), None), timeout)
        if found is None:
            raise SystemExit(f"bench: no {prefix!r} from meet: {self.lines}")
        return next(x for x in self.lines if x.startswith(prefix))

    def cpu(self) -> float:
        times = self.python().cpu_times()
        return times.user + times.system

    def leave(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("leave\n")
            self.proc.stdin.flush()
        self.proc.wait(60)
        self.summary = json.loads(self.line("summary ").split(" ", 1)[1])


def started(meet: Meet) -> float:
    return float(meet.line("audio started at ").rsplit(" ", 1)[1])


def talk_file(tmp: Path) -> tuple[Path, list[tuple[float, bytes]]]:
    """Every sentence, 0.6 s apart, as one 48 kHz WAV; and each one's (start s, PCM)."""
    parts, pcm_all = [], bytearray()
    for i, text in enumerate(SENTENCES):
        said = pcm(speech(tmp / f"u{i}.wav", text))
        parts.append((len(pcm_all) / 96_000, said))
        pcm_all += said + bytes(int(0.6 * 48_000) * 2)
    path = tmp / "talk.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(bytes(pcm_all))
    return path, parts


def run_meeting(homes: list[Path], tmp: Path, talkers: int, lab: Any = None) -> dict:
    """One meeting: the host and the listeners join first, then ``talkers`` participants
    join, each playing a sentence (one talker: all the sentences, one after the other); each
    participant in a namespace of ``lab`` if given. Returns the delay of every utterance at
    every listener, their envelope matches and scores, and CPU per participant."""
    parts: list[tuple[float, bytes]] = []
    if talkers == 1:
        talk, parts = talk_file(tmp)
        files = [talk]
    else:
        files = [speech(tmp / f"s{i}.wav", SENTENCES[i % len(SENTENCES)])
                 for i in range(talkers)]

    def where(i: int) -> dict:
        return {"prefix": lab.prefix(i), "host": lab.host(i)} if lab is not None else {}

    host = Meet(homes[0], "start", "--title", "Bench", "--record", str(tmp / "r0.wav"),
                **where(0))
    meeting = host.line("")
    listeners = [Meet(home, "join", meeting, "--record", str(tmp / f"r{i}.wav"), **where(i))
                 for i, home in enumerate(homes[talkers + 1:], talkers + 1)]
    for meet in listeners:
        meet.line("audio started at ")
    talking = [Meet(home, "join", meeting, "--audio-in", str(path), **where(i))
               for i, (home, path) in enumerate(zip(homes[1:talkers + 1], files, strict=True), 1)]
    spoken_at = [started(meet) for meet in talking]
    everyone = [host, *listeners, *talking]
    before = {m.proc.pid: m.cpu() for m in everyone}
    t0 = time.monotonic()
    time.sleep(min(len(pcm(p)) for p in files) / 96_000)  # while everyone talks
    window = time.monotonic() - t0
    cpu = sorted((m.cpu() - before[m.proc.pid]) / window for m in everyone)
    time.sleep(1.5)  # the rest of the speech and the jitter buffers' tail
    for meet in [*talking, *listeners, host]:
        meet.leave()
    result: dict = {"cpu": cpu, "delays": [], "matches": [], "scores": [],
                    "heard": [m.summary for m in [host, *listeners]],
                    "talkers": [m.summary for m in talking]}
    for i, listener in [(0, host), *enumerate(listeners, talkers + 1)] if parts else []:
        with wave.open(str(tmp / f"r{i}.wav")) as rec:
            heard = rec.readframes(rec.getnframes())
        skew = spoken_at[0] - started(listener)  # talker's file time 0 in the recording
        for at, said in parts:
            start = max(0, int((skew + at - 0.1) * 48_000)) * 2  # search from 100 ms early
            part = heard[start:start + len(said) + 48_000 * 2]  # up to a second late
            match = quality.find(said, part)
            offset = start / 96_000 + match.offset
            result["matches"].append(match.correlation)
            result["delays"].append(offset - skew - at)
            result["scores"].append(scores(said, heard, offset))
    return result


# ----- loss, in process -----------------------------------------------------------------------


def lossy_call(said: bytes, *, loss: float = 0.0, outage: tuple[int, int] | None = None,
               jitter: int = 0, seed: int = 1) -> dict:
    """Talker -> listener, ``loss`` random loss, an ``outage`` (first tick, ticks) whose
    packets arrive together at its end, ``jitter`` ticks of random extra delay."""
    rng = random.Random(seed)
    pending: dict[int, list[bytes]] = {}
    tick = 0
    out: list[bytes] = []
    talker = Engine(audio.MemorySource(said), audio.NullSink(), out.append, lambda *e: None,
                    clock=lambda: tick * 0.02)
    sink = audio.MemorySink()
    listener = Engine(None, sink, lambda f: None, lambda *e: None, clock=lambda: tick * 0.02)
    roster = {0: "talker", 1: "listener"}
    talker.on_packet(mp.Roster(0, "b", roster, frozenset()))
    listener.on_packet(mp.Roster(1, "b", roster, frozenset()))
    for tick in range(len(said) // audio.FRAME_BYTES + 60):
        out.clear()
        talker.tick()
        for frame in out:
            if rng.random() < loss:
                continue
            due = tick + 1 + (rng.randint(0, jitter) if jitter else 0)
            if outage and outage[0] <= due < outage[0] + outage[1]:
                due = outage[0] + outage[1]
            pending.setdefault(due, []).append(frame)
        for frame in pending.pop(tick, []):
            listener.on_packet(mp.parse(frame[2:]))
        listener.tick()
    heard = b"".join(sink.frames)
    match = quality.find(said, heard)
    stats = listener.remotes[0].buffer.stats
    return {**scores(said, heard, match.offset),
            "corr": match.correlation, "delay_ms": match.offset * 1000, "fec": stats.recovered,
            "concealed": stats.concealed, "late+skipped": stats.late + stats.skipped,
            "target_ms": listener.remotes[0].buffer.target * 20}


def report(result: dict) -> None:
    if result["delays"]:
        delays = sorted(d * 1000 for d in result["delays"])
        p95 = delays[min(len(delays) - 1, round(0.95 * len(delays)) - 1)]
        print(f"mouth-to-ear delay, {len(delays)} utterances x listeners: median "
              f"{statistics.median(delays):.0f} ms, p95 {p95:.0f} ms, max {max(delays):.0f} ms")
        print(f"envelope correlation: median {statistics.median(result['matches']):.3f}, "
              f"min {min(result['matches']):.3f}")
    graded = [x for x in result["scores"] if x]
    if graded:
        pesqs = [x["pesq"] for x in graded]
        stois = [x["stoi"] for x in graded]
        print(f"wideband PESQ: median {statistics.median(pesqs):.2f}, min {min(pesqs):.2f}; "
              f"STOI: median {statistics.median(stois):.3f}, min {min(stois):.3f}")
    heard = [h for summary in result["heard"] for h in summary["heard"].values()
             if h["received"]]
    if heard:
        print("listeners' jitter buffers (final target; FEC / concealed / late or skipped "
              "frames): " + "; ".join(f"{h['target_ms']} ms, {h['fec']}/{h['concealed']}/"
                                      f"{h['late'] + h['skipped']}" for h in heard))
    late = [t["late_ticks"] for t in result["talkers"]]
    print(f"talkers' ticks run over 20 ms late (the process waited for a core): {late}")
    print(f"CPU per participant (% of one core): "
          f"{', '.join(f'{c * 100:.1f}' for c in result['cpu'])}")


def netem(homes: list[Path], tmp: Path) -> None:
    """The one-talker meeting with every participant in its own network namespace, through
    the torture suite's links (kernel netem or the userspace TUN emulator), at 20 ms each way
    (40 ms round trip, the issue's condition), without and with 5% loss each way."""
    sys.path.insert(0, str(Path(__file__).parent))
    from torture.netlab import NetnsLab

    lab = NetnsLab()
    try:
        for i in range(len(homes)):
            lab.add(i)
        for loss in (0.0, 0.05):
            lab.links.delay_s, lab.links.loss = 0.020, loss  # type: ignore[union-attr]
            lab.netem_on = False
            lab.netem(True)
            print(f"== {len(homes)} participants in namespaces ({lab.emulation}), 20 ms each "
                  f"way, {loss:.0%} loss each way, one talker")
            report(run_meeting(homes, tmp, 1, lab))
    finally:
        lab.close()


def engine_cost(said: bytes, speakers: int = 5) -> float:
    """CPU share of one core that a listener's engine alone (jitter buffers, decoding,
    mixing, levels; no network) takes with ``speakers`` talking at once."""
    encoder = Encoder()
    encoded = [encoder.encode(frame) for frame in audio.MemorySource(said).frames]
    tick = 0
    listener = Engine(None, audio.MemorySink(), lambda f: None, lambda *e: None,
                      clock=lambda: tick * 0.02)
    listener.on_packet(mp.Roster(0, "b", {s: f"p{s}" for s in range(speakers + 1)},
                                 frozenset()))
    started = time.process_time()
    for tick, payload in enumerate(encoded):
        for slot in range(1, speakers + 1):
            listener.on_packet(mp.Audio(slot, tick, payload))
        listener.tick()
    return (time.process_time() - started) / (len(encoded) * 0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="skip the all-talk run")
    parser.add_argument("--netem", action="store_true",
                        help="also run in network namespaces with delay and loss (root)")
    args = parser.parse_args()
    n = max(2, min(args.participants, len(NAMES)))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        homes = profiles(tmp / "profiles", n)
        print(f"== {n} participants in separate processes on 127.0.0.1, one talker")
        report(run_meeting(homes, tmp, 1))
        if not args.quick:
            print(f"== {n} participants, all talking at once")
            report(run_meeting(homes, tmp, n - 1))
        if args.netem:
            netem(homes, tmp)
        said = pcm(speech(tmp / "loss.wav", SENTENCES[0]))
    print(f"== a listener's engine alone (no network), 5 speakers at once: "
          f"{engine_cost(said) * 100:.1f}% of one core")
    print(f"== loss and jitter, in process (one tick of transit, real Opus), mean of "
          f"{len(SEEDS)} seeds")
    cases = [("clean", {}), ("2% random loss", {"loss": 0.02}),
             ("5% random loss", {"loss": 0.05}), ("10% random loss", {"loss": 0.10}),
             ("20% random loss", {"loss": 0.20}), ("300 ms outage, then a burst",
                                                   {"outage": (60, 15)}),
             ("0-60 ms random jitter", {"jitter": 3})]
    for name, kwargs in cases:
        runs = [lossy_call(said, seed=seed, **kwargs) for seed in SEEDS]  # type: ignore[arg-type]
        r = {k: statistics.mean(x[k] for x in runs) for k in runs[0]}
        graded = (f"PESQ {r['pesq']:.2f} (min {min(x['pesq'] for x in runs):.2f})  "
                  f"STOI {r['stoi']:.3f}  " if "pesq" in r else "")
        print(f"{name:28} {graded}corr {r['corr']:.3f}  delay {r['delay_ms']:3.0f} ms  "
              f"FEC {r['fec']:4.1f}  concealed {r['concealed']:4.1f}  "
              f"late/skipped {r['late+skipped']:4.1f}  target {r['target_ms']:3.0f} ms")

if __name__ == "__main__":
    main()
