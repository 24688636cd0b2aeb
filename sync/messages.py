"""The messages of ``/bullpen/sync/1`` and their byte encoding, sans I/O.

One message is ``[u8 type][u32 header length][JSON header][binary body]``: the header carries
the few small typed fields (document id, blob hash, offsets), the body the opaque bytes
(automerge sync message, compressed saved document, blob chunk). JSON keeps the header easy to
read in a capture and easy to validate strictly; every field is checked for type and size on
decode, so code above this module never sees a malformed message. The automerge payloads
inside (sync messages, saved documents) are read by ``payloads.py``.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from .errors import ProtocolError
from .framing import MAX_MESSAGE
from .payloads import inflate

PROTOCOL_VERSION = 1
MAX_HEADER = 4 << 20
MAX_ID = 200
BLOB_CHUNK = 1 << 20  # blob bytes per message: keeps big files from starving document sync
_HEAD = struct.Struct(">BI")


@dataclass(frozen=True)
class Hello:
    workspace_id: str
    docs: dict[str, list[str]]  # doc id -> heads (hex)
    addrs: list[str] = field(default_factory=list)
    name: str = ""
    version: int = PROTOCOL_VERSION
    # Optional abilities of the sender; older peers send none and ignore these.
    features: list[str] = field(default_factory=list)


FEATURE_ZSYNC = "zsync"  # understands Sync messages whose body is zlib-compressed ("z": 1)
ZSYNC_MIN = 1024  # smaller sync messages are sent as they are


@dataclass(frozen=True)
class Sync:
    doc_id: str
    data: bytes
    # Encode the body with zlib (only to a peer whose hello lists FEATURE_ZSYNC): a batch of
    # changes repeats actor ids, keys and timestamps, and shrinks 3-4x.
    deflate: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Saved:
    """A whole saved document (zlib), sent to a peer that lacks the document."""

    doc_id: str
    data: bytes


@dataclass(frozen=True)
class BlobWant:
    sha256: str


@dataclass(frozen=True)
class BlobData:
    sha256: str
    offset: int
    total: int
    data: bytes


@dataclass(frozen=True)
class BlobMissing:
    sha256: str


@dataclass(frozen=True)
class Error:
    reason: str


FEATURE_REACH = "reach"  # understands Addrs and Held (older peers would drop the connection)
MAX_REACH_PEERS = 1000
MAX_PEER_ADDRS = 16


@dataclass(frozen=True)
class Addrs:
    """Where the sender last reached teammates: peer id -> {multiaddr: unix time}."""

    peers: dict[str, dict[str, float]]


@dataclass(frozen=True)
class Held:
    """The sender refuses this document's changes from us, and why ("" : no longer)."""

    doc_id: str
    reason: str = ""


FEATURE_SIGS = "sigs"  # understands Sigs (older peers would drop the connection)
SIG_ENTRY = 32 + 32 + 64  # change hash, signer's public key, Ed25519 signature
MAX_SIGS = 1 << 16  # entries in one Sigs message (8 MiB): checked before anything is built


@dataclass(frozen=True)
class Sigs:
    """Signatures of changes the next Sync or Saved message of ``doc_id`` carries ((change
    hash, signer's public key) -> signature), so the receiver can tell who wrote them."""

    doc_id: str
    sigs: dict[tuple[bytes, bytes], bytes]


Message = Hello | Sync | Saved | BlobWant | BlobData | BlobMissing | Error | Addrs | Held | Sigs
_TYPES: dict[type, int] = {
    Hello: 1, Sync: 2, Saved: 3, BlobWant: 4, BlobData: 5, BlobMissing: 6, Error: 7, Addrs: 8,
    Held: 9, Sigs: 10,
}
_BY_CODE = {code: cls for cls, code in _TYPES.items()}


def encode(msg: Message) -> bytes:
    header: dict[str, Any]
    body = b""
    match msg:
        case Hello():
            header = {"v": msg.version, "workspace": msg.workspace_id, "docs": msg.docs,
                      "addrs": msg.addrs, "name": msg.name}
            if msg.features:
                header["features"] = msg.features
        case Sync() if msg.deflate and len(msg.data) >= ZSYNC_MIN:
            header, body = {"doc": msg.doc_id, "z": 1}, zlib.compress(msg.data, 6)
        case Sync() | Saved():
            header, body = {"doc": msg.doc_id}, msg.data
        case BlobData():
            header = {"sha": msg.sha256, "offset": msg.offset, "total": msg.total}
            body = msg.data
        case BlobWant() | BlobMissing():
            header = {"sha": msg.sha256}
        case Error():
            header = {"reason": msg.reason[:500]}
        case Addrs():
            header = {"peers": msg.peers}
        case Held():
            header = {"doc": msg.doc_id, "reason": msg.reason[:500]}
        case Sigs():
            header = {"doc": msg.doc_id}
            body = b"".join(h + k + s for (h, k), s in msg.sigs.items())
    raw = json.dumps(header, separators=(",", ":")).encode()
    return _HEAD.pack(_TYPES[type(msg)], len(raw)) + raw + body


# ----- decoding ------------------------------------------------------------------------------


