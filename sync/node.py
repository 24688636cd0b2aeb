"""The sync node: a libp2p host speaking ``/bullpen/sync/1`` to every reachable peer.

This module ties the parts together and keeps the open links; each part has a module of its
own:

* ``host.py``: the libp2p host (key, security, transports, mDNS) and listening;
* ``link.py``: one open sync stream, the I/O around a session (:class:`~.link.Link`);
* ``reach.py``: whom to keep connected and what teammates tell each other about it;
* ``dialer.py``: dialing, newest address first, and redialing with backoff;
* ``store_watch.py``: noticing other processes' writes to this profile;
* ``blob_retry.py``: asking peers again for shared files still missing;
* ``publisher.py``: the node's state for other processes (``bullpen status``).

Concurrency model, and why:

* libp2p runs on trio, so the node is a trio program: :meth:`Node.run` is an ``async`` function
  that works under ``trio.run`` (``bullpen serve``) and under trio *guest mode* inside the Qt
  event loop (the desktop app), where nothing may block the GUI thread for long.
* Everything that touches automerge documents or disk (generating and applying sync messages,
  saving and merging whole documents, blobs, the store) is blocking work of up to a few hundred
  milliseconds on big documents. It runs in ``trio.to_thread.run_sync`` behind the ports
  (``ports.py``; the app's adapters lock the workspace), because the GUI, the store watch
  and every peer's session share the same documents. One step at a time per session
  keeps each peer's ``SyncState``\\s consistent; steps of different peers run in parallel
  threads and serialize on the workspace's lock only while they touch documents.
* Other threads (the GUI, a workspace listener called on a worker thread, zeroconf's mDNS
  thread) never call into trio directly: they hand work over with
  ``TrioToken.run_sync_soon`` (:meth:`Node.submit`, :meth:`Node.stop`, the change listener).
* A change is pushed to each peer as soon as it happens; while a send to that peer is in flight
  further changes only accumulate (as document ids), and the next send covers them all. There is
  no timer-based batching.
* Other processes on the same profile (the CLI beside ``bullpen serve``) write to the store;
  :class:`~.store_watch.StoreWatch` has ``LocalWorkspace.refresh()`` take them in, which
  announces their changes to the node like local writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio

from . import addresses
from .blob_retry import BlobRetry
from .dialer import Dialer, DialError
from .gate import Gate
from .host import listening, make_host
from .join import JOIN_PROTOCOL, serve_join
from .link import PEER_CLOSED, PROTOCOL_ID, REFUSAL, Link
from .peers import PeerState, short_id
from .policy import Policy
from .ports import Admission, LocalChange, LocalWorkspace, NodeDocs, PeerBook
from .publisher import StatePublisher
from .reach import Reach
from .relay import RelayLimits, Relays
from .store_watch import StoreWatch

__all__ = ["PROTOCOL_ID", "DialError", "Link", "Node"]

log = logging.getLogger("bullpen.sync")

MEMBERSHIP_DOC = "index"  # the document holding the membership log


class Node:
    """A headless sync node over one workspace, reached through its ports (``ports.py``;
    ``bullpen.app.network.node_setup.make_node`` wires the app's). The ``policy`` decides who may
    connect and which changes are accepted; there is no default, so no node trusts strangers by a
    forgotten argument.

    ``listen``: multiaddrs to listen on (``/ip4/127.0.0.1/tcp/0`` in tests). ``advertise``:
    tell peers our listen addresses in the hello so they can dial us back (off for one-shot
    ``bullpen sync --once``), and keep reservations with teammates that relay. ``redial``: keep
    known peers connected with backoff. ``relay``: relay for the team's members, within
    ``relay_limits`` (``relay.py``).
    """

    def __init__(
        self,
        local: LocalWorkspace,
        docs: NodeDocs,
        book: PeerBook,
        admission: Admission,
        *,
        policy: Policy,
        listen: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",),
        mdns: bool = False,
        advertise: bool = True,
        redial: bool = True,
        publish: bool = True,
        relay: bool = False,
        relay_limits: RelayLimits | None = None,
    ) -> None:
        self.local = local
        self.docs = docs
        self.book = book
        self.admission = admission
        self.policy = policy
        self.gate = Gate(self.policy.is_allowed)
        self.listen = list(listen)
        self.mdns = mdns
        self.advertise = advertise
        self.redial = redial
        self.publish = publish
        self.peer_id = local.peer_id
        self.links: dict[str, Link] = {}
        self.reach = Reach(self)
        self.dialer = Dialer(self)
        self.publisher = StatePublisher(self)
        self.blob_retry = BlobRetry(self)
        self.relays = Relays(self, serve=relay, limits=relay_limits)
        self._bound: list[str] = []  # as the host listens (maybe on 0.0.0.0)
        self._host: Any = None
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._on_stop: list[Callable[[], None]] = []
        self._commands_send, self._commands_recv = trio.open_memory_channel[
            tuple[Callable[..., Any], tuple[Any, ...]]](math.inf)

    # ----- thread-safe API -----------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread: run ``fn(*args)`` (an async function) as a task of the node."""
        self._call_soon(self._commands_send.send_nowait, (fn, args))

    def stop(self) -> None:
        """From any thread: shut the node down; :meth:`run` returns shortly after."""
        self._call_soon(lambda: self._cancel.cancel() if self._cancel else None)

    @property
    def peers(self) -> dict[str, PeerState]:
        """Remembered members (see ``reach``)."""
        return self.reach.peers

    def peer_states(self) -> list[PeerState]:
        """Every remembered member, with its link's state (read on the trio thread, or treat
        as a snapshot)."""
        return self.reach.states()

    @property
    def listen_addrs(self) -> list[str]:
        """Where others can dial this node now (wildcards expanded, see ``addresses``)."""
        return addresses.dialable(self._bound)

    def advertised_addrs(self) -> list[str]:
        """Where teammates can reach us: our listen addresses, then through relays."""
        return self.listen_addrs + self.relays.addrs() if self.advertise else []

    @property
    def _state_dirty(self) -> bool:
        """Is a change of our state waiting to be published? Setting it true (each part of
        the node does, when what ``bullpen status`` shows changed) has it published soon
        (``publisher.py``)."""
        return self.publisher.pending

    @_state_dirty.setter
    def _state_dirty(self, dirty: bool) -> None:
        if dirty:
            self.publisher.changed()

    def _keep_port(self, bound: list[str]) -> None:
        """Remember the wildcard listener's port for the next run (see ``addresses``)."""
        port = addresses.bound_port(bound)
        if port is not None and port != self.book.kept_port():
            self.book.keep_port(port)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._token is None:
            raise RuntimeError("the node is not running")
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(fn, *args)

    # ----- running -------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled or :meth:`stop`; ``task_status.started(listen_addrs)`` once
        listening."""
        self._token = trio.lowlevel.current_trio_token()
        self._host = make_host(self)
        known = await trio.to_thread.run_sync(self.book.known)
        listen = addresses.with_kept_port(self.listen,
                                          await trio.to_thread.run_sync(self.book.kept_port))
        handlers = {PROTOCOL_ID: self._handle_stream, JOIN_PROTOCOL: self._handle_join}
        unsubscribe = self.local.subscribe(self._on_change_threadsafe)
        try:
            with trio.CancelScope() as self._cancel:
                async with listening(self, self._host, listen, handlers) as bound:
                    self._bound = bound
                    await trio.to_thread.run_sync(self._keep_port, self._bound)
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        nursery.start_soon(StoreWatch(self.local, self._foreign_write).run)
                        nursery.start_soon(self.blob_retry.run)
                        nursery.start_soon(self._run_commands)
                        nursery.start_soon(self.gate.run)
                        nursery.start_soon(self.relays.run)
                        if self.publish:
                            nursery.start_soon(self.publisher.run)
                        await self.reach.learn_checked(list(known.values()))
                        task_status.started(self.listen_addrs)
                        await trio.sleep_forever()
        finally:
            unsubscribe()
            for callback in self._on_stop:
                callback()
            for link in list(self.links.values()):
                link.drop("shutting down")
            if self.publish:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(self.publisher.save_final)
            self._nursery = None

    def _foreign_write(self) -> None:
        """Another process on this profile committed to the store (its document changes
        were announced like ours): it may have added a peer."""
        if self.publish:
            self._nursery_start(self.publisher.read_book)

    async def _run_commands(self) -> None:
        async for fn, args in self._commands_recv:
            assert self._nursery is not None
            self._nursery.start_soon(fn, *args)

    def ask_for_blobs(self, besides: Link) -> None:
        """A peer lacks a file we asked it for: ask the others now (``blob_retry.py``)."""
        self.blob_retry.ask_others(besides)

    # ----- changes -------------------------------------------------------------------------

    def _on_change_threadsafe(self, change: LocalChange) -> None:
        self._call_soon(self._on_change, change)

    def _on_change(self, change: LocalChange) -> None:
        blobs = "resource" in change.kinds
        if change.doc_id == MEMBERSHIP_DOC:
            self._nursery_start(self._drop_disallowed)
        for link in self.links.values():
            link.poke([change.doc_id], blobs)

    async def _drop_disallowed(self) -> None:
        """After a membership change, hang up on peers that are no longer members, forget
        them, and ask again for documents refused so far (they may be accepted now)."""
        for link in list(self.links.values()):
            allowed = await trio.to_thread.run_sync(self.policy.is_allowed, link.peer_id)
            if not allowed:
                log.info("disconnecting %s: no longer a member", link.short)
                link.drop("no longer a member of this workspace")
            else:
                link.retry_held()
        await self.reach.prune()
        await self.gate.recheck()  # a removed member's connection is limited, then closed

    # ----- links ---------------------------------------------------------------------------

    async def _handle_stream(self, stream: Any) -> None:
        peer_id = str(stream.muxed_conn.peer_id)
        try:
            if not await self.gate.admitted(stream, REFUSAL):  # told so, nothing else
                log.info("not syncing with peer %s: not a member of this workspace",
                         short_id(peer_id))
                return
            link = self._register(stream, peer_id, initiator=peer_id)
            if link is not None:
                await link.run()
        except Exception as exc:  # handler exceptions vanish silently in libp2p: log them
            log.warning("sync stream from %s failed: %s", short_id(peer_id), exc)

    async def _handle_join(self, stream: Any) -> None:
        await serve_join(self.admission, self.local.workspace_id, stream, self.gate)

    @property
    def host(self) -> Any:
        """The libp2p host (for protocols beside sync, such as joining)."""
        return self._host

    def _register(self, stream: Any, peer_id: str, initiator: str) -> Link | None:
        """Track a new link; of two links to one peer keep one, the same choice on both sides:
        the one opened by the lower peer id (or the newer, when one side opened both)."""
        old = self.links.get(peer_id)
        link = Link(self, stream, peer_id, initiator)
        if old is not None:
            if old.initiator != initiator and old.initiator < initiator:
                self._nursery_start(self._reset_stream, stream)
                return None
            old.drop("superseded by a newer connection")
        self.links[peer_id] = link
        self._state_dirty = True
        self.blob_retry.link_opened()
        return link

    def _nursery_start(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)

    @staticmethod
    async def _reset_stream(stream: Any) -> None:
        with trio.move_on_after(2):
            with contextlib.suppress(Exception):
                await stream.reset()

    def _link_closed(self, link: Link) -> None:
        if self.links.get(link.peer_id) is link:
            del self.links[link.peer_id]
        known = self.peers.get(link.peer_id)
        if known is not None:
            known.bytes_in += link.bytes_in
            known.bytes_out += link.bytes_out
            if link.session.peer_name or link.session.peer_addrs:
                known.last_seen = time.time()
        self._state_dirty = True

    def _hello_seen(self, link: Link) -> None:
        """A member completed a hello: remember it where it says it listens (now), and give
        it our address book."""
        log.info("syncing with peer %s (%s)", link.short, link.session.peer_name or "unnamed")
        now = time.time()
        changed = self.reach.learn(link.peer_id, {a: now for a in link.session.peer_addrs},
                                   link.session.peer_name, teammate=False)
        self.peers[link.peer_id].last_seen = now
        self.reach.opened(link, changed)
        self.relays.opened(link)

    # ----- dialing (``dialer.py``) ----------------------------------------------------------

    async def dial(self, addr: str) -> Link:
        """Connect to ``addr`` (``.../p2p/PEERID``) and open a sync session."""
        return await self.dialer.dial_addr(addr)

    async def connect(self, addr: str) -> None:
        """Open a connection to ``addr`` without starting a sync session (a newcomer must be
        admitted on ``/bullpen/join/1`` before the peer will sync with it)."""
        await self.dialer.connect(addr)

    def _dialed(self, stream: Any, peer_id: str) -> Link:
        link = self._register(stream, peer_id, initiator=self.peer_id)
        if link is None:  # the peer's own connection to us won
            return self.links[peer_id]
        self._nursery_start(link.run)
        return link

    async def wait_in_sync(self, peer_id: str, timeout: float | None = None) -> None:
        """Until the link to ``peer_id`` is in sync with nothing left to send, except for
        documents one side refuses (``Link.held``: the caller decides what that means);
        raises :class:`DialError` when the link ends first."""
        last: Link | None = None
        with trio.fail_after(timeout if timeout is not None else math.inf):
            while True:
                link = self.links.get(peer_id)
                if link is None:
                    why = last.reason if last is not None else ""
                    name = await trio.to_thread.run_sync(
                        lambda: self.local.member_names().get(peer_id))
                    who = f"{name} ({short_id(peer_id)})" if name else short_id(peer_id)
                    if why.startswith(PEER_CLOSED):  # the peer said why it will not sync
                        raise DialError(f"peer {who} refused to sync: "
                                        f"{why.removeprefix(PEER_CLOSED)}")
                    raise DialError(f"connection to {who} ended before sync "
                                    f"completed{f' ({why})' if why else ''}")
                last = link
                if link.idle_in_sync:
                    return
                progress = link.progress
                if link.held_by_peer and link.quiet and link.is_open and not (
                        await trio.to_thread.run_sync(link.unsynced)
                        - link.held_by_peer.keys() - link.session.blocked.keys()):
                    return
                await progress.wait()
