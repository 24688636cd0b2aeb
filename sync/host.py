"""The node's libp2p host: how it is built and how it listens.

This is the one place that decides how the node can be reached: the key (the profile's
identity, so the peer id *is* the member key), the security (Noise only, strangers limited: see
``gate.py``), the transports, the connection limits and LAN discovery (mDNS). A new way to be
reached (a circuit relay, another transport) is added to :func:`make_host`; the protocols the
node speaks are registered in :func:`listening`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from multiaddr import Multiaddr

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("bullpen.sync")

StreamHandler = Callable[[Any], Awaitable[None]]


def make_host(node: Node) -> Any:
    """A libp2p host for ``node`` (not listening yet): its identity's key, Noise through the
    node's gate, one connection per peer, and mDNS when the node asks for it and the machine
    allows multicast (else it syncs with known peers only)."""
    key_pair = create_new_key_pair(node.local.identity.seed)
    options: dict[str, Any] = {
        "key_pair": key_pair,
        "connection_config": ConnectionConfig(max_connections_per_peer=1),
        "sec_opt": node.gate.security_options(key_pair),  # Noise only, strangers limited
    }
    if node.mdns:
        try:
            from .discovery import attach_mdns

            host = new_host(enable_mDNS=True, **options)
            attach_mdns(node, host)
            return host
        except Exception as exc:  # no multicast here: sync with known peers only
            log.warning("mDNS discovery unavailable (%s); syncing with known peers only", exc)
    return new_host(**options)


@asynccontextmanager
async def listening(node: Node, host: Any, listen: Sequence[str],
                    handlers: Mapping[TProtocol, StreamHandler]) -> AsyncIterator[list[str]]:
    """Run ``host`` listening on ``listen`` with ``handlers`` for the node's protocols and the
    node's gate watching every connection; yields the addresses it is bound to (maybe
    wildcards: see ``addresses``)."""
    async with host.run(listen_addrs=[Multiaddr(a) for a in listen]):
        for protocol, handler in handlers.items():
            host.set_stream_handler(protocol, handler)
        node.gate.install(host)
        node.relays.install(host)
        yield [str(a) for a in host.get_addrs()]
