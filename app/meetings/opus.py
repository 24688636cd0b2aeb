"""Opus voice codec: 20 ms frames of 48 kHz mono, in-band FEC, packet-loss concealment.

Why ctypes on libopus and not PyAV's codec objects: FFmpeg's ``libopus`` decoder calls
``opus_decode`` with ``decode_fec=0`` and treats an empty packet as the end of the stream, so
through PyAV a receiver can neither recover a lost frame from the next packet's FEC data nor
ask the decoder to conceal a gap; both are what make a call survive loss. The libopus used
is the one the PyAV wheel ships (``av.libs``/``.dylibs``; PyAV is a dependency anyway, it
reads and resamples audio files), else the system's ``libopus``. The handful of entry points
used here are libopus's stable C API (1.x). PyAV is found, never imported, here (see
``audio.pyav`` for why the bundle leaves it out).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
from pathlib import Path

from bullpen.app.errors import UserError

RATE = 48_000
FRAME = 960  # samples in 20 ms at 48 kHz
FRAME_MS = 20
MAX_PACKET = 1275  # the largest Opus packet of one frame (RFC 6716)
BITRATE = 32_000  # with complexity 8: wideband PESQ 3.86 on espeak speech (24k: 3.07)
COMPLEXITY = 8  # 0.7 ms to encode 20 ms here; 10 costs 1.2 ms for the same score
EXPECTED_LOSS = 10  # percent: the encoder spends bits on FEC for this much loss

_APPLICATION_VOIP = 2048
_SET_BITRATE = 4002
_SET_COMPLEXITY = 4010
_SET_INBAND_FEC = 4012
_SET_PACKET_LOSS_PERC = 4014
_SET_SIGNAL = 4024
_SIGNAL_VOICE = 3001


class OpusError(RuntimeError):
    """A libopus call failed."""


class OpusMissing(UserError):
    """No libopus here."""


def _candidates() -> list[str]:
    spec = importlib.util.find_spec("av")
    found: list[str] = []
    if spec is not None and spec.origin:
        pkg = Path(spec.origin).parent
        for folder in (pkg.parent / "av.libs", pkg / ".dylibs", pkg):
            if folder.is_dir():
                found += sorted(str(p) for p in folder.glob("*opus*")
                                if p.suffix in (".dll", ".dylib") or ".so" in p.name)
    system = ctypes.util.find_library("opus")
    return found + ([system] if system else [])


@functools.cache
def library() -> ctypes.CDLL:
    """libopus, loaded once (see the module's docstring for where from)."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        _declare(lib)
        return lib
    raise OpusMissing("meetings need the Opus library: install PyAV (pip install av) or "
                    "libopus; the standalone bundle does not include it yet")


def _declare(lib: ctypes.CDLL) -> None:
    ptr, c_int, i16p, u8p = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int16), \
        ctypes.c_char_p
    lib.opus_encoder_create.restype = ptr
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, c_int, c_int, ctypes.POINTER(c_int)]
    lib.opus_encode.restype = ctypes.c_int32
    lib.opus_encode.argtypes = [ptr, i16p, c_int, ctypes.c_void_p, ctypes.c_int32]
    lib.opus_encoder_destroy.argtypes = [ptr]
    lib.opus_decoder_create.restype = ptr
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, c_int, ctypes.POINTER(c_int)]
    lib.opus_decode.restype = c_int
    lib.opus_decode.argtypes = [ptr, u8p, ctypes.c_int32, i16p, c_int, c_int]
    lib.opus_decoder_destroy.argtypes = [ptr]
    lib.opus_strerror.restype = ctypes.c_char_p
    lib.opus_strerror.argtypes = [c_int]


def _check(code: int, what: str) -> int:
    if code < 0:
        raise OpusError(f"{what}: {library().opus_strerror(code).decode()}")
    return code


class Encoder:
    """One speaker's encoder: 20 ms frames in (960 int16 samples as bytes), packets out."""

    def __init__(self, bitrate: int = BITRATE, expected_loss: int = EXPECTED_LOSS) -> None:
        lib = library()
        err = ctypes.c_int()
        self._state = lib.opus_encoder_create(RATE, 1, _APPLICATION_VOIP, ctypes.byref(err))
        _check(err.value, "opus encoder")
        for request, value in ((_SET_BITRATE, bitrate), (_SET_INBAND_FEC, 1),
                               (_SET_PACKET_LOSS_PERC, expected_loss),
                               (_SET_SIGNAL, _SIGNAL_VOICE), (_SET_COMPLEXITY, COMPLEXITY)):
            _check(lib.opus_encoder_ctl(ctypes.c_void_p(self._state), ctypes.c_int(request),
                                        ctypes.c_int(value)), "opus encoder setting")
        self._out = ctypes.create_string_buffer(MAX_PACKET)

    def encode(self, pcm: bytes) -> bytes:
        if len(pcm) != FRAME * 2:
            raise ValueError(f"a frame is {FRAME * 2} bytes, got {len(pcm)}")
        samples = ctypes.cast(ctypes.c_char_p(pcm), ctypes.POINTER(ctypes.c_int16))
        n = _check(library().opus_encode(self._state, samples, FRAME, self._out, MAX_PACKET),
                   "opus encode")
        return self._out.raw[:n]

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            library().opus_encoder_destroy(self._state)


class Decoder:
    """One remote speaker's decoder. Every call returns exactly one 20 ms frame: decoded,
    recovered from the next packet's FEC data, or concealed; a packet libopus refuses (a
    hostile or broken sender) is concealed instead."""

    def __init__(self) -> None:
        err = ctypes.c_int()
        self._state = library().opus_decoder_create(RATE, 1, ctypes.byref(err))
        _check(err.value, "opus decoder")
        self._pcm = (ctypes.c_int16 * FRAME)()

    def _run(self, data: bytes | None, fec: int) -> bytes:
        lib = library()
        n = lib.opus_decode(self._state, data, len(data) if data else 0, self._pcm, FRAME, fec)
        if n != FRAME and data is not None:  # invalid, or not one 20 ms frame: conceal
            n = lib.opus_decode(self._state, None, 0, self._pcm, FRAME, 0)
        return bytes(self._pcm) if n == FRAME else bytes(FRAME * 2)

    def decode(self, packet: bytes) -> bytes:
        return self._run(packet, 0)

    def recover(self, next_packet: bytes) -> bytes:
        """The lost frame before ``next_packet``, from its in-band FEC (concealed when it has
        none)."""
        return self._run(next_packet, 1)

    def conceal(self) -> bytes:
        return self._run(None, 0)

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            library().opus_decoder_destroy(self._state)
