"""The sync node: a libp2p host speaking ``/bullpen/sync/1`` to every reachable peer.

Each open stream is a :class:`~.link.Link` (``link.py``); whom to keep connected, where to dial
and what teammates tell each other about it is :class:`~.reach.Reach` (``reach.py``).

Concurrency model, and why:

* libp2p runs on trio, so the node is a trio program: :meth:`Node.run` is an ``async`` function
  that works under ``trio.run`` (``bullpen serve``) and under trio *guest mode* inside the Qt
  event loop (the desktop app), where nothing may block the GUI thread for long.
* Everything that touches automerge documents or disk (generating and applying sync messages,
  saving and merging whole documents, blobs, the store) is blocking work of up to a few hundred
  milliseconds on big documents. It runs in ``trio.to_thread.run_sync`` behind the ports
  (``ports.py``; the app's adapters lock the workspace), because the GUI, the CLI-refresh
  poller and every peer's session share the same documents. One step at a time per session
  keeps each peer's ``SyncState``\\s consistent; steps of different peers run in parallel
  threads and serialize on the workspace's lock only while they touch documents.
* Other threads (the GUI, a workspace listener called on a worker thread, zeroconf's mDNS
  thread) never call into trio directly: they hand work over with
  ``TrioToken.run_sync_soon`` (:meth:`Node.submit`, :meth:`Node.stop`, the change listener).
* A change is pushed to each peer as soon as it happens; while a send to that peer is in flight
  further changes only accumulate (as document ids), and the next send covers them all. There is
  no timer-based batching.
* Other processes on the same profile (the CLI beside ``bullpen serve``) write to the store;
  the node polls ``LocalWorkspace.refresh()`` every :data:`POLL_INTERVAL`, which announces
  their changes to the node like local writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.network.config import ConnectionConfig
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr

from . import addresses, peers
from .gate import Gate
from .join import JOIN_PROTOCOL, serve_join
from .link import PEER_CLOSED, PROTOCOL_ID, REFUSAL, Link
from .peers import PeerState, short_id
from .policy import Policy
from .ports import Admission, LocalChange, LocalWorkspace, NodeDocs, PeerBook
from .reach import DIAL_TIMEOUT, DialError, Reach

__all__ = ["PROTOCOL_ID", "DialError", "Link", "Node"]

log = logging.getLogger("bullpen.sync")

MEMBERSHIP_DOC = "index"  # the document holding the membership log
POLL_INTERVAL = 0.05
# Pauses between asking connected peers again for files the workspace still lacks (a peer that
# answered "missing" may have it by now, or another one does), growing while any is missing.
BLOB_RETRY = (2.0, 5.0, 15.0, 30.0, 60.0)


class Node:
    """A headless sync node over one workspace, reached through its ports (``ports.py``;
    ``bullpen.app.network.node_setup.make_node`` wires the app's). The ``policy`` decides who may
    connect and which changes are accepted; there is no default, so no node trusts strangers by a
    forgotten argument.

    ``listen``: multiaddrs to listen on (``/ip4/127.0.0.1/tcp/0`` in tests). ``advertise``:
    tell peers our listen addresses in the hello so they can dial us back (off for one-shot
    ``bullpen sync --once``). ``redial``: keep known peers connected with backoff.
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
        self._bound: list[str] = []  # as the host listens (maybe on 0.0.0.0)
        self._state_dirty = True
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
        return self.listen_addrs if self.advertise else []

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
        host = self._make_host()
        self._host = host
        known = await trio.to_thread.run_sync(self.book.known)
        listen = addresses.with_kept_port(self.listen,
                                          await trio.to_thread.run_sync(self.book.kept_port))
        unsubscribe = self.local.subscribe(self._on_change_threadsafe)
        try:
            with trio.CancelScope() as self._cancel:
                async with host.run(listen_addrs=[Multiaddr(a) for a in listen]):
                    host.set_stream_handler(PROTOCOL_ID, self._handle_stream)
                    host.set_stream_handler(JOIN_PROTOCOL, self._handle_join)
                    self.gate.install(host)
                    self._bound = [str(a) for a in host.get_addrs()]
                    await trio.to_thread.run_sync(self._keep_port, self._bound)
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        nursery.start_soon(self._poll_store)
                        nursery.start_soon(self._ask_blobs_again)
                        nursery.start_soon(self._run_commands)
                        nursery.start_soon(self.gate.run)
                        if self.publish:
                            nursery.start_soon(self._publish_loop)
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
                    await trio.to_thread.run_sync(self._save_final)
            self._nursery = None

    def _make_host(self) -> Any:
        key_pair = create_new_key_pair(self.local.identity.seed)
        config = ConnectionConfig(max_connections_per_peer=1)
        sec_opt = self.gate.security_options(key_pair)  # Noise only, strangers limited
        if self.mdns:
            try:
                from .discovery import attach_mdns

                host = new_host(key_pair=key_pair, connection_config=config, enable_mDNS=True,
                                sec_opt=sec_opt)
                attach_mdns(self, host)
                return host
            except Exception as exc:  # no multicast here: sync with known peers only
                log.warning("mDNS discovery unavailable (%s); syncing with known peers only", exc)
        return new_host(key_pair=key_pair, connection_config=config, sec_opt=sec_opt)

    async def _run_commands(self) -> None:
        async for fn, args in self._commands_recv:
            assert self._nursery is not None
            self._nursery.start_soon(fn, *args)

    async def _poll_store(self) -> None:
        """Pick up writes of other processes on this profile (the CLI beside ``serve``)."""
        while True:
            await trio.sleep(POLL_INTERVAL)
            try:
                await trio.to_thread.run_sync(self.local.refresh)
            except Exception as exc:
                log.warning("reading the store failed: %s", exc)

    async def _ask_blobs_again(self) -> None:
        """A shared file is asked for when its record arrives or a peer connects; a peer that
        did not have it yet answers "missing" and nothing asked again, so the file never
        arrived (found by the torture suite). Ask every connected peer again while files are
        missing, with growing pauses (:data:`BLOB_RETRY`), back to the shortest once none is."""
        step = 0
        while True:
            await trio.sleep(BLOB_RETRY[min(step, len(BLOB_RETRY) - 1)])
            try:
                missing = await trio.to_thread.run_sync(self.docs.missing_blobs)
            except Exception as exc:
                log.warning("listing missing files failed: %s", exc)
                continue
            if not missing or not self.links:
                step = 0
                continue
            step += 1
            for link in list(self.links.values()):
                link.session.blobs.ask_again()
                link.poke(blobs=True)

    def ask_for_blobs(self, besides: Link) -> None:
        """A peer lacks a file we asked it for: ask the other connected peers now (each
        is asked once until the timed retry), not at the next pause of that retry."""
        for link in list(self.links.values()):
            if link is not besides:
                link.poke(blobs=True)

    # ----- state publishing ----------------------------------------------------------------

    async def _publish_loop(self) -> None:
        last = 0.0
        while True:
            await trio.sleep(0.25)
            if self._state_dirty or time.monotonic() - last > peers.HEARTBEAT:
                self._state_dirty = False
                last = time.monotonic()
                states = self.peer_states()
                try:
                    await trio.to_thread.run_sync(self._publish, states)
                except Exception as exc:
                    log.warning("could not record peer state: %s", exc)

    def _publish(self, states: list[PeerState]) -> None:
        self.book.publish(self.listen_addrs, states)
        self.book.save_seen([s for s in states if s.connected])
        # ``bullpen peer add`` while we run: a new peer, or a new address of a known one.
        mine = {s.peer_id: s.addr_times for s in states}
        news = [s for p, s in self.book.known().items()
                if any(at > mine.get(p, {}).get(a, -1.0) for a, at in s.addr_times.items())]
        if news:
            self.submit(self.reach.learn_checked, news)

    def _save_final(self) -> None:
        try:
            states = self.peer_states()
            for s in states:
                s.connected = False
            self.book.save_seen([s for s in states if s.last_seen])
            self.book.unpublish()
        except Exception as exc:
            log.warning("could not record peer state: %s", exc)

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

    async def connect(self, addr: str) -> None:
        """Open a connection to ``addr`` without starting a sync session (a newcomer must be
        admitted on ``/bullpen/join/1`` before the peer will sync with it)."""
        try:
            info = info_from_p2p_addr(Multiaddr(addr))
            with trio.fail_after(DIAL_TIMEOUT):
                await self._host.connect(info)
        except trio.TooSlowError:
            raise DialError(f"{addr} did not answer in time") from None
        except Exception as exc:
            raise DialError(f"cannot reach {addr}: {' '.join(str(exc).split())[:200]}") \
                from None

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

    # ----- dialing -------------------------------------------------------------------------

    async def dial(self, addr: str) -> Link:
        """Connect to ``addr`` (``.../p2p/PEERID``) and open a sync session."""
        try:
            peer_id = info_from_p2p_addr(Multiaddr(addr)).peer_id.to_base58()
        except Exception as exc:
            raise DialError(f"{addr!r} is not a peer address ({exc})") from None
        return await self.reach.dial(peer_id, [addr])

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
