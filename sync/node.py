"""The sync node: a libp2p host speaking ``/bullpen/sync/1`` to every reachable peer.

Concurrency model, and why:

* libp2p runs on trio, so the node is a trio program: :meth:`Node.run` is an ``async`` function
  that works under ``trio.run`` (``bullpen serve``) and under trio *guest mode* inside the Qt
  event loop (the desktop app), where nothing may block the GUI thread for long.
* Everything that touches automerge documents or disk (generating and applying sync messages,
  saving and merging whole documents, blobs, the store) is blocking work of up to a few hundred
  milliseconds on big documents. It runs in ``trio.to_thread.run_sync`` and takes ``ws.lock``
  (the Workspace's own methods do), because the GUI, the CLI-refresh poller and every peer's
  session share the same documents. One step at a time per session keeps each peer's
  ``SyncState``\\s consistent; steps of different peers run in parallel threads and serialize
  on ``ws.lock`` only while they touch documents.
* Other threads (the GUI, a Workspace listener called on a worker thread, zeroconf's mDNS
  thread) never call into trio directly: they hand work over with
  ``TrioToken.run_sync_soon`` (:meth:`Node.submit`, :meth:`Node.stop`, the change listener).
* A change is pushed to each peer as soon as it happens; while a send to that peer is in flight
  further changes only accumulate (as document ids), and the next send covers them all. There is
  no timer-based batching.
* Other processes on the same profile (the CLI beside ``bullpen serve``) write to the store;
  the node polls ``ws.refresh()`` every :data:`POLL_INTERVAL`, which announces their changes to
  the node like local writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from multiaddr import Multiaddr

from bullpen.app.identity import short_id
from bullpen.app.workspace import ChangeSet, Workspace

from . import addresses, framing, peers
from .docs import WorkspaceDocs
from .framing import FrameError
from .join import JOIN_PROTOCOL, serve_join
from .messages import Error, Message, ProtocolError, decode, encode
from .peers import PeerState
from .policy import Policy
from .session import PeerClosed, Refused, Session, State

log = logging.getLogger("bullpen.sync")

MEMBERSHIP_DOC = "index"  # the document holding the membership log

PROTOCOL_ID = TProtocol("/bullpen/sync/1")
READ_SIZE = 1 << 16
DIAL_TIMEOUT = 10.0
MAX_BACKOFF = 30.0
POLL_INTERVAL = 0.05


class DialError(ConnectionError):
    """A peer could not be reached; the message is one plain line."""


class Link:
    """One open sync stream to a peer: the I/O around a :class:`Session`."""

    def __init__(self, node: Node, stream: Any, peer_id: str, initiator: str) -> None:
        self.node = node
        self.stream = stream
        self.peer_id = peer_id
        self.initiator = initiator
        self.session = Session(
            node.docs, peer_id, node.ws.workspace_id, policy=node.policy, name=node.ws.name,
            addrs=node.advertised_addrs(),
        )
        self.outbox: list[Message] = []
        self.pending_docs: set[str] = set()
        self.pending_blobs = False
        self.sending = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.wake = trio.Event()
        self.progress = trio.Event()
        self.closed = trio.Event()
        self.reason = ""
        self._step_lock = trio.Lock()
        self._reported: set[str] = set()  # blocked documents already logged
        self._opened = False
        self._scope = trio.CancelScope()

    @property
    def short(self) -> str:
        return short_id(self.peer_id)

    @property
    def idle_in_sync(self) -> bool:
        """In sync and nothing of ours waiting to be written: safe to hang up."""
        return (self.session.in_sync and not self.outbox and not self.sending
                and not self.pending_docs)

    def poke(self, doc_ids: Iterable[str] = (), blobs: bool = False) -> None:
        self.pending_docs.update(doc_ids)
        self.pending_blobs |= blobs
        self.wake.set()

    def drop(self, reason: str) -> None:
        """Close this link (superseded by another one to the same peer, or shutting down)."""
        self.reason = self.reason or reason
        self._scope.cancel()

    async def run(self) -> None:
        try:
            with self._scope:
                hello = await self._step(self.session.start)
                self.outbox.extend(hello)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guard, self._reader, nursery.cancel_scope)
                    nursery.start_soon(self._guard, self._sender, nursery.cancel_scope)
        finally:
            self.session.close()
            with trio.CancelScope(shield=True):
                await self._hang_up()
            self.closed.set()
            self._notify()
            self.node._link_closed(self)

    async def _guard(self, task: Callable[[], Any], scope: trio.CancelScope) -> None:
        try:
            await task()
        except (FrameError, ProtocolError) as exc:
            self.reason = f"protocol violation: {exc}"
            log.warning("disconnecting peer %s: %s", self.short, exc)
            await self._send_error(str(exc))
        except Refused as exc:
            self.reason = f"refused: {exc}"
            log.info("not syncing with peer %s: %s", self.short, exc)
            await self._send_error(str(exc))
            self.node._refused.add(self.peer_id)
        except PeerClosed as exc:
            self.reason = f"peer closed: {exc}"
            log.info("peer %s ended the session: %s", self.short, exc)
        except Exception as exc:  # the transport: reset, closed, connection lost
            self.reason = self.reason or f"connection lost ({type(exc).__name__})"
            log.info("connection to peer %s lost: %s", self.short, exc or type(exc).__name__)
        finally:
            scope.cancel()

    async def _send_error(self, reason: str) -> None:
        """Best effort: tell the peer why we hang up (it may already be gone)."""
        with trio.move_on_after(1):
            try:
                for frame in framing.encode(encode(Error(reason))):
                    await self.stream.write(frame)
            except Exception as exc:
                log.debug("could not tell %s why: %s", self.short, exc)

    async def _hang_up(self) -> None:
        with trio.move_on_after(2):
            try:
                if self.reason.startswith(("protocol violation", "refused", "superseded")):
                    await self.stream.reset()
                else:
                    await self.stream.close()
            except Exception as exc:
                log.debug("closing stream to %s: %s", self.short, exc)

    async def _step(self, fn: Callable[..., list[Message]], *args: Any) -> list[Message]:
        """One session step in a worker thread; one at a time per session."""
        async with self._step_lock:
            out = await trio.to_thread.run_sync(fn, *args)
            if self.session.in_sync and self.node.docs.needs_trim():
                await trio.to_thread.run_sync(self.node.docs.trim)
        if not self._opened and self.session.state is State.OPEN:
            self._opened = True
            self.node._hello_seen(self)
        for doc_id in set(self.session.blocked) - self._reported:
            log.warning("peer %s: %s; that document is not synced with this peer until it "
                        "sends changes this workspace accepts", self.short,
                        self.session.blocked[doc_id])
        self._reported = set(self.session.blocked)
        self._notify()
        return out

    def _notify(self) -> None:
        self.progress.set()
        self.progress = trio.Event()
        self.node._state_dirty = True

    async def _reader(self) -> None:
        decoder = framing.Decoder()
        while True:
            try:
                data = await self.stream.read(READ_SIZE)
            except StreamEOF:
                self.reason = "peer hung up"
                return
            if not data:
                self.reason = "peer hung up"
                return
            self.bytes_in += len(data)
            for raw in decoder.feed(data):
                msg = decode(raw)
                log.debug("from %s: %s (%d bytes)", self.short, _describe(msg), len(raw))
                # Await first, then extend: ``self.outbox += await ...`` would read the list
                # before the await and write it back after, resurrecting a batch the sender
                # took meanwhile (so it would be sent twice).
                replies = await self._step(self.session.receive, msg)
                self.outbox.extend(replies)
                self.wake.set()

    def _local_step(self, docs: set[str], blobs: bool) -> list[Message]:
        out = self.session.local_change(docs) if docs else []
        return out + (self.session.want_blobs() if blobs else [])

    async def _sender(self) -> None:
        while True:
            if self.outbox:
                batch, self.outbox = self.outbox, []
                await self._write(batch)
            elif self.pending_docs or self.pending_blobs:
                docs, blobs = self.pending_docs, self.pending_blobs
                self.pending_docs, self.pending_blobs = set(), False
                await self._write(await self._step(self._local_step, docs, blobs))
            elif self.session.whole_pending:
                await self._write(await self._step(self.session.next_whole))
            else:
                self.wake = trio.Event()
                self._notify()
                await self.wake.wait()

    async def _write(self, batch: list[Message]) -> None:
        self.sending = True
        try:
            for msg in batch:
                log.debug("to %s: %s", self.short, _describe(msg))
                for frame in framing.encode(encode(msg)):
                    await self.stream.write(frame)
                    self.bytes_out += len(frame)
        finally:
            self.sending = False


class Node:
    """A headless sync node over one open :class:`Workspace`.

    ``listen``: multiaddrs to listen on (``/ip4/127.0.0.1/tcp/0`` in tests). ``advertise``:
    tell peers our listen addresses in the hello so they can dial us back (off for one-shot
    ``bullpen sync --once``). ``redial``: keep known peers connected with backoff.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        listen: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",),
        policy: Policy | None = None,
        mdns: bool = False,
        advertise: bool = True,
        redial: bool = True,
        publish: bool = True,
    ) -> None:
        self.ws = ws
        self.policy = policy or Policy()
        self.docs = WorkspaceDocs(ws, self.policy)
        self.listen = list(listen)
        self.mdns = mdns
        self.advertise = advertise
        self.redial = redial
        self.publish = publish
        self.peer_id = ws.peer_id
        self.links: dict[str, Link] = {}
        self.peers: dict[str, PeerState] = {}
        self._bound: list[str] = []  # as the host listens (maybe on 0.0.0.0)
        self._refused: set[str] = set()
        self._dialing: set[str] = set()
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

    def peer_states(self) -> list[PeerState]:
        """Every known or connected peer (read on the trio thread, or treat as a snapshot)."""
        out = []
        now = time.time()
        for peer_id, known in list(self.peers.items()):
            link = self.links.get(peer_id)
            state = PeerState(peer_id, known.name, list(known.addrs), link is not None,
                              now if link is not None else known.last_seen,
                              link.session.behind if link is not None else None,
                              known.bytes_in + (link.bytes_in if link else 0),
                              known.bytes_out + (link.bytes_out if link else 0),
                              dict(link.session.blocked) if link is not None else {})
            out.append(state)
        return out

    @property
    def listen_addrs(self) -> list[str]:
        """Where others can dial this node now (wildcards expanded, see ``addresses``)."""
        return addresses.dialable(self._bound)

    def advertised_addrs(self) -> list[str]:
        return self.listen_addrs if self.advertise else []

    def _keep_port(self, bound: list[str]) -> None:
        """Remember the wildcard listener's port for the next run (see ``addresses``)."""
        port = addresses.bound_port(bound)
        if port is not None and port != self.ws.store.get_meta(addresses.PORT_KEY):
            with self.ws.store.transaction():
                self.ws.store.set_meta(addresses.PORT_KEY, port)

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
        for peer_id, state in (await trio.to_thread.run_sync(peers.known_peers, self.ws)).items():
            self.peers[peer_id] = state
        listen = addresses.with_kept_port(self.listen, await trio.to_thread.run_sync(
            self.ws.store.get_meta, addresses.PORT_KEY))
        unsubscribe = self.ws.subscribe(self._on_change_threadsafe)
        try:
            with trio.CancelScope() as self._cancel:
                async with host.run(listen_addrs=[Multiaddr(a) for a in listen]):
                    host.set_stream_handler(PROTOCOL_ID, self._handle_stream)
                    host.set_stream_handler(JOIN_PROTOCOL, self._handle_join)
                    self._bound = [str(a) for a in host.get_addrs()]
                    await trio.to_thread.run_sync(self._keep_port, self._bound)
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        nursery.start_soon(self._poll_store)
                        nursery.start_soon(self._run_commands)
                        if self.publish:
                            nursery.start_soon(self._publish_loop)
                        if self.redial:
                            for peer_id in list(self.peers):
                                self._keep_connected(peer_id)
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
        key_pair = create_new_key_pair(self.ws.identity.seed)
        config = ConnectionConfig(max_connections_per_peer=1)
        if self.mdns:
            try:
                from .discovery import attach_mdns

                host = new_host(key_pair=key_pair, connection_config=config, enable_mDNS=True)
                attach_mdns(self, host)
                return host
            except Exception as exc:  # no multicast here: sync with known peers only
                log.warning("mDNS discovery unavailable (%s); syncing with known peers only", exc)
        return new_host(key_pair=key_pair, connection_config=config)

    async def _run_commands(self) -> None:
        async for fn, args in self._commands_recv:
            assert self._nursery is not None
            self._nursery.start_soon(fn, *args)

    async def _poll_store(self) -> None:
        """Pick up writes of other processes on this profile (the CLI beside ``serve``)."""
        while True:
            await trio.sleep(POLL_INTERVAL)
            try:
                await trio.to_thread.run_sync(self.ws.refresh)
            except Exception as exc:
                log.warning("reading the store failed: %s", exc)

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
        peers.publish(self.ws, self.listen_addrs, states)
        peers.save_seen(self.ws, [s for s in states if s.connected])
        # Peers added by ``bullpen peer add`` while we run.
        for peer_id, state in peers.known_peers(self.ws).items():
            if peer_id not in self.peers:
                self._call_soon(self._learn_peer, state)

    def _save_final(self) -> None:
        try:
            states = self.peer_states()
            for s in states:
                s.connected = False
            peers.save_seen(self.ws, [s for s in states if s.last_seen])
            peers.unpublish(self.ws)
        except Exception as exc:
            log.warning("could not record peer state: %s", exc)

    def _learn_peer(self, state: PeerState) -> None:
        if state.peer_id == self.peer_id:
            return
        known = self.peers.get(state.peer_id)
        if known is None:
            self.peers[state.peer_id] = state
        else:
            known.addrs = state.addrs or known.addrs
            known.name = state.name or known.name
        if self.redial and self._nursery is not None:
            self._keep_connected(state.peer_id)

    # ----- changes -------------------------------------------------------------------------

    def _on_change_threadsafe(self, change: ChangeSet) -> None:
        self._call_soon(self._on_change, change)

    def _on_change(self, change: ChangeSet) -> None:
        blobs = "resource" in change.kinds
        if change.doc_id == MEMBERSHIP_DOC:
            self._nursery_start(self._drop_disallowed)
        for link in self.links.values():
            link.poke([change.doc_id], blobs)

    async def _drop_disallowed(self) -> None:
        """After a membership change, hang up on peers that are no longer members."""
        for link in list(self.links.values()):
            allowed = await trio.to_thread.run_sync(self.policy.is_allowed, link.peer_id)
            if not allowed:
                log.info("disconnecting %s: no longer a member", link.short)
                link.drop("no longer a member of this workspace")

    # ----- links ---------------------------------------------------------------------------

    async def _handle_stream(self, stream: Any) -> None:
        peer_id = str(stream.muxed_conn.peer_id)
        try:
            link = self._register(stream, peer_id, initiator=peer_id)
            if link is not None:
                await link.run()
        except Exception as exc:  # handler exceptions vanish silently in libp2p: log them
            log.warning("sync stream from %s failed: %s", short_id(peer_id), exc)

    async def _handle_join(self, stream: Any) -> None:
        await serve_join(self.ws, stream)

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
            raise DialError(f"cannot reach {addr}: {_one_line(exc)}") from None

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
        if peer_id not in self.peers:
            self.peers[peer_id] = PeerState(peer_id)
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
        """Remember a peer that completed a hello, with the addresses it listens on."""
        known = self.peers[link.peer_id]
        log.info("syncing with peer %s (%s)", link.short, link.session.peer_name or "unnamed")
        known.name = link.session.peer_name or known.name
        known.addrs = link.session.peer_addrs or known.addrs
        known.last_seen = time.time()
        if self.publish:
            self._nursery_start(
                trio.to_thread.run_sync, peers.remember, self.ws, link.peer_id,
                list(link.session.peer_addrs), link.session.peer_name)
        if self.redial:
            self._keep_connected(link.peer_id)

    # ----- dialing -------------------------------------------------------------------------

    async def dial(self, addr: str) -> Link:
        """Connect to ``addr`` (``.../p2p/PEERID``) and open a sync session."""
        try:
            info = info_from_p2p_addr(Multiaddr(addr))
        except Exception as exc:
            raise DialError(f"{addr!r} is not a peer address ({exc})") from None
        return await self._dial_info(info)

    async def _dial_info(self, info: PeerInfo) -> Link:
        peer_id = str(info.peer_id)
        if peer_id == self.peer_id:
            raise DialError("that address is this node itself")
        existing = self.links.get(peer_id)
        if existing is not None:
            return existing
        try:
            with trio.fail_after(DIAL_TIMEOUT):
                await self._host.connect(info)
                stream = await self._host.new_stream(ID.from_base58(peer_id), [PROTOCOL_ID])
        except trio.TooSlowError:
            raise DialError(f"peer {short_id(peer_id)} did not answer in time") from None
        except Exception as exc:
            raise DialError(f"cannot reach peer {short_id(peer_id)}: {_one_line(exc)}") from None
        link = self._register(stream, peer_id, initiator=self.peer_id)
        if link is None:  # the peer's own connection to us won
            return self.links[peer_id]
        self._nursery_start(link.run)
        return link

    def _keep_connected(self, peer_id: str) -> None:
        if peer_id not in self._dialing and peer_id != self.peer_id:
            self._dialing.add(peer_id)
            self._nursery_start(self._redial_loop, peer_id)

    async def _redial_loop(self, peer_id: str) -> None:
        """Keep ``peer_id`` connected: redial with exponential backoff (capped) while it is
        offline, which is normal and logged only at debug level."""
        backoff = 1.0
        try:
            while peer_id in self.peers and peer_id not in self._refused:
                link = self.links.get(peer_id)
                if link is not None:
                    await link.closed.wait()
                    if link.reason.startswith("protocol violation"):
                        # don't hammer a peer that sends us garbage: keep backing off
                        await trio.sleep(backoff * random.uniform(0.8, 1.2))
                        backoff = min(backoff * 2, MAX_BACKOFF)
                    else:
                        backoff = 1.0
                        await trio.sleep(random.uniform(0.1, 0.5))
                    continue
                addrs = self.peers[peer_id].addrs
                if addrs:
                    try:
                        await self._dial_info(_peer_info(peer_id, addrs))
                        continue
                    except DialError as exc:
                        log.debug("redial %s: %s", short_id(peer_id), exc)
                await trio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            self._dialing.discard(peer_id)

    async def wait_in_sync(self, peer_id: str, timeout: float | None = None) -> None:
        """Until the link to ``peer_id`` is in sync with nothing left to send; raises
        :class:`DialError` when the link ends first."""
        with trio.fail_after(timeout if timeout is not None else math.inf):
            while True:
                link = self.links.get(peer_id)
                if link is None:
                    raise DialError(f"connection to {short_id(peer_id)} ended before sync "
                                    f"completed")
                if link.idle_in_sync:
                    return
                await link.progress.wait()


def _peer_info(peer_id: str, addrs: list[str]) -> PeerInfo:
    maddrs = []
    for a in addrs:
        try:
            m = Multiaddr(a)
            maddrs.append(m.decapsulate(Multiaddr(f"/p2p/{peer_id}")) if "/p2p/" in a else m)
        except Exception:
            continue
    return PeerInfo(ID.from_base58(peer_id), maddrs)


def _describe(msg: Message) -> str:
    doc = getattr(msg, "doc_id", None)
    size = len(getattr(msg, "data", b""))
    return f"{type(msg).__name__}" + (f" {doc}" if doc else "") + (f" +{size}" if size else "")


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
