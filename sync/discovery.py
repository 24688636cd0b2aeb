"""LAN discovery with libp2p's mDNS, feeding found peers to the node's redial loops.

Discovery only proposes addresses: a found peer that is not a member is ignored, and a member is
dialled like any other and must pass the hello before anything syncs. Callbacks
arrive on zeroconf's thread, so they are handed to trio with ``run_sync_soon``. Where the
machine has no multicast, creating the host with mDNS fails and the node carries on without it
(see ``host.make_host``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .addresses import dialable
from .peers import PeerState

if TYPE_CHECKING:
    from .node import Node


log = logging.getLogger("bullpen.sync")


def attach_mdns(node: Node, host: Any) -> None:
    from libp2p.discovery.events.peerDiscovery import peerDiscovery

    _announce_dialable(host)

    def found(info: Any) -> None:  # zeroconf's thread
        peer_id = str(info.peer_id)
        now = time.time()
        times = {f"{a}/p2p/{peer_id}" if "/p2p/" not in str(a) else str(a): now
                 for a in info.addrs}
        state = PeerState(peer_id)
        state.set_times(times)
        node.submit(node.reach.learn_checked, [state], False)  # members only

    peerDiscovery.register_peer_discovered_handler(found)
    node._on_stop.append(lambda: peerDiscovery.unregister_peer_discovered_handler(found))


def _announce_dialable(host: Any) -> None:
    """libp2p's mDNS announces the host's transport addresses as they are; for a wildcard
    listener that is 0.0.0.0, which a teammate's machine would dial as itself. Announce the
    addresses others can dial instead (a private hook of libp2p 0.8: without it, discovery
    still finds peers whose listeners are bound to a concrete address)."""
    broadcaster = getattr(getattr(host, "mDNS", None), "broadcaster", None)
    if broadcaster is None or not hasattr(broadcaster, "_resolve_host_addrs"):
        log.info("mDNS announces the listen addresses as bound (libp2p changed)")
        return

    def resolved() -> list[str]:
        bound = [str(a).split("/p2p/")[0] for a in host.get_transport_addrs()]
        return dialable(bound)

    broadcaster._resolve_host_addrs = resolved
