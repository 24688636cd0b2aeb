"""From relayed to direct: DCUtR hole punching between two teammates behind NATs.

Two members who reach each other only through a relay (``relay.py``) try to open a direct
connection over it with libp2p's DCUtR (``/libp2p/dcutr``): each learns its public address from
what the relay observed (identify), they swap those addresses over the relayed connection, and
both dial at once from their listening ports, so each NAT sees an outgoing connection and lets
the other's in (TCP simultaneous open). It works through NATs that keep a socket's mapping
whoever it talks to (endpoint-independent mapping, as Linux MASQUERADE does when the port is
free); through a symmetric NAT it fails and the pair stays relayed, which still syncs.

Once a direct connection stands, the relayed one is closed at once; the sync link on it ends
and the dialer reopens it over the direct connection (libp2p prefers a direct connection).

Only teammates (managers, reps) are answered: a stranger's stream is reset by the gate, and a
guest never holds a relayed connection (relays refuse guests), so it is refused here as well.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.dcutr import PROTOCOL_ID as DCUTR_PROTOCOL
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from libp2p.tools.anyio_service import background_trio_service
from multiaddr import Multiaddr

from .gate import Handler, reset
from .peers import short_id

log = logging.getLogger("bullpen.sync")

__all__ = ["DCUTR_PROTOCOL", "HolePunching"]

MAX_PUNCH_ADDRS = 8  # a teammate's observed addresses we dial (libp2p takes 20)


def punchable(addr: Multiaddr) -> bool:
    """May we dial ``addr``, an address a teammate says it was seen at? An IP address and a
    port (no DNS name, which could resolve anywhere), never this machine's loopback, a
    link-local, multicast or unspecified address: a modified client could otherwise make us
    connect to a service listening on this machine or beside it. (Private addresses stay:
    two teammates behind one office NAT may punch across it.)"""
    names = [p.name for p in addr.protocols()]
    if len(names) < 2 or names[0] not in ("ip4", "ip6") or names[1] not in ("tcp", "udp"):
        return False
    ip = ipaddress.ip_address(addr.value_for_protocol(names[0]))
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:127.0.0.1 is loopback too
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified)


class _Punching(DCUtRProtocol):
    """libp2p's DCUtR, driven by the node, leaving the relay as soon as the direct connection
    stands: the only stream on a relayed connection is our sync link, which cannot move by
    itself (libp2p waits 60 s for streams to migrate); its end makes the dialer reopen it, over
    the direct one."""

    async def _auto_drive_loop(self) -> None:
        """libp2p looks for relayed connections every 2 s; the node says when one opens
        (:meth:`HolePunching.punch`), so an idle node sleeps."""
        await trio.sleep_forever()

    async def initiate_hole_punch(self, peer_id: ID) -> bool:
        direct = await super().initiate_hole_punch(peer_id)
        if not direct:
            log.info("hole punching to %s failed: staying relayed", short_id(peer_id.to_base58()))
        return direct

    def _decode_observed_addrs(self, addr_bytes: list[bytes]) -> list[Multiaddr]:
        """The peer's observed addresses we will dial: :func:`punchable` ones, a few."""
        found = super()._decode_observed_addrs(addr_bytes[:4 * MAX_PUNCH_ADDRS])
        return [a for a in found if punchable(a)][:MAX_PUNCH_ADDRS]

    def _schedule_relay_close(self, peer_id: ID) -> None:
        log.info("direct connection to %s (hole punched): leaving the relay",
                 short_id(peer_id.to_base58()))
        if self._nursery is not None:
            self._nursery.start_soon(self._close_relayed_conns_after_grace, peer_id, 0.0)


class HolePunching:
    """DCUtR on the node's host: answering teammates, and trying when a relayed link opens."""

    def __init__(self) -> None:
        self._protocol: _Punching | None = None

    async def run(self, host: Any, guard: Callable[[Handler], Handler],
                  is_teammate: Callable[[str], Awaitable[bool]]) -> None:
        """Serve DCUtR on ``host`` until cancelled, answering teammates only."""
        protocol = _Punching(host)

        async def teammates_only(stream: Any) -> None:
            if await is_teammate(str(stream.muxed_conn.peer_id)):
                await protocol._handle_dcutr_stream(stream)
            else:
                await reset(stream)

        async with background_trio_service(protocol):
            await protocol.event_started.wait()
            host.set_stream_handler(DCUTR_PROTOCOL, guard(teammates_only))
            self._protocol = protocol
            try:
                await trio.sleep_forever()
            finally:
                self._protocol = None

    async def punch(self, peer_id: str) -> None:
        """Try to move a relayed teammate onto a direct connection (once per relayed link;
        a failure is logged and the link stays relayed)."""
        if self._protocol is not None:
            await self._protocol.initiate_hole_punch(ID.from_base58(peer_id))
