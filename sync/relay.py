"""Teammates reach each other through a member that relays: circuit relay v2, members only.

A member behind a NAT or a hotel firewall cannot be dialled, but it can dial out. A member that
others *can* dial (``bullpen serve --relay`` on a small always-on machine, or a profile marked
with ``bullpen relay on``, such as an office PC running the app) offers circuit relay v2
(libp2p's ``/libp2p/circuit/relay/0.2.0/hop``): the unreachable member keeps a *reservation* on
it (``relay_client.py``) and is then reachable at
``/p2p/RELAY/p2p-circuit/p2p/MEMBER``; a teammate who dials that address asks the relay for a
*circuit*, the relay opens a ``stop`` stream to the member, and both ends run a full Noise
handshake and the usual sync session over it. The relay forwards encrypted bytes only: it
learns who talks to whom and how much, never what.

Who may use a relay, and why:

* **Managers and reps only**, checked against the membership log on every request (the
  connection is first admitted by the :class:`~.gate.Gate`: a stranger's hop stream is reset
  unanswered). A reservation or a circuit is refused to a *guest* (a customer in a deal room)
  as it is to a stranger: a guest syncs with members it can dial, and nothing a guest needs
  requires reaching a member behind a NAT through another member's machine; lending guests the
  relay would let one customer use the team's machines to probe who is online.
  Both ends of a circuit must be current teammates, so a reservation left by a member who was
  removed since is useless.
* **A reservation is for oneself**: the request's peer field, when present, must be the
  connection's proven peer id (py-libp2p 0.8.1 would reserve for whichever id it names).
* **Bounded** (``relay_limits.py``): reservations, circuits open at once in all and per peer,
  bytes per circuit, seconds per circuit (enforced here even for an idle circuit: the library
  checks the duration only as data flows).
* **No relaying over a relay**: libp2p refuses hop requests that arrive over a relayed
  connection.

The destination side (every node): a ``stop`` stream is accepted only on a connection the gate
admitted (the relay must be a member); the relayed connection is then secured by the gated
Noise like any other, so a stranger at its far end is limited and hung up on as usual.

A relay also tells its teammates where the members holding a reservation are reachable (their
relayed address joins the member address exchange of ``reach.py``), so a teammate who never
met them finds them. Two teammates on a relayed link then try to go direct (hole punching,
``relay_punch.py``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import trio
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import STOP_PROTOCOL_ID as STOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.relay.circuit_v2.resources import RelayLimits as LibLimits

from .gate import accepting_elsewhere, reset
from .peers import short_id
from .reach import TEAMMATES  # the roles a relay serves (see above)
from .relay_client import RelayClient, circuit_addr, close_quietly, is_circuit, relayed_by
from .relay_limits import CircuitCount, RelayLimits
from .relay_punch import HolePunching

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

__all__ = ["HOP_PROTOCOL", "STOP_PROTOCOL", "RelayLimits", "Relays", "circuit_addr",
           "is_circuit"]

log = logging.getLogger("bullpen.sync")


class Relays:
    """The node's relaying: as a destination (every node), as a client keeping reservations
    (nodes that advertise themselves), and as a relay (``serve``: ``bullpen serve --relay``)."""

    def __init__(self, node: Node, *, serve: bool, limits: RelayLimits | None = None) -> None:
        self.node = node
        self.serve = serve
        self.limits = limits or RelayLimits()
        self.count = CircuitCount(self.limits)
        self.client = RelayClient(node, self.is_teammate)
        self._hop: _MembersOnlyHop | None = None
        self.punching = HolePunching()

    def install(self, host: Any) -> None:
        """Register the relay protocols on the running host, behind the node's gate."""
        guard = self.node.gate.guard
        if self.serve:
            self._hop = _MembersOnlyHop(host, self)
            host.set_stream_handler(HOP_PROTOCOL, guard(self._hop._handle_hop_stream))
        protocol = self._hop or CircuitV2Protocol(host, allow_hop=False)

        async def stop(stream: Any) -> None:
            if not await self.is_teammate(str(stream.muxed_conn.peer_id)):
                await reset(stream)  # a guest relays nothing (and a stranger never gets here)
                return
            accepting_elsewhere()  # the relayed connection lives inside the relay's connection
            await protocol._handle_stop_stream(stream)

        host.set_stream_handler(STOP_PROTOCOL, guard(stop))

    async def run(self) -> None:
        """While the node runs: try to move relayed teammates onto direct connections (hole
        punching, ``relay_punch.py``), on nodes that advertise themselves."""
        if self.node.advertise:
            await self.punching.run(self.node.host, self.node.gate.guard, self.is_teammate)

    def is_teammate_now(self, peer_id: str) -> bool:
        """Blocking (reads the membership): is ``peer_id`` a current manager or rep?"""
        policy = self.node.policy
        return policy.is_allowed(peer_id) and policy.role(peer_id) in TEAMMATES

    async def is_teammate(self, peer_id: str) -> bool:
        return await trio.to_thread.run_sync(self.is_teammate_now, peer_id)

    def addrs(self) -> list[str]:
        """Our relayed addresses (one per relay holding our reservation)."""
        return self.client.addrs()

    def opened(self, link: Link) -> None:
        """A sync link is up: if its peer relays for us, keep a reservation with it; if it is
        relayed, try to make it direct."""
        via = relayed_by(link.stream, self.node.peer_id)
        log.info("link to %s is %s", link.short, "direct" if via is None
                 else f"relayed by {short_id(via)}" if via else "relayed")
        if not self.node.advertise:
            return
        if via is None:
            self.client.opened(link)  # (a relayed connection is never relayed again)
        else:
            self.node._nursery_start(self.punching.punch, link.peer_id)

    async def dial(self, peer_id: str, addr: str) -> None:
        """Open a relayed connection to ``peer_id`` at its relayed address ``addr``."""
        await self.client.dial(peer_id, addr)

    def reserved(self, peer_id: str) -> None:
        """(Relay side) a teammate holds a reservation here: tell the other teammates where
        it is reachable now."""
        self.node.reach.learn(peer_id, {circuit_addr(self.node.peer_id, peer_id): time.time()},
                              teammate=True)


