"""The running node's state, told to other processes on this profile through the peer book.

``bullpen status`` and ``bullpen member list`` run in processes of their own: they read what
the node publishes (where it listens, each peer's link) with ``PeerBook.publish``. The node
publishes when its state changed (``Node._state_dirty``) and at least every
:data:`~.peers.HEARTBEAT` (a state older than a few heartbeats means the node is gone), and
reads back the book there, so a ``bullpen peer add`` of another process reaches it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import trio

from . import peers
from .peers import PeerState

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("bullpen.sync")

CHECK_INTERVAL = 0.25  # how often a changed state is looked for


class StatePublisher:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def run(self) -> None:
        node = self.node
        last = 0.0
        while True:
            await trio.sleep(CHECK_INTERVAL)
            if node._state_dirty or time.monotonic() - last > peers.HEARTBEAT:
                node._state_dirty = False
                last = time.monotonic()
                states = node.peer_states()
                try:
                    await trio.to_thread.run_sync(self._publish, states)
                except Exception as exc:
                    log.warning("could not record peer state: %s", exc)

    def _publish(self, states: list[PeerState]) -> None:
        node = self.node
        node.book.publish(node.listen_addrs, states)
        node.book.save_seen([s for s in states if s.connected])
        # ``bullpen peer add`` while we run: a new peer, or a new address of a known one.
        mine = {s.peer_id: s.addr_times for s in states}
        news = [s for p, s in node.book.known().items()
                if any(at > mine.get(p, {}).get(a, -1.0) for a, at in s.addr_times.items())]
        if news:
            node.submit(node.reach.learn_checked, news)

    def save_final(self) -> None:
        """The node stops: remember when each peer was last seen, and publish nothing."""
        node = self.node
        try:
            states = node.peer_states()
            for s in states:
                s.connected = False
            node.book.save_seen([s for s in states if s.last_seen])
            node.book.unpublish()
        except Exception as exc:
            log.warning("could not record peer state: %s", exc)
