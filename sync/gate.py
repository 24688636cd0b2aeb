"""Admission: what a peer that has not proven membership can learn from this node, and cost it.

Every connection is libp2p Noise and nothing else: the handshake proves that the remote holds
the Ed25519 key of its peer id, and a member's peer id *is* its member key, so membership is
decided from the authenticated peer id before this node sends a byte of its own. (py-libp2p
also offers plaintext, secio and TLS by default; plaintext lets anyone claim any peer id,
so a stranger could pose as a member. :meth:`Gate.security_options` offers Noise alone.)

A connection from a peer that is not a current member (a stranger, a removed member, a
newcomer about to prove an invite on ``/bullpen/join/1``) is *unadmitted* until it proves
membership, and while it is:

* it may send at most :data:`UNADMITTED_BYTES` in all (counted as the muxer reads them, so a
  half-sent frame or a stream nobody reads is counted too); past that it is hung up on;
* it is hung up on :data:`HANDSHAKE_TIMEOUT` after it connected (not while its one join
  request is being answered);
* at most :data:`MAX_UNADMITTED` such connections exist at once, and one per peer id;
* at most :data:`MAX_UNADMITTED_STREAMS` streams are open on it at once (past that it is hung
  up on: each stream costs a task and buffers before its protocol is even negotiated, and
  64 KiB of bare stream openings would be thousands), one of them a join; identify and ping
  streams are reset unanswered (identify would tell it our addresses), a sync stream gets one
  fixed error saying it is not a member (nothing about the workspace) and is closed;
* nothing about it is kept once it is gone (entries live only as long as the connection,
  and libp2p's peerstore entry for it is cleared).

py-libp2p 0.8.1 keeps the task that accepted an inbound connection, and with it one of its
250 inbound slots, until the host stops, even after the connection closed: after 250
connections in a node's life (strangers could make them in seconds) it accepts none, from
anyone. :meth:`Gate.install` ends that task when its connection closes.

Members' connections are not limited here (they are judged by the sync session).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio
from libp2p.abc import INotifee
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.host.defaults import get_default_protocols
from libp2p.peer.id import ID
from libp2p.security.exceptions import HandshakeFailure
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

from .peers import short_id

log = logging.getLogger("bullpen.sync")

HANDSHAKE_TIMEOUT = 5.0
UNADMITTED_BYTES = 64 << 10
MAX_UNADMITTED = 32
MAX_UNADMITTED_STREAMS = 8
SWEEP_INTERVAL = 0.25

Handler = Callable[[Any], Awaitable[None]]

# Set by the task accepting an inbound connection: the event that ends it once closed.
_ACCEPTED: contextvars.ContextVar[trio.Event | None] = contextvars.ContextVar("accepted")


class _Entry:
    """One connection's admission state (dropped with the connection)."""

    __slots__ = ("peer_id", "secure", "admitted", "received", "deadline", "joins", "closed",
                 "streams", "cut")

    def __init__(self, peer_id: str, secure: Any, admitted: bool) -> None:
        self.peer_id = peer_id
        self.secure = secure
        self.admitted = admitted
        self.received = 0
        self.deadline = trio.current_time() + HANDSHAKE_TIMEOUT
        self.joins = 0
        self.streams = 0  # open while unadmitted
        self.cut = False  # hung up on: nothing more is read, not even what is buffered
        self.closed = _ACCEPTED.get(None)  # set when the connection ends (inbound only)


class Metered:
    """A secured connection whose reads are counted while its peer is unadmitted; every other
    attribute is the wrapped connection's, so the muxer and swarm see no difference."""

    def __init__(self, inner: Any, gate: Gate, entry: _Entry) -> None:
        self._inner = inner
        self._gate = gate
        self.entry = entry

    async def read(self, n: int | None = None) -> bytes:
        if self.entry.cut:
            return b""
        data = await self._inner.read(n)
        entry = self.entry
        if not entry.admitted:
            entry.received += len(data)
            if entry.received > UNADMITTED_BYTES:
                log.info("hanging up on %s: %d bytes before proving membership",
                         short_id(entry.peer_id), entry.received)
                await self._gate.hang_up(entry)
                return b""  # the muxer sees the end of the connection
        return data

    async def close(self) -> None:
        self._gate.forget(self.entry)
        await self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _GatedNoise(NoiseTransport):
    """Noise whose secured connections are wrapped by the gate."""

    def __init__(self, gate: Gate, key_pair: Any) -> None:
        super().__init__(key_pair, noise_privkey=create_new_x25519_key_pair().private_key)
        self._gate = gate

    async def secure_inbound(self, conn: Any) -> Any:
        return await self._gate.wrap(await super().secure_inbound(conn))

    async def secure_outbound(self, conn: Any, peer_id: Any) -> Any:
        return await self._gate.wrap(await super().secure_outbound(conn, peer_id))


