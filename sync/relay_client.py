"""A member's side of relaying (see ``relay.py``): reservations it keeps, circuits it dials.

* **Reservations.** When a sync link to a teammate opens, the node asks that teammate for a
  circuit relay v2 reservation; a teammate that does not relay says so at once (the protocol is
  not supported) and is not asked again while connected. The node keeps reservations with at
  most :data:`MAX_RELAYS` relays, renews each at :data:`RENEW_AT` of its lifetime, and drops it
  with the link (a relay holds a reservation only while the member stays connected). Each kept
  reservation gives the node a relayed address ``/p2p/RELAY/p2p-circuit/p2p/SELF``: it goes in
  every later hello, and the relay itself tells its teammates (``Relays.reserved``).
* **Circuits.** Dialling a relayed address opens (or reuses) a connection to the relay, sends
  a hop ``CONNECT`` for the destination, and upgrades the resulting stream like any outbound
  connection (Noise to the destination's own key, yamux), so the sync session runs over it
  unchanged. A relay given without a transport address (``/p2p/RELAY/...``) is reached where
  the node last reached it.

Reachability is not detected yet (AutoNAT): every node that advertises itself keeps
reservations when a teammate relays, which costs the relay a table entry per member.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio
from libp2p.connection_types import ConnectionType
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.relay.circuit_v2.utils import read_delimited_msg, write_delimited_msg
from multiaddr import Multiaddr

from .gate import reset
from .peers import short_id

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

log = logging.getLogger("bullpen.sync")

CIRCUIT = "/p2p-circuit"
MAX_RELAYS = 2  # relays a member keeps a reservation with at once
RENEW_AT = 0.8  # of a reservation's lifetime
RETRY = 10.0  # seconds before asking a relay again after a failed (not refused) request
TIMEOUT = 10.0  # one request to a relay


class RelayError(ConnectionError):
    """A relay could not be used; the message is one plain line."""


def is_circuit(addr: str) -> bool:
    return CIRCUIT in addr


def circuit_addr(relay_id: str, peer_id: str) -> str:
    return f"/p2p/{relay_id}{CIRCUIT}/p2p/{peer_id}"


def split_circuit(addr: str) -> tuple[str, str, str]:
    """(the relay's transport address or "", relay id, destination id) of
    ``[TRANSPORT]/p2p/RELAY/p2p-circuit/p2p/DEST``."""
    head, sep, tail = addr.partition(CIRCUIT)
    relay_at, _, relay_id = head.rpartition("/p2p/")
    if not sep or not relay_id or not tail.startswith("/p2p/") or "/" in tail[5:]:
        raise RelayError(f"{addr!r} is not a relayed address (/p2p/RELAY/p2p-circuit/p2p/PEER)")
    return relay_at, relay_id, tail[5:]


def relayed_by(stream: Any, own_id: str) -> str | None:
    """When ``stream`` runs over a relayed connection, the relay's peer id ("" when we are
    the destination: libp2p 0.8.1 names us in place of the relay there); None when direct."""
    try:
        addrs = [str(a) for a in stream.muxed_conn.get_transport_addresses() or []]
    except Exception:
        return None
    for addr in addrs:
        if is_circuit(addr):
            with contextlib.suppress(RelayError):
                relay = split_circuit(addr)[1]
                return "" if relay == own_id else relay
    return None


def status_name(code: int) -> str:
    """A relay status as words, for one-line errors."""
    try:
        return StatusCode(code).name.lower().replace("_", " ")
    except ValueError:
        return f"status {code}"


class RelayClient:
    def __init__(self, node: Node, is_teammate: Callable[[str], Awaitable[bool]]) -> None:
        self.node = node
        self.is_teammate = is_teammate
        self.reserved: dict[str, float] = {}  # relay id -> when our reservation expires
        self._keeping: set[str] = set()

    def addrs(self) -> list[str]:
        return [circuit_addr(r, self.node.peer_id) for r in self.reserved]

    def opened(self, link: Link) -> None:
        """A direct link opened: ask its peer for a reservation unless we hold enough (peers
        being asked do not count: most are no relays)."""
        if link.peer_id not in self._keeping and len(self.reserved) < MAX_RELAYS:
            self.node._nursery_start(self._keep, link)

    async def _keep(self, link: Link) -> None:
        """Hold a reservation with ``link``'s peer while the link lasts, if it relays for us."""
        relay = link.peer_id
        if relay in self._keeping or not await self.is_teammate(relay):
            return
        self._keeping.add(relay)
        try:
            while not link.closed.is_set():
                if relay not in self.reserved and len(self.reserved) >= MAX_RELAYS:
                    return  # others answered first
                try:
                    lifetime = await self._reserve(relay)
                except RelayError as exc:  # refused, or not a relay: not asked again
                    log.debug("no relay at %s: %s", short_id(relay), exc)
                    return
                except Exception as exc:
                    log.info("reservation with relay %s failed: %s", short_id(relay), exc)
                    self.reserved.pop(relay, None)
                    lifetime = RETRY / RENEW_AT
                else:
                    if relay not in self.reserved:
                        log.info("reachable through relay %s", short_id(relay))
                    self.reserved[relay] = time.time() + lifetime
                    self.node._state_dirty = True
                with trio.move_on_after(lifetime * RENEW_AT):
                    await link.closed.wait()
        finally:
            self._keeping.discard(relay)
            if self.reserved.pop(relay, None) is not None:
                self.node._state_dirty = True

    async def _reserve(self, relay: str) -> float:
        """Ask ``relay`` for a reservation; returns its lifetime in seconds. Raises
        :class:`RelayError` when the peer does not relay or refuses us."""
        try:
            stream = await self.node.host.new_stream(ID.from_base58(relay), [HOP_PROTOCOL])
        except Exception as exc:
            raise RelayError(f"{short_id(relay)} does not relay ({exc})") from None
        try:
            with trio.fail_after(TIMEOUT):
                await write_delimited_msg(stream, HopMessage(type=HopMessage.RESERVE))
                reply = await read_delimited_msg(stream, HopMessage)
        finally:
            await close_quietly(stream)
        if reply.status != StatusCode.OK:
            raise RelayError(f"relay {short_id(relay)} refused a reservation: "
                             f"{status_name(reply.status)}")
        expires = reply.reservation.expire if reply.HasField("reservation") else 0
        return max(1.0, expires - time.time())

    async def dial(self, peer_id: str, addr: str) -> None:
        """Open a relayed connection to ``peer_id`` at ``addr`` (then streams to it run over
        it). Raises :class:`RelayError` with one line."""
        relay_at, relay, dest = split_circuit(addr)
        if dest != peer_id:
            raise RelayError(f"{addr} is not an address of {short_id(peer_id)}")
        if relay in (self.node.peer_id, peer_id):
            raise RelayError("a circuit through oneself")
        if not await self.is_teammate(relay):  # a hop request names whom we want to reach
            raise RelayError(f"{short_id(relay)} is no teammate: no circuit through it")
        host = self.node.host
        relay_pid, dest_pid = ID.from_base58(relay), ID.from_base58(dest)
        await self._reach_relay(relay_pid, relay_at)
        try:
            stream = await host.new_stream(relay_pid, [HOP_PROTOCOL])
        except Exception as exc:
            raise RelayError(f"{short_id(relay)} does not relay ({_one_line(exc)})") from None
        try:
            with trio.fail_after(TIMEOUT):
                await write_delimited_msg(stream, HopMessage(
                    type=HopMessage.CONNECT, peer=CircuitPeer(id=dest_pid.to_bytes())))
                reply = await read_delimited_msg(stream, HopMessage)
        except BaseException:
            await reset(stream)
            raise
        if reply.status != StatusCode.OK:
            await reset(stream)
            raise RelayError(f"relay {short_id(relay)} refused a circuit to "
                             f"{short_id(dest)}: {status_name(reply.status)}")
        raw = RawConnection(stream=stream, initiator=True,
                            connection_type=ConnectionType.RELAYED,
                            addresses=[Multiaddr(circuit_addr(relay, dest))])
        await host.upgrade_outbound_connection(raw, dest_pid)

    async def _reach_relay(self, relay: ID, relay_at: str) -> None:
        """Be connected to ``relay``: at ``relay_at`` if given, else where we last did."""
        host = self.node.host
        if host.get_network().get_connections(relay):
            return
        known = self.node.peers.get(relay.to_base58())
        candidates = [relay_at] if relay_at else [
            a for a in (known.addrs if known else []) if not is_circuit(a)]
        errors = []
        for at in candidates:
            try:
                target = Multiaddr(at)
                if "/p2p/" in at:
                    target = target.decapsulate(Multiaddr(f"/p2p/{relay.to_base58()}"))
                with trio.fail_after(TIMEOUT):
                    await host.connect(PeerInfo(relay, [target]))
                return
            except Exception as exc:
                errors.append(f"{at}: {_one_line(exc)}")
        raise RelayError(f"relay {short_id(relay.to_base58())} is not reachable"
                         + (f" ({'; '.join(errors)})" if errors else " (no known address)"))


async def close_quietly(stream: Any) -> None:
    """Close a stream, best effort (the peer may be gone)."""
    with trio.move_on_after(2), contextlib.suppress(Exception):
        await stream.close()


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc) or type(exc).__name__).split())[:200]
