"""Length-prefixed framing of sync messages, sans I/O.

A frame is ``[u32 big-endian payload length][u8 flags][payload]``. No frame's payload exceeds
:data:`MAX_FRAME` (8 MiB): a peer announcing a bigger one is cut off before we allocate
anything for it, so a hostile or broken peer cannot make us buffer unbounded memory from one
length field (py-libp2p 0.8.1 itself has no such cap). A message larger than a frame (a big
sync message, a saved document) is split over several frames with the ``MORE`` flag set on all
but the last; the reassembled message is itself capped at :data:`MAX_MESSAGE`.

These caps are for members. A peer that has not proven membership never reaches a sync
decoder (its sync streams are reset unread, ``gate.py``); the only frames read from it are a
join request's, capped at 4 KiB (``join.py``), and everything it sends over its connection
is capped at 64 KiB in all, half-sent frames and unread streams included.

The decoder is a pure state machine fed with whatever byte slices the transport produced, so it
is tested alone with arbitrary splits and garbage.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

MAX_FRAME = 8 << 20
MAX_MESSAGE = 256 << 20
HEADER = struct.Struct(">IB")
FLAG_MORE = 0x01


class FrameError(ValueError):
    """The byte stream is not valid framing (oversize, unknown flags, too big a message)."""


def encode(message: bytes, max_frame: int = MAX_FRAME) -> Iterator[bytes]:
    """The frames carrying ``message`` (one frame unless it is larger than ``max_frame``)."""
    if len(message) > MAX_MESSAGE:
        raise FrameError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE}")
    view = memoryview(message)
    offset = 0
    while True:
        part = view[offset : offset + max_frame]
        offset += len(part)
        more = offset < len(message)
        yield HEADER.pack(len(part), FLAG_MORE if more else 0) + bytes(part)
        if not more:
            return


class Decoder:
    """Feed bytes in, get whole messages out; raises :class:`FrameError` on a bad stream."""

    def __init__(self, max_frame: int = MAX_FRAME, max_message: int = MAX_MESSAGE) -> None:
        self.max_frame = max_frame
        self.max_message = max_message
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._partial = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= HEADER.size:
            length, flags = HEADER.unpack_from(self._buf)
            if length > self.max_frame:
                raise FrameError(f"frame of {length} bytes exceeds the {self.max_frame} limit")
            if flags & ~FLAG_MORE:
                raise FrameError(f"unknown frame flags {flags:#x}")
            if len(self._buf) < HEADER.size + length:
                break
            payload = bytes(self._buf[HEADER.size : HEADER.size + length])
            del self._buf[: HEADER.size + length]
            self._partial += length
            if self._partial > self.max_message:
                raise FrameError(f"message exceeds the {self.max_message} byte limit")
            self._parts.append(payload)
            if not flags & FLAG_MORE:
                out.append(b"".join(self._parts))
                self._parts.clear()
                self._partial = 0
        return out

    @property
    def idle(self) -> bool:
        """True when no partial frame or message is buffered (a clean place to stop)."""
        return not self._buf and not self._parts
