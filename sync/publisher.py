"""The running node's state, told to other processes on this profile through the peer book.

``bullpen status`` and ``bullpen member list`` run in processes of their own: they read what
the node publishes (where it listens, each peer's link) with ``PeerBook.publish``. The node
publishes soon after its state changed (:meth:`StatePublisher.changed`; a burst of changes is
published once per :data:`MIN_GAP`) and otherwise every :data:`~.peers.HEARTBEAT`, which says
it still runs where the reader cannot ask the system whether its process lives.

A ``bullpen peer add`` of another process reaches the node through the book: it is read again
when another process wrote to the store (:meth:`StatePublisher.read_book`, see
``store_watch``) and at each publication.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from .peers import HEARTBEAT, PeerState

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("bullpen.sync")

MIN_GAP = 0.25  # seconds between two publications while the state keeps changing


class StatePublisher:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._changed = trio.Event()
        self._changed.set()  # publish once started

    @property
    def pending(self) -> bool:
        """A change is waiting to be published."""
        return self._changed.is_set()

    def changed(self) -> None:
        """The node's state changed (a link opened, closed or progressed; a peer learnt)."""
        self._changed.set()

    async def run(self) -> None:
        while True:
            with trio.move_on_after(HEARTBEAT):
                await self._changed.wait()
            self._changed = trio.Event()
            states = self.node.peer_states()
            try:
                await trio.to_thread.run_sync(self._publish, states)
            except Exception as exc:
                log.warning("could not record peer state: %s", exc)
            await trio.sleep(MIN_GAP)

    def _publish(self, states: list[PeerState]) -> None:
        node = self.node
        node.book.publish(node.listen_addrs, states)
        node.book.save_seen([s for s in states if s.connected])
        self._learn_news(states)

    async def read_book(self) -> None:
        """Another process wrote to the store: a ``peer add`` may be among its writes."""
        states = self.node.peer_states()
        try:
            await trio.to_thread.run_sync(self._learn_news, states)
        except Exception as exc:
            log.warning("could not read the peers table: %s", exc)

    def _learn_news(self, states: list[PeerState]) -> None:
        """Have the node learn peers of the book it does not know as ``states`` say: a new
        peer, or a new address of a known one (worker thread)."""
        node = self.node
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
