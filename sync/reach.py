"""Whom the node keeps connected, where it dials them, and what it tells teammates about it.

* **Only members.** The node remembers and redials only peers the policy allows (current
  members); a stranger who opened a stream, or a removed member, is never added, and is pruned
  from memory and from the peers table when the membership changes. Each dial checks again.
* **The newest address first.** Addresses carry the time they were last confirmed
  (``addresses.merge_times``): a ``bullpen peer add`` (read from the table as soon as another
  process writes to the store), the addresses a peer advertises in its hello, and what
  teammates report (:class:`Addrs`) are all merged, so an older report never overwrites a
  newer one. A peer with a new address is dialled at once (its redial loop is woken), trying
  addresses newest first.
* **Teammates tell each other.** When a peer's addresses change materially (a new address, or a
  different newest one), the node tells every other connected teammate, who does the same; each
  new link starts with the whole book. So a member back on a new address, who reaches any one
  member, is found by all within a round trip or two. Guests (customers) are told nothing of
  it, and what they report is ignored.
* **Dialing** (one address at a time, newest first) and redialing with backoff are
  :class:`~.dialer.Dialer`'s; this module tells it whom to keep connected and when a peer's
  addresses changed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import trio

from .addresses import merge_times
from .messages import MAX_REACH_PEERS, Addrs
from .peers import PeerState

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

log = logging.getLogger("bullpen.sync")

TEAMMATES = ("manager", "rep")  # roles that share where they reached each other


class Reach:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.peers: dict[str, PeerState] = {}  # remembered members
        self._teammates: set[str] = set()  # remembered managers and reps (not guests)

    # ----- the address book ----------------------------------------------------------------

    def learn(self, peer_id: str, times: dict[str, float], name: str = "", *,
              teammate: bool, source: Link | None = None, persist: bool = True) -> bool:
        """Merge what is known of an allowed peer (the caller checked the policy) and keep it
        connected; when its addresses changed materially, dial it now, remember that in the
        table (unless it came from there) and, for a ``teammate`` (not a guest), tell the
        other teammates. Returns whether they changed."""
        if peer_id == self.node.peer_id:
            return False
        known = self.peers.get(peer_id)
        if known is None:
            known = self.peers[peer_id] = PeerState(peer_id)
        if teammate:
            self._teammates.add(peer_id)
        before = known.addrs
        known.set_times(merge_times(known.addr_times, times))
        known.name = name or known.name
        changed = known.addrs != before
        if changed:
            self.node._state_dirty = True
            self.node.dialer.wake(peer_id)
            if teammate:
                self._tell(peer_id, source)
            if persist and self.node.publish:
                self.node._nursery_start(self._record, self.node.book.remember, peer_id,
                                         dict(known.addr_times), known.name)
        if self.node.redial:
            self.node.dialer.keep_connected(peer_id)
        return changed

    def forget(self, peer_id: str) -> None:
        self._teammates.discard(peer_id)
        if self.peers.pop(peer_id, None) is not None:
            self.node._state_dirty = True
            self.node.dialer.wake(peer_id)

    async def _record(self, fn: Any, *args: Any) -> None:
        """Write to the peers table; a failure (a busy or damaged store) is logged, never the
        end of the node."""
        try:
            await trio.to_thread.run_sync(fn, *args)
        except Exception as exc:
            log.warning("could not record peers: %s", exc)

    def _roles(self, peer_ids: list[str]) -> dict[str, str | None]:
        """Each allowed peer's role (None: not allowed; "" : allowed without a role yet, as
        the inviter a newcomer joins through). Worker thread: reads the membership."""
        policy = self.node.policy
        return {p: (policy.role(p) or "") if policy.is_allowed(p) else None for p in peer_ids}

    async def learn_checked(self, found: list[PeerState], stored: bool = True) -> None:
        """Peers from the table (``peer add``), memory or mDNS (not ``stored``): learn the
        members, forget the others (pruned from the table too)."""
        roles = await trio.to_thread.run_sync(self._roles, [s.peer_id for s in found])
        gone = []
        for state in found:
            role = roles[state.peer_id]
            if role is None:
                gone.append(state.peer_id)
                self.forget(state.peer_id)
                continue
            if role not in TEAMMATES:
                self._teammates.discard(state.peer_id)
            self.learn(state.peer_id, state.addr_times, state.name,
                       teammate=role in TEAMMATES, persist=not stored)
            known = self.peers[state.peer_id]
            known.last_seen = known.last_seen or state.last_seen
        if gone and stored and self.node.publish:
            await self._record(self.node.book.forget, gone)

    async def prune(self) -> None:
        """After a membership change: forget remembered peers that are no longer members."""
        await self.learn_checked(list(self.peers.values()))

    # ----- telling teammates ---------------------------------------------------------------

    def opened(self, link: Link, changed: bool) -> None:
        """A new link (its hello ``changed`` what we knew of the peer's addresses)."""
        self.node._nursery_start(self._opened, link, changed)

    async def _opened(self, link: Link, changed: bool) -> None:
        """Only with a teammate (not a guest): tell it our whole book (it may have missed
        every change), and the others where it is now."""
        role = await trio.to_thread.run_sync(self.node.policy.role, link.peer_id)
        link.teammate = role in TEAMMATES
        if not link.teammate:
            return
        self._teammates.add(link.peer_id)
        book = {p: self.peers[p].addr_times for p in self._teammates
                if p != link.peer_id and p in self.peers and self.peers[p].addr_times}
        if book:
            link.send(Addrs(dict(list(book.items())[:MAX_REACH_PEERS])))
        if changed:
            self._tell(link.peer_id, link)

    def _tell(self, peer_id: str, source: Link | None) -> None:
        """Tell every connected teammate but ``source`` and ``peer_id`` itself where
        ``peer_id`` is."""
        entry = Addrs({peer_id: dict(self.peers[peer_id].addr_times)})
        for link in list(self.node.links.values()):
            if link is not source and link.teammate and link.peer_id != peer_id:
                link.send(entry)

    def heard(self, link: Link, book: dict[str, dict[str, float]]) -> None:
        """A teammate's report of where it reached other teammates (a guest's is ignored)."""
        if link.teammate:
            self.node._nursery_start(self._heard, link, book)

    async def _heard(self, link: Link, book: dict[str, dict[str, float]]) -> None:
        roles = await trio.to_thread.run_sync(
            self._roles, [p for p in book if p not in (self.node.peer_id, link.peer_id)])
        for peer_id, role in roles.items():
            if role in TEAMMATES:
                self.learn(peer_id, book[peer_id], teammate=True, source=link)

    def states(self) -> list[PeerState]:
        """Remembered members, with the live state of their links."""
        out = []
        now = time.time()
        for peer_id, known in list(self.peers.items()):
            link = self.node.links.get(peer_id)
            state = PeerState(peer_id, known.name, list(known.addrs), link is not None,
                              now if link is not None else known.last_seen,
                              link.session.behind if link is not None else None,
                              known.bytes_in + (link.bytes_in if link else 0),
                              known.bytes_out + (link.bytes_out if link else 0),
                              dict(link.session.blocked) if link is not None else {},
                              dict(link.held_by_peer) if link is not None else {},
                              dict(known.addr_times), known.dials)
            out.append(state)
        return out