class Gate:
    """``is_member(peer_id)``: the membership check (blocking; it runs in a worker thread)."""

    def __init__(self, is_member: Callable[[str], bool]) -> None:
        self.is_member = is_member
        self._entries: set[_Entry] = set()  # every open connection
        self._unadmitted: set[_Entry] = set()
        self._sweep = trio.Event()  # set when a connection is unadmitted: the sweep has work
        self._peerstore: Any = None

    def security_options(self, key_pair: Any) -> dict[TProtocol, Any]:
        """The host's only secure transport: Noise, gated."""
        return {NOISE_PROTOCOL_ID: _GatedNoise(self, key_pair)}

    def install(self, host: Any) -> None:
        """Answer libp2p's own protocols (identify, identify-push, ping) to members only, and
        end each inbound connection's accepting task (and free its slot) when it closes."""
        self._peerstore = host.get_peerstore()
        for protocol, handler in get_default_protocols(host).items():
            host.set_stream_handler(protocol, self.guard(handler))
        network = host.get_network()
        accept = network._do_handle_inbound_connection

        async def accept_until_closed(*args: Any) -> None:
            closed = trio.Event()
            _ACCEPTED.set(closed)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on, closed, nursery.cancel_scope)
                await accept(*args)
                nursery.cancel_scope.cancel()

        network._do_handle_inbound_connection = accept_until_closed
        network.register_notifee(_StreamWatch(self))

    @property
    def unadmitted(self) -> int:
        """Connections of peers that have not proven membership (for tests and benches)."""
        return len(self._unadmitted)

    async def wrap(self, secure: Any) -> Metered:
        peer_id = str(secure.get_remote_peer())
        admitted = await trio.to_thread.run_sync(self.is_member, peer_id)
        if not admitted and (len(self._unadmitted) >= MAX_UNADMITTED
                             or any(e.peer_id == peer_id for e in self._unadmitted)):
            log.info("refusing a connection from %s: too many unproven connections",
                     short_id(peer_id))
            await secure.close()
            raise HandshakeFailure("too many connections from peers that are not members")
        entry = _Entry(peer_id, secure, admitted)
        self._entries.add(entry)
        if not admitted:
            self._unadmit(entry)
        return Metered(secure, self, entry)

    def _unadmit(self, entry: _Entry) -> None:
        self._unadmitted.add(entry)
        self._sweep.set()

    def forget(self, entry: _Entry) -> None:
        """The connection ended: nothing of an unadmitted peer is kept (libp2p's peerstore
        would keep its key, addresses and protocols for good)."""
        self._entries.discard(entry)
        self._unadmitted.discard(entry)
        if entry.closed is not None:
            entry.closed.set()
        if not entry.admitted and self._peerstore is not None:
            with contextlib.suppress(Exception):  # not there (any more)
                self._peerstore.clear_peerdata(ID.from_base58(entry.peer_id))

    async def hang_up(self, entry: _Entry) -> None:
        entry.cut = True
        self.forget(entry)
        with trio.move_on_after(2):
            with contextlib.suppress(Exception):
                await entry.secure.close()

    @staticmethod
    def _entry(stream: Any) -> _Entry | None:
        secured = getattr(stream.muxed_conn, "secured_conn", None)
        return secured.entry if isinstance(secured, Metered) else None

    def _set_admitted(self, entry: _Entry, admitted: bool) -> None:
        if admitted:
            entry.admitted = True
            self._unadmitted.discard(entry)
        elif entry.admitted:  # removed since: unadmitted again, on a fresh deadline
            entry.admitted, entry.received = False, 0
            entry.deadline = trio.current_time() + HANDSHAKE_TIMEOUT
            self._unadmit(entry)

    async def admitted(self, stream: Any, refusal: bytes = b"") -> bool:
        """Is the stream's peer a current member? Checked afresh (a member may have been added
        or removed since the connection opened); a refused stream is reset unanswered, or
        given ``refusal`` (which must say no more than that it is not admitted), gets it and
        is closed: a removed member is told why instead of seeing a bare hang-up."""
        entry = self._entry(stream)
        allowed = entry is not None and await trio.to_thread.run_sync(
            self.is_member, entry.peer_id)
        if entry is not None:
            self._set_admitted(entry, allowed)
        if not allowed:
            await (refuse(stream, refusal) if refusal else reset(stream))
        return allowed

    def guard(self, handler: Handler) -> Handler:
        """``handler`` for admitted connections; others get the stream reset."""
        async def guarded(stream: Any) -> None:
            entry = self._entry(stream)
            if entry is not None and entry.admitted:
                await handler(stream)
            else:
                await reset(stream)
        return guarded

    @contextlib.asynccontextmanager
    async def joining(self, stream: Any) -> AsyncIterator[bool]:
        """Around a join request: yields False (and resets the stream) when this connection
        already has one under way. While it runs the connection is not hung up on; the
        deadline itself is not moved (else a stranger could cycle join streams forever)."""
        entry = self._entry(stream)
        if entry is None or entry.joins:
            await reset(stream)
            yield False
            return
        entry.joins += 1
        try:
            yield True
        finally:
            entry.joins -= 1

    async def stream_opened(self, stream: Any) -> None:
        entry = self._entry(stream)
        if entry is None or entry.admitted or entry.cut:
            return
        entry.streams += 1
        if entry.streams > MAX_UNADMITTED_STREAMS:
            log.info("hanging up on %s: more than %d streams before proving membership",
                     short_id(entry.peer_id), MAX_UNADMITTED_STREAMS)
            await self.hang_up(entry)

    def stream_closed(self, stream: Any) -> None:
        entry = self._entry(stream)
        if entry is not None and not entry.admitted and entry.streams:
            entry.streams -= 1

    async def recheck(self) -> None:
        """After a membership change: a removed member's connections are unadmitted again
        (limited like a stranger's, and hung up on at a fresh deadline)."""
        for entry in [e for e in self._entries if e.admitted]:
            if not await trio.to_thread.run_sync(self.is_member, entry.peer_id):
                self._set_admitted(entry, False)

    async def run(self) -> None:
        """Hang up on connections that did not prove membership in time (asleep while
        there are none: an idle node does nothing)."""
        while True:
            if not self._unadmitted:
                self._sweep = trio.Event()
                await self._sweep.wait()
            await trio.sleep(SWEEP_INTERVAL)
            now = trio.current_time()
            for entry in [e for e in self._unadmitted if e.deadline <= now and not e.joins]:
                if await trio.to_thread.run_sync(self.is_member, entry.peer_id):
                    self._set_admitted(entry, True)  # added meanwhile (joined elsewhere)
                    continue
                log.info("hanging up on %s: no proof of membership within %g s",
                         short_id(entry.peer_id), HANDSHAKE_TIMEOUT)
                await self.hang_up(entry)


