"""One open sync stream to a peer: the I/O around a :class:`~.session.Session`.

Besides running the session, a link carries two small messages for peers whose hello lists
:data:`~.messages.FEATURE_REACH` (older peers would drop the connection on an unknown type):

* :class:`~.messages.Addrs`, where the sender last reached teammates (handed to the node's
  :class:`~.reach.Reach`);
* :class:`~.messages.Held`, sent when the session starts refusing a document's changes from
  this peer (and when it stops), so the peer knows *why* that document does not settle and can
  say so (``bullpen sync --once`` exits non-zero naming it) instead of waiting forever.

A refused document is never offered in a loop: while it is held (by us or by the peer) local
changes to it are not offered to this peer; the refusing side asks again a bounded number of
times with growing pauses (:data:`RETRY_DELAYS`), and once more whenever the membership changes
(:meth:`Link.retry_held`), since only that can turn a refusal into an acceptance.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import trio
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF

from . import framing
from .framing import FrameError
from .messages import (
    FEATURE_REACH,
    Addrs,
    BlobMissing,
    Error,
    Held,
    Hello,
    Message,
    ProtocolError,
    decode,
)
from .messages import encode as encode_message
from .peers import short_id
from .session import PeerClosed, Refused, Session, State

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("bullpen.sync")

PROTOCOL_ID = TProtocol("/bullpen/sync/1")
READ_SIZE = 1 << 16
RETRY_DELAYS = (2.0, 8.0, 30.0, 120.0)  # asking again for a refused document, then no more
PEER_CLOSED = "peer closed: "  # a link's reason when the peer ended it with an Error
# All a peer this node does not admit is told (see ``Gate.admitted``): no workspace, no name.
NOT_A_MEMBER = "you are not (or no longer) a member of this workspace"
REFUSAL = b"".join(framing.encode(encode_message(Error(NOT_A_MEMBER))))


class Link:
    def __init__(self, node: Node, stream: Any, peer_id: str, initiator: str) -> None:
        self.node = node
        self.stream = stream
        self.peer_id = peer_id
        self.initiator = initiator
        self.session = Session(
            node.docs, peer_id, node.local.workspace_id, policy=node.policy, name=node.local.name,
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
        self.reach = False  # the peer reads Addrs and Held
        # a manager or rep (not a guest): addresses are shared with it (None: not known yet)
        self.teammate: bool | None = None
        self.synced = False  # was in sync at least once: the link worked
        self.held_by_peer: dict[str, str] = {}  # documents the peer refuses from us, and why
        self._step_lock = trio.Lock()
        self._reported: dict[str, str] = {}  # blocked documents already logged and told
        self._retries: dict[str, int] = {}  # asks made per refused document
        self._opened = False
        self._scope = trio.CancelScope()

    @property
    def short(self) -> str:
        return short_id(self.peer_id)

    @property
    def is_open(self) -> bool:
        return self.session.state is State.OPEN and not self.closed.is_set()

    @property
    def idle_in_sync(self) -> bool:
        """In sync and nothing of ours waiting to be written: safe to hang up."""
        return self.session.in_sync and self.quiet

    @property
    def quiet(self) -> bool:
        """Nothing of ours waiting to be written."""
        return (not self.outbox and not self.sending and not self.pending_docs
                and not self.session.whole_pending)

    def held(self) -> dict[str, str]:
        """Documents not synced with this peer because one side refuses the other's changes,
        with the reason as this node would say it."""
        out = {d: f"refused from this peer: {why}" for d, why in self.session.blocked.items()}
        out.update({d: f"this peer refuses ours: {why}" for d, why in self.held_by_peer.items()})
        return out

    def unsynced(self) -> set[str]:
        """Documents whose heads differ between us and the peer (worker thread: reads
        documents)."""
        docs = self.node.policy.docs_visible_to(self.peer_id, self.node.docs.all_heads())
        return {d for d in docs | self.session.peer_docs
                if sorted(self.node.docs.heads(d) or []) != sorted(
                    self.session.peer_heads.get(d, []))}

    def poke(self, doc_ids: Iterable[str] = (), blobs: bool = False) -> None:
        self.pending_docs.update(doc_ids)
        self.pending_blobs |= blobs
        self.wake.set()

    def send(self, msg: Message) -> None:
        if self.reach and self.is_open:
            self.outbox.append(msg)
            self.wake.set()

    def retry_held(self) -> None:
        """The membership changed: ask once more for every document we refused."""
        self._retries.clear()
        self.poke_retry(set(self.session.blocked))

    def poke_retry(self, docs: set[str]) -> None:
        if docs:
            self.node._nursery_start(self._retry_now, docs)

    def drop(self, reason: str) -> None:
        """Close this link (superseded by another one to the same peer, or shutting down)."""
        self.reason = self.reason or reason
        self._scope.cancel()

    async def run(self) -> None:
        try:
            with self._scope:
                try:
                    hello = await self._step(self.session.start)
                except Refused as exc:  # not a member: hang up with nothing sent
                    self.reason = f"refused: {exc}"
                    return
                # Announce what this node reads beyond the session's own protocol.
                self.outbox.extend(
                    dataclasses.replace(m, features=[*m.features, FEATURE_REACH])
                    if isinstance(m, Hello) else m for m in hello)
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
        except PeerClosed as exc:
            self.reason = f"{PEER_CLOSED}{exc}"
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
                for frame in framing.encode(encode_message(Error(reason))):
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
        self.synced |= self.session.in_sync
        self._report_blocked()
        self._notify()
        return out

    def _report_blocked(self) -> None:
        """Log and tell the peer about documents we started or stopped refusing from it."""
        blocked = dict(self.session.blocked)
        for doc_id in blocked.keys() - self._reported.keys():
            log.warning("peer %s: %s; that document is not synced with this peer until it "
                        "sends changes this workspace accepts", self.short, blocked[doc_id])
            self.send(Held(doc_id, blocked[doc_id]))
            self.node._nursery_start(self._retry_later, doc_id)
        for doc_id in self._reported.keys() - blocked.keys():
            self.send(Held(doc_id, ""))
            self._retries.pop(doc_id, None)
        self._reported = blocked

    async def _retry_later(self, doc_id: str) -> None:
        """Ask the peer again for a refused document after a pause, a bounded number of
        times (the answer is refused again unless the membership changed meanwhile)."""
        tries = self._retries.get(doc_id, 0)
        if tries >= len(RETRY_DELAYS):
            return
        self._retries[doc_id] = tries + 1
        with trio.move_on_after(RETRY_DELAYS[tries]):
            await self.closed.wait()
        if doc_id in self.session.blocked and self.is_open:
            self._reported.pop(doc_id, None)  # a new refusal schedules the next ask
            await self._retry_now({doc_id})

    async def _retry_now(self, docs: set[str]) -> None:
        if self.is_open:
            for doc_id in docs:
                await trio.to_thread.run_sync(self.node.docs.forget_unapplied, doc_id)
                reason = self.session.blocked.get(doc_id)
                if reason:  # the peer starts its side afresh too: it may think it sent all
                    self.send(Held(doc_id, reason))
            self.session.restart_sync(docs)
            self.outbox.extend(await self._step(self.session.local_change, docs))
            self.wake.set()

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
                if isinstance(msg, Addrs | Held):
                    self._reach_message(msg)
                    continue
                if isinstance(msg, Hello):
                    self.reach = FEATURE_REACH in msg.features
                # Await first, then extend: ``self.outbox += await ...`` would read the list
                # before the await and write it back after, resurrecting a batch the sender
                # took meanwhile (so it would be sent twice).
                replies = await self._step(self.session.receive, msg)
                self.outbox.extend(replies)
                self.wake.set()
                if isinstance(msg, BlobMissing):  # another peer may have it: ask now
                    self.node.ask_for_blobs(besides=self)

    def _reach_message(self, msg: Addrs | Held) -> None:
        if self.session.state is not State.OPEN:
            raise ProtocolError(f"{type(msg).__name__} before hello")
        if isinstance(msg, Addrs):
            self.node.reach.heard(self, msg.peers)
        elif msg.reason:
            log.warning("peer %s refuses our changes to %s: %s", self.short, msg.doc_id,
                        msg.reason)
            self.held_by_peer[msg.doc_id] = msg.reason
            self.session.resend_whole(msg.doc_id)  # all it lacks at once, with the proofs
            self.wake.set()
        else:
            self.held_by_peer.pop(msg.doc_id, None)
        self._notify()

    def _local_step(self, docs: set[str], blobs: bool) -> list[Message]:
        # A document either side refuses is not offered on every local change (the refusing
        # side asks again on its own schedule, see ``_retry_later``).
        for doc_id in docs & self.held_by_peer.keys():
            # Our own change may make the refused ones acceptable (a member builds on a removed
            # member's changes it accepted in time): offer the document whole, once per change.
            del self.held_by_peer[doc_id]
            self.session.resend_whole(doc_id)
        docs = docs - self.session.blocked.keys() - self.held_by_peer.keys()
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
                for frame in framing.encode(encode_message(msg)):
                    await self.stream.write(frame)
                    self.bytes_out += len(frame)
        finally:
            self.sending = False


def _describe(msg: Message) -> str:
    doc = getattr(msg, "doc_id", None)
    size = len(getattr(msg, "data", b""))
    return f"{type(msg).__name__}" + (f" {doc}" if doc else "") + (f" +{size}" if size else "")