def _str(header: dict[str, Any], key: str, limit: int = MAX_ID) -> str:
    value = header.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError(f"field {key!r} must be a non-empty string of at most {limit} chars")
    return value


def _int(header: dict[str, Any], key: str) -> int:
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MESSAGE * 64:
        raise ProtocolError(f"field {key!r} must be a non-negative integer")
    return value


def _sha(header: dict[str, Any]) -> str:
    value = _str(header, "sha", 64)
    if len(value) != 64 or value.strip("0123456789abcdef"):
        raise ProtocolError("field 'sha' must be a sha256 hex digest")
    return value


def _heads(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 1000:
        raise ProtocolError("heads must be a list")
    for h in value:
        if not isinstance(h, str) or len(h) != 64 or h.strip("0123456789abcdef"):
            raise ProtocolError("a head must be a 32-byte hex hash")
    return value


def _hello(header: dict[str, Any]) -> Hello:
    version = header.get("v")
    if not isinstance(version, int):
        raise ProtocolError("hello has no protocol version")
    docs = header.get("docs")
    if not isinstance(docs, dict) or len(docs) > 1_000_000:
        raise ProtocolError("hello 'docs' must be a map of document id to heads")
    for doc_id, heads in docs.items():
        if not doc_id or len(doc_id) > MAX_ID:
            raise ProtocolError("bad document id in hello")
        _heads(heads)
    addrs = header.get("addrs", [])
    if not isinstance(addrs, list) or not all(isinstance(a, str) and len(a) < 300 for a in addrs):
        raise ProtocolError("hello 'addrs' must be a list of multiaddrs")
    name = header.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_ID:
        raise ProtocolError("hello 'name' must be a short string")
    features = header.get("features", [])
    if not isinstance(features, list) or not all(
        isinstance(f, str) and len(f) < 50 for f in features
    ):
        raise ProtocolError("hello 'features' must be a list of short strings")
    return Hello(_str(header, "workspace"), docs, addrs[:16], name, version, features[:32])


def decode(raw: bytes) -> Message:
    """Decode one message; :class:`ProtocolError` for anything malformed."""
    if len(raw) < _HEAD.size:
        raise ProtocolError("message shorter than its header")
    code, length = _HEAD.unpack_from(raw)
    cls = _BY_CODE.get(code)
    if cls is None:
        raise ProtocolError(f"unknown message type {code}")
    if length > MAX_HEADER or _HEAD.size + length > len(raw):
        raise ProtocolError("message header length out of range")
    try:
        header = json.loads(raw[_HEAD.size : _HEAD.size + length])
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("message header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("message header is not a JSON object")
    body = raw[_HEAD.size + length :]
    if body and cls not in (Sync, Saved, BlobData, Sigs):
        raise ProtocolError(f"unexpected body on a {cls.__name__} message")
    if cls is Hello:
        return _hello(header)
    if cls is Sync:
        if header.get("z") == 1:
            body = inflate(body, MAX_MESSAGE, "sync message")
        return Sync(_str(header, "doc"), body)
    if cls is Saved:
        return Saved(_str(header, "doc"), body)
    if cls is BlobData:
        offset, total = _int(header, "offset"), _int(header, "total")
        if offset + len(body) > total or not body and total:
            raise ProtocolError("blob chunk outside the blob")
        return BlobData(_sha(header), offset, total, body)
    if cls is BlobWant:
        return BlobWant(_sha(header))
    if cls is BlobMissing:
        return BlobMissing(_sha(header))
    if cls is Addrs:
        return _addrs(header)
    if cls is Sigs:
        if len(body) % SIG_ENTRY or len(body) > MAX_SIGS * SIG_ENTRY:
            raise ProtocolError("sigs body must be whole (hash, signature) entries, "
                                f"at most {MAX_SIGS}")
        return Sigs(_str(header, "doc"), {(body[i:i + 32], body[i + 32:i + 64]):
                                          body[i + 64:i + SIG_ENTRY]
                                          for i in range(0, len(body), SIG_ENTRY)})
    if cls is Held:
        reason = header.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise ProtocolError("held 'reason' must be a short string")
        return Held(_str(header, "doc"), reason)
    return Error(_str(header, "reason", 500))


def _addrs(header: dict[str, Any]) -> Addrs:
    peers = header.get("peers")
    if not isinstance(peers, dict) or len(peers) > MAX_REACH_PEERS:
        raise ProtocolError("addrs 'peers' must be a map of peer id to addresses")
    out: dict[str, dict[str, float]] = {}
    for peer_id, addrs in peers.items():
        if not peer_id or len(peer_id) > MAX_ID or not isinstance(addrs, dict) \
                or len(addrs) > MAX_PEER_ADDRS:
            raise ProtocolError("addrs: bad peer entry")
        for addr, at in addrs.items():
            if not addr or len(addr) >= 300 or isinstance(at, bool) \
                    or not isinstance(at, int | float) or not 0 <= at < 1e11:
                raise ProtocolError("addrs: each address needs a time")
        out[peer_id] = {addr: float(at) for addr, at in addrs.items()}
    return Addrs(out)