class _StreamWatch(INotifee):
    """libp2p tells its notifees of every stream, before the stream's protocol is negotiated:
    the gate counts an unadmitted connection's streams there."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    async def opened_stream(self, network: Any, stream: Any) -> None:
        await self._gate.stream_opened(stream)

    async def closed_stream(self, network: Any, stream: Any) -> None:
        self._gate.stream_closed(stream)

    async def connected(self, network: Any, conn: Any) -> None:
        return None

    async def disconnected(self, network: Any, conn: Any) -> None:
        return None

    async def listen(self, network: Any, multiaddr: Any) -> None:
        return None

    async def listen_close(self, network: Any, multiaddr: Any) -> None:
        return None


def accepting_elsewhere() -> None:
    """The current task secures a connection that arrived *inside* another connection (a
    relayed one, in the relay's stop stream): its end must not end that other connection's
    accepting task (which would hang up on the relay)."""
    _ACCEPTED.set(None)


async def _cancel_on(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def reset(stream: Any) -> None:
    """End a stream unanswered (best effort: the peer may be gone)."""
    with trio.move_on_after(2):
        with contextlib.suppress(Exception):
            await stream.reset()


async def refuse(stream: Any, message: bytes) -> None:
    """Write ``message`` and close the stream (best effort). Not a reset: yamux drops what the
    peer has not read yet when a reset arrives."""
    with trio.move_on_after(2):
        with contextlib.suppress(Exception):
            await stream.write(message)
            await stream.close()