class _Counted:
    """The source's stream of a circuit, counting the bytes read from and written to it (all
    that the circuit carries, both ways); everything else is the stream's own."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.carried = 0

    async def read(self, n: int | None = None) -> bytes:
        data = await self._stream.read(n)
        self.carried += len(data)
        return data

    async def write(self, data: bytes) -> None:
        self.carried += len(data)
        await self._stream.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _MembersOnlyHop(CircuitV2Protocol):
    """libp2p's relay (hop) protocol, serving teammates only, within :class:`RelayLimits`."""

    def __init__(self, host: Any, relays: Relays) -> None:
        limits = relays.limits
        super().__init__(host, allow_hop=True, limits=LibLimits(
            duration=limits.circuit_seconds, data=limits.circuit_bytes,
            max_circuit_conns=limits.circuits_per_peer, max_reservations=limits.reservations,
            reservation_ttl=limits.reservation_seconds))
        self.relays = relays

    async def _refuse(self, stream: Any, code: StatusCode, why: str) -> None:
        log.info("relay: refused %s: %s", short_id(str(stream.muxed_conn.peer_id)), why)
        await self._send_status(stream, code, why)
        await close_quietly(stream)

    async def _handle_reserve(self, stream: Any, msg: HopMessage) -> None:
        remote = stream.muxed_conn.peer_id
        if msg.HasField("peer") and msg.peer.id and msg.peer.id != remote.to_bytes():
            await self._refuse(stream, StatusCode.PERMISSION_DENIED,
                               "a reservation is for the requesting peer only")
            return
        if not await self.relays.is_teammate(str(remote)):
            await self._refuse(stream, StatusCode.PERMISSION_DENIED,
                               "this relay serves the team's managers and reps only")
            return
        await super()._handle_reserve(stream, msg)
        if self.resource_manager.get_reservation(remote) is not None:
            log.info("relay: reservation for %s", short_id(str(remote)))
            self.relays.reserved(str(remote))

    async def _handle_connect(self, stream: Any, msg: HopMessage) -> None:
        source = str(stream.muxed_conn.peer_id)
        try:
            dest_id = ID(msg.peer.id)
            dest = dest_id.to_base58()
        except Exception:
            await self._refuse(stream, StatusCode.MALFORMED_MESSAGE, "no destination peer")
            return
        if not (await self.relays.is_teammate(source) and await self.relays.is_teammate(dest)):
            await self._refuse(stream, StatusCode.PERMISSION_DENIED,
                               "circuits join the team's managers and reps only")
            return
        count = self.relays.count
        why = count.refusal(source, dest)
        if why is not None:
            await self._refuse(stream, StatusCode.RESOURCE_LIMIT_EXCEEDED, why)
            return
        counted = _Counted(stream)
        count.opened(source, dest)
        log.info("relay: circuit %s -> %s opening", short_id(source), short_id(dest))
        started = trio.current_time()
        try:
            with trio.move_on_after(self.relays.limits.circuit_seconds):
                await super()._handle_connect(counted, msg)
        finally:
            count.closed(source, dest, counted.carried)
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                ends = self._active_relays.get(dest_id)
                for end in (stream, *(ends[1:] if ends and ends[0] is counted else ())):
                    with contextlib.suppress(Exception):
                        await end.reset()
            log.info("relay: circuit %s -> %s closed after %.1f s, %d bytes relayed "
                     "(%d circuits, %d bytes since start)", short_id(source), short_id(dest),
                     trio.current_time() - started, counted.carried, count.served,
                     count.bytes_relayed)
