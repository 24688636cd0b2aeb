"""Voice meetings between real ``bullpen meet`` processes over libp2p on 127.0.0.1.

Three members meet; one speaks a sentence (espeak-ng when installed, else a synthetic
syllable pattern) from a WAV file, the two others record what they hear, and the recordings
must contain it (loudness-envelope correlation above 0.8, at a mouth-to-ear delay under half a
second on this shared machine). A stranger and a guest are refused.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import sys
import threading
import wave
from pathlib import Path

import pytest
from helpers_procs import LOOPBACK, command, env, make_profiles

from bullpen.app.meetings import audio, quality
from bullpen.app.workspace import Workspace

pytestmark = pytest.mark.slow
SENTENCE = "Good morning team. The quarterly forecast is ready for review."


class Meet:
    """A running ``bullpen meet`` process whose stdout lines are collected as they come."""

    def __init__(self, home: Path, *args: str) -> None:
        self.log_path = home.parent / f"{home.name}-meet.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            command(home, "meet", *args, "--listen", LOOPBACK, "-v"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log, env=env(), text=True)
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)
        self._new.put(None)

    def wait_line(self, prefix: str, timeout: float = 60) -> str:
        """The first line starting with ``prefix`` (waiting for it)."""
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if line.startswith(prefix):
                    return line
            seen = len(self.lines)
            try:
                if self._new.get(timeout=timeout) is None and not any(
                        line.startswith(prefix) for line in self.lines):
                    raise AssertionError(f"meet exited without {prefix!r}: {self.output()}")
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} within {timeout} s: {self.output()}") from None

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return "\n".join(self.lines) + "\n--- stderr:\n" + self.log_path.read_text()

    def finish(self, timeout: float = 60) -> int:
        """Leave (``leave`` on stdin) and wait for the exit code."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # it just left by itself
                self.proc.stdin.write("leave\n")
                self.proc.stdin.flush()
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def summary(self) -> dict:
        return json.loads(self.wait_line("summary ").split(" ", 1)[1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def speech_file(path: Path) -> Path:
    """A spoken sentence as a 22.05 kHz WAV from espeak-ng, or a 48 kHz synthetic one."""
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True, timeout=60)
    else:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(48_000)
            out.writeframes(quality.syllables(3.5))
    return path


def pcm_of(path: Path) -> bytes:
    source = audio.FileSource(path)
    return b"".join(iter(source.read, None))


def started_at(meet: Meet) -> float:
    return float(meet.wait_line("audio started at ").rsplit(" ", 1)[1])


@pytest.fixture
def office(tmp_path: Path) -> dict[str, Path]:
    homes = make_profiles(tmp_path, ["Dana", "Eli", "Fay"])
    phrase = env()["BULLPEN_PASSPHRASE"]
    Workspace.create(tmp_path / "stranger", "Sam", "Other Co", passphrase=phrase).close()
    founder = Workspace.open(homes[0], passphrase=phrase)
    guest = Workspace.create_joining(tmp_path / "guest", "Gus", founder.workspace_id,
                                     passphrase=phrase)
    founder.add_member(guest.peer_id, "guest", "Gus")
    guest.merge_saved("index", founder.doc("index").save())
    guest.close()
    founder.close()
    return {"dana": homes[0], "eli": homes[1], "fay": homes[2],
            "stranger": tmp_path / "stranger", "guest": tmp_path / "guest"}


def test_three_members_meet_and_hear_the_speaker(office: dict[str, Path], tmp_path: Path) -> None:
    speech = speech_file(tmp_path / "speech.wav")
    spoken = pcm_of(speech)
    procs: list[Meet] = []
    try:
        dana = Meet(office["dana"], "start", "--title", "Forecast review",
                    "--record", str(tmp_path / "dana.wav"))
        procs.append(dana)
        meeting = dana.wait_line("")
        eli = Meet(office["eli"], "join", meeting, "--record", str(tmp_path / "eli.wav"))
        procs.append(eli)
        eli.wait_line("audio started at ")
        fay = Meet(office["fay"], "join", meeting, "--audio-in", str(speech),
                   "--duration", str(len(spoken) / 96_000 + 1.5))
        procs.append(fay)
        assert fay.proc.wait(120) == 0, fay.output()
        spoke = started_at(fay)
        for listener, name in ((eli, "eli"), (dana, "dana")):  # the host last
            listener.wait_line("quiet ")  # someone spoke, then stopped
            fay_id = next(line.split()[1] for line in listener.lines
                          if line.startswith("joined ") and line.endswith(" Fay"))
            assert listener.finish() == 0, listener.output()
            speakers = {line.split(" ", 2)[2] for line in listener.lines
                        if line.startswith("speaking ")}
            assert speakers == {"Fay"}, listener.output()
            with wave.open(str(tmp_path / f"{name}.wav")) as rec:
                recorded = rec.readframes(rec.getnframes())
            match = quality.find(spoken, recorded)
            delay = started_at(listener) + match.offset - spoke
            assert match.correlation > 0.8, (name, match)
            assert 0 < delay < 0.5, (name, delay)
            stats = listener.summary()["heard"][fay_id]
            assert stats["played"] > 0.9 * len(spoken) / audio.FRAME_BYTES, stats
    finally:
        for proc in procs:
            proc.kill()


def test_a_stranger_and_a_guest_are_refused(office: dict[str, Path]) -> None:
    dana = Meet(office["dana"], "start", "--title", "Team only")
    try:
        meeting = dana.wait_line("")
        for who, needle in (("stranger", "not a member"),
                            ("guest", "only the team's managers and reps")):
            proc = subprocess.run(command(office[who], "meet", "join", meeting, "--listen",
                                          LOOPBACK, "--duration", "5"),
                                  capture_output=True, text=True, env=env(), timeout=120)
            assert proc.returncode == 1, proc
            assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc
            assert "audio started" not in proc.stdout
        assert dana.finish() == 0
        assert not any(line.startswith("joined ") for line in dana.lines), dana.output()
    finally:
        dana.kill()


@pytest.mark.parametrize(("args", "needle"), [
    (["join", "garbage"], "not a meeting id"),
    (["start", "--audio-in", "/nonexistent.wav"], "cannot read audio from /nonexistent.wav"),
    (["start", "--record", "/nonexistent/heard.wav"], "cannot write /nonexistent/heard.wav"),
    (["start", "--duration", "-1"], "--duration: must be a positive number"),
    (["start", "--title", "x" * 201], "--title: at most 200 characters"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    home = make_profiles(tmp_path, ["Dana"])[0]
    proc = subprocess.run(command(home, "meet", *args, "--listen", LOOPBACK), capture_output=True,
                          text=True, env=env(), timeout=120)
    assert proc.returncode in (1, 2) and needle in proc.stderr, proc
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_mute_and_unmute_from_stdin(office: dict[str, Path], tmp_path: Path) -> None:
    talk = tmp_path / "long.wav"
    with wave.open(str(talk), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(quality.syllables(10.0))
    dana = Meet(office["dana"], "start", "--title", "Mute check")
    eli = None
    try:
        meeting = dana.wait_line("")
        eli = Meet(office["eli"], "join", meeting, "--muted", "--audio-in", str(talk))
        dana.wait_line("muted ")
        assert not any(line.startswith("speaking ") for line in dana.lines), dana.output()
        assert eli.proc.stdin is not None
        eli.proc.stdin.write("unmute\n")
        eli.proc.stdin.flush()
        assert dana.wait_line("unmuted ").endswith(" Eli")
        assert dana.wait_line("speaking ").endswith(" Eli")
        assert eli.finish() == 0 and dana.finish() == 0
    finally:
        dana.kill()
        if eli is not None:
            eli.kill()


HOSTILE = """
import sys, trio
from pathlib import Path
from bullpen.app.workspace import Workspace
from bullpen.sync.meeting_node import MeetingNode

home, meeting, phrase = sys.argv[1:4]
ws = Workspace.open(Path(home), passphrase=phrase)
node = MeetingNode(ws.identity.seed, is_member=lambda p: True, may_meet=lambda p: True,
                   on_packet=lambda p: None, listen=["/ip4/127.0.0.1/tcp/0"])

async def main():
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run, "", meeting)
        await node._host_link.stream.write(b"\\xff\\xff" + bytes(4000))  # a 64 KiB 'packet'
        print("sent", flush=True)
        await trio.sleep(3)
        nursery.cancel_scope.cancel()

trio.run(main)
"""


def test_a_hostile_member_process_is_dropped_while_the_talk_goes_on(
        office: dict[str, Path], tmp_path: Path) -> None:
    talk = tmp_path / "talk.wav"
    said = quality.syllables(8.0)
    with wave.open(str(talk), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(said)
    dana = Meet(office["dana"], "start", "--record", str(tmp_path / "dana.wav"))
    eli = None
    try:
        meeting = dana.wait_line("")
        eli = Meet(office["eli"], "join", meeting, "--audio-in", str(talk), "--duration", "9.5")
        dana.wait_line("speaking ")
        hostile = subprocess.run([sys.executable, "-c", HOSTILE, str(office["fay"]), meeting,
                                  env()["BULLPEN_PASSPHRASE"]], capture_output=True, text=True,
                                 env=env(), timeout=120)
        assert hostile.stdout.strip() == "sent", hostile.stderr
        assert dana.wait_line("left ").endswith(" Fay")
        assert eli.proc.wait(60) == 0, eli.output()
        assert dana.finish() == 0
        with wave.open(str(tmp_path / "dana.wav")) as rec:
            heard = rec.readframes(rec.getnframes())
        assert quality.find(said, heard).correlation > 0.8
        assert "a meeting frame of 65535 bytes" in dana.output()  # the host's log says why
    finally:
        dana.kill()
        if eli is not None:
            eli.kill()
