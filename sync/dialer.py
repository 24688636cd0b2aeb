"""Connecting to peers: one dial (newest address first), and the redial loop with backoff.

* **One address at a time, newest first.** libp2p would try only the first TCP address it ever
  saw for a peer, and would refuse to dial it again for a minute after a failure; so each
  attempt tries up to :data:`DIAL_ADDRS` addresses (the order :class:`~.reach.Reach` keeps),
  one per connection attempt, forgetting the stale ones.
* **Direct first, relayed soon after.** A peer's relayed addresses (``/p2p/RELAY/p2p-circuit/
  ...``, see ``relay.py``; at most :data:`DIAL_RELAYED`, never through this node itself) are
  tried side by side with its direct ones, :data:`RELAY_HEAD_START` seconds after them: a
  private address seen from a hotel does not answer for 10 s, and the first link that opens
  ends the other attempts.
* **Backoff.** A remembered member that is offline, refuses us or drops the session is
  redialled after 1, 2, 4 ... :data:`MAX_BACKOFF` s; only a link that worked (reached sync)
  resets it, never an error. A new address for it (:meth:`Dialer.wake`) ends the wait at once.
* Whom to keep connected is :class:`~.reach.Reach`'s decision (members only); this module only
  carries it out.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from multiaddr import Multiaddr

from .gate import reset
from .link import PROTOCOL_ID
from .peers import PeerState, short_id
from .relay_client import CIRCUIT, is_circuit

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

log = logging.getLogger("bullpen.sync")

DIAL_TIMEOUT = 10.0  # one address
DIAL_ADDRS = 3  # addresses tried per attempt, newest first
DIAL_RELAYED = 2  # relayed addresses tried per attempt, after the direct ones
RELAY_HEAD_START = 1.0  # seconds the direct addresses are tried alone
MAX_BACKOFF = 30.0


class DialError(ConnectionError):
    """A peer could not be reached; the message is one plain line."""


class Dialer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._dialing: set[str] = set()  # peers with a redial loop
        self._wake: dict[str, trio.Event] = {}
        self._attempts: dict[str, trio.CancelScope] = {}  # dials under way, by peer

    def keep_connected(self, peer_id: str) -> None:
        """Start a redial loop for ``peer_id`` unless one runs."""
        if peer_id not in self._dialing and peer_id != self.node.peer_id:
            self._dialing.add(peer_id)
            self.node._nursery_start(self._redial_loop, peer_id)

    def wake(self, peer_id: str) -> None:
        """What we know of ``peer_id`` changed (a new address, forgotten): its redial loop
        stops waiting out its backoff, and an attempt under way starts over with what is
        known now (a private address that times out in 10 s must not hold back the relayed
        one a teammate just told us)."""
        wake = self._wake.get(peer_id)
        if wake is not None:
            wake.set()
        attempt = self._attempts.get(peer_id)
        if attempt is not None:
            attempt.cancel()

    async def _redial_loop(self, peer_id: str) -> None:
        """Keep ``peer_id`` connected while it is a remembered member: redial with
        exponential backoff (capped) while it is offline or refuses us; a new address for it
        wakes the loop at once."""
        reach = self.node.reach
        backoff = 1.0
        try:
            while peer_id in reach.peers:
                wake = self._wake[peer_id] = trio.Event()
                link = self.node.links.get(peer_id)
                if link is not None:
                    await link.closed.wait()
                    if link.synced and not link.reason.startswith(
                            ("protocol violation", "refused", "peer closed")):
                        backoff = 1.0  # it worked: a dropped connection is redialled soon
                        await trio.sleep(random.uniform(0.1, 0.5))
                        continue
                elif not await trio.to_thread.run_sync(self.node.policy.is_allowed, peer_id):
                    reach.forget(peer_id)
                    break
                elif reach.peers.get(peer_id, PeerState(peer_id)).addrs:
                    try:
                        with trio.CancelScope() as self._attempts[peer_id]:  # see wake
                            await self.dial(peer_id, reach.peers[peer_id].addrs)
                        continue  # connected, or new addresses to try at once
                    except DialError as exc:
                        log.debug("redial %s: %s", short_id(peer_id), exc)
                    finally:
                        self._attempts.pop(peer_id, None)
                with trio.move_on_after(backoff * random.uniform(0.8, 1.2)):
                    await wake.wait()
                backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            self._dialing.discard(peer_id)
            self._wake.pop(peer_id, None)

    async def dial_addr(self, addr: str) -> Link:
        """Connect to ``addr`` (``.../p2p/PEERID``) and open a sync session."""
        try:
            peer_id = info_from_p2p_addr(Multiaddr(addr)).peer_id.to_base58()
        except Exception as exc:
            raise DialError(f"{addr!r} is not a peer address ({exc})") from None
        return await self.dial(peer_id, [addr])

    async def dial(self, peer_id: str, addrs: list[str]) -> Link:
        """Open a sync link to ``peer_id``, trying ``addrs`` newest first."""
        if peer_id == self.node.peer_id:
            raise DialError("that address is this node itself")
        existing = self.node.links.get(peer_id)
        if existing is not None:
            return existing
        known = self.node.reach.peers.get(peer_id)
        if known is not None:
            known.dials += 1
            self.node._state_dirty = True
        log.debug("dialing %s", short_id(peer_id))
        errors: list[str] = []
        opened: list[Any] = []
        order = _order(peer_id, addrs, self.node.peer_id)
        direct = [a for a in order if not is_circuit(str(a))]
        relayed = [a for a in order if is_circuit(str(a))]
        try:
            async with trio.open_nursery() as nursery:
                attempt = (peer_id, opened, errors, nursery.cancel_scope)
                if direct or not relayed:
                    nursery.start_soon(self._try, direct or [None], 0.0, *attempt)
                if relayed:
                    nursery.start_soon(self._try, relayed,
                                       RELAY_HEAD_START if direct else 0.0, *attempt)
        except BaseException:  # cancelled (a new address, or shutting down) once opened
            for stream in opened:
                self.node._nursery_start(reset, stream)
            raise
        if not opened:
            raise DialError(f"cannot reach peer {short_id(peer_id)}: " + "; ".join(errors))
        for extra in opened[1:]:  # both opened at the same moment: one link is enough
            self.node._nursery_start(reset, extra)
        return self.node._dialed(opened[0], peer_id)

    async def _try(self, addrs: list[Multiaddr | None], delay: float, peer_id: str,
                   opened: list[Any], errors: list[str], done: trio.CancelScope) -> None:
        """After ``delay``, try ``addrs`` one after the other; the first stream opened (here
        or by the other attempt) ends every attempt."""
        await trio.sleep(delay)
        for addr in addrs:
            try:
                with trio.fail_after(DIAL_TIMEOUT):
                    stream = await self._open(peer_id, addr)
            except trio.TooSlowError:
                errors.append(f"{addr or 'no address'}: did not answer in time")
            except Exception as exc:
                errors.append(f"{addr or 'no address'}: {_one_line(exc)}")
            else:
                opened.append(stream)
                done.cancel()
                return

    async def _open(self, peer_id: str, addr: Multiaddr | None) -> Any:
        host = self.node.host
        pid = ID.from_base58(peer_id)
        if addr is not None and is_circuit(str(addr)):
            await self.node.relays.dial(peer_id, f"{addr}/p2p/{peer_id}")
            return await host.new_stream(pid, [PROTOCOL_ID])
        if addr is not None and not host.get_network().get_connections(pid):
            # libp2p dials only the first address it ever stored for a peer, and refuses to
            # dial a peer again for a minute once all failed (a private cache of libp2p 0.8):
            # one address per attempt, the stale ones forgotten.
            host.get_peerstore().clear_addrs(pid)
            cache = getattr(host.get_network(), "_negative_peer_cache", None)
            if cache is not None:
                cache.evict(peer_id)
        await host.connect(PeerInfo(pid, [addr] if addr is not None else []))
        return await host.new_stream(pid, [PROTOCOL_ID])

    async def connect(self, addr: str) -> None:
        """Open a connection to ``addr`` without starting a sync session (a newcomer must be
        admitted on ``/bullpen/join/1`` before the peer will sync with it)."""
        try:
            info = info_from_p2p_addr(Multiaddr(addr))
            with trio.fail_after(DIAL_TIMEOUT):
                await self.node.host.connect(info)
        except trio.TooSlowError:
            raise DialError(f"{addr} did not answer in time") from None
        except Exception as exc:
            raise DialError(f"cannot reach {addr}: {_one_line(exc)}") from None


def _own(peer_id: str, addrs: list[str]) -> list[Multiaddr]:
    """``addrs`` as transport multiaddrs (without ``/p2p/PEERID``), unparseable ones left out."""
    out = []
    for a in addrs:
        try:
            m = Multiaddr(a)
            out.append(m.decapsulate(Multiaddr(f"/p2p/{peer_id}")) if "/p2p/" in a else m)
        except Exception:
            continue
    return out


def _order(peer_id: str, addrs: list[str], own_id: str) -> list[Multiaddr]:
    """The addresses one attempt tries: direct ones first (newest first, at most
    :data:`DIAL_ADDRS`), then relayed ones not through this node (at most :data:`DIAL_RELAYED`)."""
    mine = _own(peer_id, addrs)
    direct = [a for a in mine if not is_circuit(str(a))]
    relayed = [a for a in mine if is_circuit(str(a))
               and f"/p2p/{own_id}{CIRCUIT}" not in str(a)]
    return direct[:DIAL_ADDRS] + relayed[:DIAL_RELAYED]


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
