"""Audio frames for meetings: sources and sinks (devices), levels and mixing.

A frame is 20 ms of 48 kHz mono signed 16-bit little-endian PCM (1,920 bytes). Devices are
two small protocols, :class:`Source` (a microphone) and :class:`Sink` (a speaker); this slice
has file devices only (:class:`FileSource` plays any audio file PyAV reads, at any rate and
channel count, as the microphone; :class:`WavSink` writes what the participant hears), which
is what tests, CI and recording bots need. Sound-card backends (QtMultimedia or sounddevice)
are later work; they only need to produce and consume these frames.

No numpy: the bundle leaves it out, and the work is small (a level is a sum of squares of a
quarter of the samples; a mix of k speakers is k-1 additions per sample, and only speakers
who are not silent are mixed).
"""

from __future__ import annotations

import array
import importlib
import math
import operator
import sys
import wave
from pathlib import Path
from typing import Any, Protocol

from bullpen.app.errors import UserError

from .opus import FRAME, RATE

FRAME_BYTES = FRAME * 2
SILENCE = bytes(FRAME_BYTES)
SILENT_DB = -90.0


class AudioFileError(UserError):
    """An audio file that cannot be read or written."""


class Source(Protocol):
    def read(self) -> bytes | None:
        """The next frame, or None once there is no more (the microphone is off)."""


class Sink(Protocol):
    def write(self, frame: bytes) -> None: ...

    def close(self) -> None: ...


def _samples(frame: bytes) -> array.array:
    samples = array.array("h", frame)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _frame(samples: array.array) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def level_db(frame: bytes) -> float:
    """The frame's RMS level in dBFS (every fourth sample: enough for a speaking indicator)."""
    quarter = _samples(frame)[::4]
    power = sum(map(operator.mul, quarter, quarter)) / max(1, len(quarter))
    return max(SILENT_DB, 10 * math.log10(power / (32768.0 ** 2))) if power else SILENT_DB


def mix(frames: list[bytes]) -> bytes:
    """The sum of ``frames``, clipped to 16 bits."""
    if not frames:
        return SILENCE
    if len(frames) == 1:
        return frames[0]
    acc = list(_samples(frames[0]))
    for frame in frames[1:]:
        acc = list(map(operator.add, acc, _samples(frame)))
    if max(acc) > 32767 or min(acc) < -32768:
        acc = [-32768 if v < -32768 else 32767 if v > 32767 else v for v in acc]
    return _frame(array.array("h", acc))


def pyav() -> Any:
    """PyAV, imported by name at run time: the standalone bundle leaves it out for now
    (FFmpeg would take it about 100 MB over its size limit), and PyInstaller bundles every
    module it sees imported. In the bundle, ``--audio-in`` says it needs PyAV."""
    try:
        return importlib.import_module("av")
    except ImportError:
        raise AudioFileError("reading audio files needs PyAV (pip install av); the standalone "
                             "bundle does not include it yet") from None


class FileSource:
    """An audio file as the microphone: decoded and resampled to 48 kHz mono by PyAV
    (FFmpeg), so a WAV at any common rate, mono or stereo, or an Ogg or MP3, all work. The
    file is decoded whole before the meeting starts (a bad file fails at once, and no
    decoding competes with the 20 ms ticks), up to :data:`MAX_SECONDS`."""

    MAX_SECONDS = 30 * 60

    def __init__(self, path: Path) -> None:
        av = pyav()
        try:
            with av.open(str(path)) as container:
                pcm = self._decode(container)
        except (OSError, IndexError, av.error.FFmpegError) as exc:
            raise AudioFileError(f"cannot read audio from {path}: {exc}") from None
        whole = -(-len(pcm) // FRAME_BYTES) * FRAME_BYTES
        pcm = pcm.ljust(whole, b"\0")
        self._frames = iter([pcm[i:i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES)])

    def _decode(self, container: object) -> bytes:
        resampler = pyav().AudioResampler(format="s16", layout="mono", rate=RATE)
        pcm = bytearray()
        limit = self.MAX_SECONDS * RATE * 2
        stream = container.streams.audio[0]  # type: ignore[attr-defined]
        for decoded in [*container.decode(stream), None]:  # type: ignore[attr-defined]
            for out in resampler.resample(decoded):
                pcm += bytes(out.planes[0])[:out.samples * 2]
            if len(pcm) > limit:
                raise AudioFileError(f"audio longer than {self.MAX_SECONDS // 60} minutes")
        return bytes(pcm)

    def read(self) -> bytes | None:
        return next(self._frames, None)


class WavSink:
    """What the participant hears, as a 48 kHz mono 16-bit WAV file."""

    def __init__(self, path: Path) -> None:
        try:
            self._file = path.open("wb")  # noqa: SIM115 (open for the whole call)
        except OSError as exc:
            raise AudioFileError(f"cannot write {path}: {exc.strerror or exc}") from None
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)

    def write(self, frame: bytes) -> None:
        self._wav.writeframes(frame)

    def close(self) -> None:
        self._wav.close()
        self._file.close()


class NullSink:
    """No speaker: what is heard is decoded (for the speaking indicator) and dropped."""

    def write(self, frame: bytes) -> None:
        return None

    def close(self) -> None:
        return None


class MemorySource:
    """A microphone that plays back 16-bit PCM held in memory, frame by frame (a benchmark's
    or a test's speech, with no file to read)."""

    def __init__(self, pcm: bytes) -> None:
        self.frames = [pcm[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
                       for i in range(0, len(pcm), FRAME_BYTES)]

    def read(self) -> bytes | None:
        return self.frames.pop(0) if self.frames else None


class MemorySink:
    """A speaker that keeps every frame it is given, to compare with what was said."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, frame: bytes) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        return None
