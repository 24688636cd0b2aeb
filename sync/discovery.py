"""LAN discovery with libp2p's mDNS, feeding found peers to the node's redial loops.

Discovery only proposes addresses: a found peer is dialled like any other and must pass the
hello (same workspace, allowed by the policy) before anything syncs or is remembered. Callbacks
arrive on zeroconf's thread, so they are handed to trio with ``run_sync_soon``. Where the
machine has no multicast, creating the host with mDNS fails and the node carries on without it
(see ``Node._make_host``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .peers import PeerState

if TYPE_CHECKING:
    from .node import Node


def attach_mdns(node: Node) -> None:
    from libp2p.discovery.events.peerDiscovery import peerDiscovery

    def found(info: Any) -> None:  # zeroconf's thread
        peer_id = str(info.peer_id)
        addrs = [f"{a}/p2p/{peer_id}" if "/p2p/" not in str(a) else str(a) for a in info.addrs]
        node._call_soon(node._learn_peer, PeerState(peer_id, addrs=addrs))

    peerDiscovery.register_peer_discovered_handler(found)
    node._on_stop.append(lambda: peerDiscovery.unregister_peer_discovered_handler(found))
