"""Sans-I/O tests of the frame codec: splits, limits, garbage."""

from __future__ import annotations

import os

import pytest

from bullpen.sync import framing
from bullpen.sync.framing import Decoder, FrameError


def frames(message: bytes, max_frame: int = framing.MAX_FRAME) -> bytes:
    return b"".join(framing.encode(message, max_frame))


@pytest.mark.parametrize("size", [0, 1, 100, 4096])
def test_roundtrip_any_split(size: int) -> None:
    message = os.urandom(size)
    wire = frames(message) + frames(b"second")
    for step in (1, 3, 7, len(wire)):
        dec = Decoder()
        out = []
        for i in range(0, len(wire), step):
            out += dec.feed(wire[i : i + step])
        assert out == [message, b"second"]
        assert dec.idle


def test_large_message_is_chunked_and_reassembled() -> None:
    message = os.urandom(10_000)
    wire = list(framing.encode(message, max_frame=4096))
    assert len(wire) == 3
    dec = Decoder(max_frame=4096)
    assert dec.feed(b"".join(wire[:2])) == []
    assert not dec.idle
    assert dec.feed(wire[2]) == [message]


def test_oversize_frame_rejected_from_header_alone() -> None:
    dec = Decoder(max_frame=1024)
    with pytest.raises(FrameError, match="exceeds"):
        dec.feed(framing.HEADER.pack(1025, 0))


def test_message_limit_across_frames() -> None:
    dec = Decoder(max_frame=100, max_message=250)
    with pytest.raises(FrameError, match="message exceeds"):
        dec.feed(b"".join(framing.encode(os.urandom(300), max_frame=100)))


def test_unknown_flags_rejected() -> None:
    with pytest.raises(FrameError, match="flags"):
        Decoder().feed(framing.HEADER.pack(1, 0x80) + b"x")


def test_default_limit_is_8_mib() -> None:
    assert framing.MAX_FRAME == 8 << 20
    with pytest.raises(FrameError):
        Decoder().feed(framing.HEADER.pack(framing.MAX_FRAME + 1, 0))
