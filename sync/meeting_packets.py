"""The meeting protocol's packets (``/bullpen/meet/1``), sans I/O.

A meeting stream carries small frames ``[u16 big-endian length][body]``; the body's first byte
is its kind:

* ``JOIN`` (participant to host): the meeting's 16-byte token, proof of having been told of
  the meeting by the host (membership itself is proven by the connection, see ``gate.py``);
* ``ROSTER`` (host to participant): who is in the meeting, as JSON ``{"you": slot, "title":
  str, "peers": {slot: peer id}, "muted": [slots]}``; sent on joining and on every change;
* ``AUDIO`` (both ways): ``[kind][slot][u32 seq][Opus payload]``; ``seq`` counts the
  sender's 20 ms frames from its start, muted ones included (so a receiver's clock of the
  sender never jumps), and ``slot`` names the sender in packets the host forwards (the
  host overwrites it in packets it receives, so nobody can speak as someone else);
* ``MUTE`` (both ways): ``[kind][slot][u8 muted]``, so everyone's participant list shows it;
* ``REFUSED`` (host to participant): why it may not join (UTF-8), before the stream closes.

Every size is bounded (:data:`MAX_BODY`), and :class:`Decoder` raises :class:`PacketError`
on anything malformed: the node drops a peer that sends one, without reading more of it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

MEET_PROTOCOL = "/bullpen/meet/1"
TOKEN_BYTES = 16
MAX_OPUS = 1275  # RFC 6716's largest packet of one frame
MAX_ROSTER = 4096
MAX_BODY = MAX_ROSTER
MAX_SLOTS = 32

JOIN, ROSTER, AUDIO, MUTE, REFUSED = 1, 2, 3, 4, 5
_LEN = struct.Struct(">H")
_AUDIO = struct.Struct(">BBI")
_MUTE = struct.Struct(">BBB")


class PacketError(ValueError):
    """Malformed meeting traffic: the sender is dropped."""


@dataclass(frozen=True)
class Join:
    token: bytes


@dataclass(frozen=True)
class Roster:
    you: int
    title: str
    peers: dict[int, str]
    muted: frozenset[int]


@dataclass(frozen=True)
class Audio:
    slot: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class Mute:
    slot: int
    muted: bool


@dataclass(frozen=True)
class Refused:
    reason: str


Packet = Join | Roster | Audio | Mute | Refused


def frame(body: bytes) -> bytes:
    if not body or len(body) > MAX_BODY:
        raise PacketError(f"a meeting packet of {len(body)} bytes")
    return _LEN.pack(len(body)) + body


def join(token: bytes) -> bytes:
    return frame(bytes([JOIN]) + token)


def roster(you: int, title: str, peers: dict[int, str], muted: frozenset[int]) -> bytes:
    text = json.dumps({"you": you, "title": title, "peers": {str(s): p for s, p in peers.items()},
                       "muted": sorted(muted)}, separators=(",", ":"))
    return frame(bytes([ROSTER]) + text.encode())


def audio(slot: int, seq: int, payload: bytes) -> bytes:
    return frame(_AUDIO.pack(AUDIO, slot, seq & 0xFFFFFFFF) + payload)


def mute(slot: int, muted: bool) -> bytes:
    return frame(_MUTE.pack(MUTE, slot, int(muted)))


def refused(reason: str) -> bytes:
    return frame(bytes([REFUSED]) + reason.encode()[:512])


def with_slot(body_frame: bytes, slot: int) -> bytes:
    """An AUDIO or MUTE frame with its sender's slot set to ``slot`` (the host's stamp)."""
    return body_frame[:3] + bytes([slot]) + body_frame[4:]


def _slot(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_SLOTS:
        raise PacketError("bad slot in roster")
    return value


def _parse_roster(body: bytes) -> Roster:
    try:
        data = json.loads(body.decode())
        peers = {_slot(int(s)): p for s, p in data["peers"].items()}
        if not all(isinstance(p, str) and 0 < len(p) <= 64 for p in peers.values()):
            raise PacketError("bad peer id in roster")
        title = data["title"]
        if not isinstance(title, str):
            raise PacketError("bad title in roster")
        return Roster(_slot(data["you"]), title, peers,
                      frozenset(_slot(s) for s in data["muted"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PacketError(f"bad roster: {exc}") from None


def parse(body: bytes) -> Packet:
    """One packet from its body; :class:`PacketError` when it is not a valid one."""
    kind = body[0]
    if kind == AUDIO:
        if not _AUDIO.size < len(body) <= _AUDIO.size + MAX_OPUS:
            raise PacketError(f"an audio packet of {len(body)} bytes")
        _, slot, seq = _AUDIO.unpack_from(body)
        return Audio(_slot(slot), seq, body[_AUDIO.size:])
    if kind == MUTE:
        if len(body) != _MUTE.size or body[2] > 1:
            raise PacketError("bad mute packet")
        return Mute(_slot(body[1]), bool(body[2]))
    if kind == JOIN:
        if len(body) != 1 + TOKEN_BYTES:
            raise PacketError("bad join packet")
        return Join(body[1:])
    if kind == ROSTER:
        return _parse_roster(body[1:])
    if kind == REFUSED:
        return Refused(body[1:].decode(errors="replace"))
    raise PacketError(f"unknown meeting packet kind {kind}")


class Decoder:
    """Feed the stream's bytes in any slices, get whole frames' bodies out."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= _LEN.size:
            (size,) = _LEN.unpack_from(self._buf)
            if not 0 < size <= MAX_BODY:
                raise PacketError(f"a meeting frame of {size} bytes")
            if len(self._buf) < _LEN.size + size:
                break
            out.append(bytes(self._buf[_LEN.size:_LEN.size + size]))
            del self._buf[:_LEN.size + size]
        return out
