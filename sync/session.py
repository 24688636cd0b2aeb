"""The per-peer sync session: a sans-I/O state machine over decoded messages.

A :class:`Session` is fed what its peer sent (:meth:`Session.receive`) and what changed locally
(:meth:`Session.local_change`, :meth:`Session.want_blobs`), and returns the messages to send.
It never touches a socket, a thread or a clock, and it reaches documents only through a
:class:`DocPort` (the workspace in production, a recording fake in tests), so every protocol
rule is tested without libp2p. The node runs each step in a worker thread, one step at a time
per session.

Protocol, after both sides sent :class:`~.messages.Hello`:

* a document the peer lacks is sent whole (:class:`~.messages.Saved`, compressed): a first
  automerge sync of a big document costs 10-18x its saved size. After the hello they are
  sent one per step (:meth:`Session.next_whole`, records before long texts), so the peer
  merges one while the next is saved instead of waiting for all;
* a document both hold with different heads is synced with automerge sync messages, one
  ``SyncState`` per (peer, document) kept for the life of the connection; every received sync
  message is answered with whatever the kept state says the peer still needs, which is also how
  changes relayed from a third peer travel on. Changes the peer sent us are stripped from every
  message to it (automerge would echo them when the peer's last Bloom filter predates them),
  and a peer whose hello lists ``zsync`` gets sync messages of 1 KB or more zlib-compressed;
* resource blobs the workspace references but lacks are requested from the peer, and arrive in
  :data:`~.messages.BLOB_CHUNK`-sized pieces, streamed from and to disk (``blobsync.py``).

Anything that breaks these rules raises :class:`~.messages.ProtocolError`; the node then drops
the peer. The port applies received data atomically, so nothing from a bad message is kept.
One exception: changes the policy refuses (:class:`~.policy.RefusedChanges`, e.g. a removed
member's, relayed by a member who accepted them before it learned of the removal) only block
that document with this peer (:attr:`Session.blocked`); the other documents keep syncing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from bullpen.crdt.schema import INDEX_DOC

from .blobsync import BlobTransfer
from .messages import (
    FEATURE_SIGS,
    FEATURE_ZSYNC,
    MAX_SIGS,
    BlobData,
    BlobMissing,
    BlobWant,
    Error,
    Hello,
    Message,
    ProtocolError,
    Saved,
    Sigs,
    Sync,
)
from .parking import Parking
from .payloads import inspect_sync, strip_changes
from .policy import Policy, RefusedChanges
from .ports import DocPort, Proofs


class Refused(Exception):
    """The peer is not one to sync with (other workspace, version, not allowed): not hostile."""


class PeerClosed(Exception):
    """The peer ended the session with an :class:`~.messages.Error` message."""


MAX_PENDING_SIGS = 100_000  # signatures received ahead of their changes, per session


class State(enum.Enum):
    NEW = "new"
    HELLO_SENT = "hello sent"
    OPEN = "open"
    CLOSED = "closed"


class Session:
    def __init__(
        self,
        port: DocPort,
        peer_id: str,
        workspace_id: str,
        *,
        policy: Policy,
        name: str = "",
        addrs: Iterable[str] = (),
    ) -> None:
        self.port = port
        self.peer_id = peer_id
        self.workspace_id = workspace_id
        self.policy = policy
        self.name = name
        self.addrs = list(addrs)
        self.state = State.NEW
        self.peer_name = ""
        self.peer_addrs: list[str] = []
        self.peer_zsync = False  # the peer reads zlib-compressed sync messages
        self.peer_sigs = False  # the peer reads Sigs messages
        # Authors' signatures the peer sent for changes not applied yet, per document: a
        # change waiting in automerge for a dependency is proven when it is finally applied.
        self._sigs: dict[str, Proofs] = {}
        self.peer_docs: set[str] = set()
        self.peer_heads: dict[str, list[bytes]] = {}
        self.behind: int | None = None  # documents whose heads differ from the peer's
        self._sync_states: dict[str, Any] = {}
        # Hashes of the changes this peer sent us, per document: it holds them, so they are
        # never sent back (automerge relays them when the peer's Bloom filter predates them).
        self._from_peer: dict[str, set[bytes]] = {}
        self.blobs = BlobTransfer(port)
        self._whole: list[str] = []  # documents the peer lacks, still to send whole
        # documents the peer refused changes of, to send whole once more (see resend_whole),
        # and the heads each document had when last sent whole
        self._resend: list[str] = []
        self._sent_whole: dict[str, list[bytes]] = {}
        # Documents whose last changes from this peer were refused, with the reason: not
        # applied, not counted as behind (nothing more can be exchanged), and reported; the
        # next accepted changes clear it.
        self.blocked: dict[str, str] = {}
        # Blocked documents we asked the peer for again (restart_sync): only their changes
        # are applied (and judged) until refused again. Others' sync messages are ignored:
        # each refusal drops the document from memory, and reloading a big one is the cost a
        # peer repeating refused changes would make us pay, message after message.
        self._asked_again: set[str] = set()
        self.parking = Parking(self._index_ahead)  # while the peer's index is ahead of ours

    # ----- inputs ----------------------------------------------------------------------------

    def start(self) -> list[Message]:
        if self.state is not State.NEW:
            raise RuntimeError("session already started")
        if not self.policy.is_allowed(self.peer_id):
            # The hello names the workspace, us and our addresses: a non-member gets nothing.
            self.state = State.CLOSED
            raise Refused("peer is not a member of this workspace")
        self.state = State.HELLO_SENT
        heads = self.port.all_heads()
        visible = self.policy.docs_visible_to(self.peer_id, heads)
        docs = {d: sorted(h.hex() for h in heads[d]) for d in sorted(visible)}
        return [Hello(self.workspace_id, docs, self.addrs, self.name,
                      features=[FEATURE_ZSYNC, FEATURE_SIGS])]

    def receive(self, msg: Message) -> list[Message]:
        if self.state is State.CLOSED:
            return []
        if isinstance(msg, Error):
            self.state = State.CLOSED
            raise PeerClosed(msg.reason)
        if isinstance(msg, Hello):
            return self._hello(msg)
        if self.state is not State.OPEN:
            raise ProtocolError(f"{type(msg).__name__} before hello")
        match msg:
            case Sigs():
                self._take_sigs(msg)
                out = []
            case Sync() | Saved():
                self._check_visible(msg.doc_id)
                out = [] if self.parking.holds(msg) else self._doc_message(msg)
            case BlobWant():
                out = self._blob_want(msg.sha256)
            case BlobData():
                self.blobs.receive(msg)
                out = []
            case BlobMissing():
                self.blobs.lacking(msg.sha256)  # the link asks the other peers at once
                out = []
        out += self._unpark()
        self._update_progress()
        return out

    def local_change(self, doc_ids: Iterable[str]) -> list[Message]:
        """Documents changed here (a local write, or changes received from another peer)."""
        if self.state is not State.OPEN:
            return []  # the hello exchange will compare heads anyway
        out = self._unpark()  # our index may have caught up with the peer's (from another peer)
        # the index first: its heads let the peer hold back what they allow (see parking.py)
        for doc_id in sorted(self.policy.docs_visible_to(self.peer_id, doc_ids),
                             key=lambda d: (d != INDEX_DOC, d)):
            out += self._offer(doc_id)
        self._update_progress()
        return out

    def restart_sync(self, doc_ids: Iterable[str]) -> None:
        """Start the automerge sync of ``doc_ids`` with this peer afresh. After a refusal
        either side's sync state is wrong: the sender's counts the refused changes as sent,
        so they would never be offered again, even once a change built on them makes them
        acceptable (a removed member's change a member accepted in time)."""
        for doc_id in doc_ids:
            self._sync_states.pop(doc_id, None)
            self._asked_again.add(doc_id)

    def resend_whole(self, doc_id: str) -> None:
        """Send ``doc_id`` whole at the next step (:meth:`next_whole`): the peer then judges
        all it lacks at once, so a change that makes earlier ones acceptable (a member's
        change building on a removed member's) arrives with them, and so do the proofs of
        every author's newest change, which a sync message split by a Bloom filter false
        positive may lack for the part the peer could apply."""
        if not self.policy.docs_visible_to(self.peer_id, [doc_id]):
            return  # a peer's Held names any document it likes: send only what it may see
        self.restart_sync([doc_id])  # its next ask gets all it lacks, whatever we sent before
        heads = self.port.heads(doc_id)
        if heads is not None and sorted(heads) == self._sent_whole.get(doc_id):
            return  # it has judged this very state whole already: a Held cannot make us repeat
        if doc_id not in self._resend:
            self._resend.append(doc_id)

    def want_blobs(self) -> list[Message]:
        """Ask this peer for blobs the workspace references but lacks (and no one else is
        already sending)."""
        if self.state is not State.OPEN:
            return []
        return self.blobs.want()

    def close(self) -> None:
        """The connection ended: give back blob claims so another peer can serve them."""
        self.state = State.CLOSED
        self.blobs.close()

    # ----- state -----------------------------------------------------------------------------

    @property
    def in_sync(self) -> bool:
        """Both sides hold the same heads for every shared document and no blob is pending."""
        return (self.state is State.OPEN and self.behind == 0 and not self.blobs.receiving
                and not self.blobs.sending and not self._whole and not self._resend
                and not self.parking.waiting)

    def _update_progress(self) -> None:
        docs = self.policy.docs_visible_to(self.peer_id, self.port.all_heads()) | self.peer_docs
        behind = 0
        for doc_id in docs - set(self.blocked):
            mine = self.port.heads(doc_id)
            if mine is None or sorted(mine) != sorted(self.peer_heads.get(doc_id, [])):
                behind += 1
        self.behind = behind

    # ----- steps -----------------------------------------------------------------------------

    def _hello(self, hello: Hello) -> list[Message]:
        if self.state is not State.HELLO_SENT:
            raise ProtocolError("unexpected hello")
        if hello.version != 1:
            raise Refused(f"protocol version {hello.version} is not supported")
        if hello.workspace_id != self.workspace_id:
            raise Refused("peer belongs to another workspace")
        if not self.policy.is_allowed(self.peer_id):
            raise Refused("peer is not a member of this workspace")
        self.state = State.OPEN
        self.peer_name = hello.name
        self.peer_addrs = hello.addrs
        self.peer_zsync = FEATURE_ZSYNC in hello.features
        self.peer_sigs = FEATURE_SIGS in hello.features
        visible = self.policy.docs_visible_to(self.peer_id, hello.docs)
        self.peer_docs = set(visible)
        self.peer_heads = {d: [bytes.fromhex(h) for h in hello.docs[d]] for d in visible}
        mine = self.port.all_heads()
        out: list[Message] = []
        lacking = []
        for doc_id in sorted(self.policy.docs_visible_to(self.peer_id, mine)):
            if doc_id not in self.peer_docs:
                lacking.append(doc_id)
            elif sorted(mine[doc_id]) != sorted(self.peer_heads[doc_id]):
                out += self._generate(doc_id)
        # The workspace index first (a newcomer judges everything else by the membership it
        # holds), then record collections: a newcomer's pipeline and contacts matter before
        # the bodies of long documents. The peer's heads of these stay unknown until it
        # answers with a sync message after merging: only then are they counted as held by
        # both.
        self._whole = sorted(lacking, key=lambda d: (d != INDEX_DOC, d.startswith("doc:"), d))
        self.peer_docs.update(lacking)
        out += self.want_blobs()
        self._update_progress()
        return out

    def next_whole(self) -> list[Message]:
        """The next bulk piece for the peer: a document it lacks, saved whole, then the next
        chunk of a file it asked for (nothing when none is left). The node asks for one per
        step and sends it before asking again, so saving the next one here overlaps the
        peer's merge of the last, and a file is read from disk one chunk at a time."""
        while (self._whole or self._resend) and self.state is State.OPEN:
            doc_id = (self._whole or self._resend).pop(0)
            # asked again now: the membership may have changed since it was queued
            if self.port.heads(doc_id) is not None and self.policy.docs_visible_to(
                    self.peer_id, [doc_id]):
                return self._whole_doc(doc_id)
        return self.blobs.next_chunk() if self.state is State.OPEN else []

    @property
    def whole_pending(self) -> bool:
        return self.state is State.OPEN and (bool(self._whole or self._resend)
                                             or self.blobs.sending)

    def _offer(self, doc_id: str) -> list[Message]:
        """What to send so the peer gets our state of ``doc_id``."""
        heads = self.port.heads(doc_id)
        if heads is None or doc_id in self._whole or doc_id in self._resend:
            return []  # a queued document goes whole, with whatever it holds by then
        if doc_id not in self.peer_docs:
            # The peer's heads stay unknown until it answers with a sync message after merging:
            # only then do we count the document as held by both.
            self.peer_docs.add(doc_id)
            return self._whole_doc(doc_id)
        return self._generate(doc_id)

    def _whole_doc(self, doc_id: str) -> list[Message]:
        """``doc_id`` saved whole, after the signatures that prove its authors."""
        self._sent_whole[doc_id] = sorted(self.port.heads(doc_id) or [])
        data = self.port.saved(doc_id)
        sigs = self.port.whole_signatures(doc_id) if self.peer_sigs else {}
        return [*_sigs_messages(doc_id, sigs), Saved(doc_id, data)]

    def _generate(self, doc_id: str) -> list[Message]:
        data = self.port.generate(doc_id, self._state(doc_id))
        if data is None:
            return []
        data = strip_changes(data, self._from_peer.get(doc_id, set()))
        out: list[Message] = [Sync(doc_id, data, deflate=self.peer_zsync)]
        if self.peer_sigs:
            headers = inspect_sync(data).headers
            sigs = self.port.signatures(doc_id, [h.hash for h in headers]) if headers else {}
            if sigs:
                out[:0] = _sigs_messages(doc_id, sigs)
        return out

    def _index_ahead(self) -> bool:
        """Does the peer's index hold changes ours lacks, which it may still send us?"""
        theirs = self.peer_heads.get(INDEX_DOC)
        return (bool(theirs) and INDEX_DOC not in self.blocked
                and self.port.lacks(INDEX_DOC, theirs))

    def _unpark(self) -> list[Message]:
        """Handle the held-back messages once they need wait no longer."""
        return [out for msg in self.parking.release()
                if self.policy.docs_visible_to(self.peer_id, [msg.doc_id])  # may have changed
                for out in self._doc_message(msg)]

    def _doc_message(self, msg: Sync | Saved) -> list[Message]:
        return self._sync(msg) if isinstance(msg, Sync) else self._saved(msg)

    def _state(self, doc_id: str) -> Any:
        state = self._sync_states.get(doc_id)
        if state is None:
            state = self._sync_states[doc_id] = self.port.new_sync_state()
        return state

    def _check_visible(self, doc_id: str) -> None:
        if not self.policy.docs_visible_to(self.peer_id, [doc_id]):
            raise ProtocolError(f"document {doc_id!r} is not shared with this peer")

    def _take_sigs(self, msg: Sigs) -> None:
        self._check_visible(msg.doc_id)
        pool = self._sigs.setdefault(msg.doc_id, {})
        pool.update(msg.sigs)
        if sum(len(p) for p in self._sigs.values()) > MAX_PENDING_SIGS:
            raise ProtocolError("too many signatures ahead of their changes")

    def _sync(self, msg: Sync) -> list[Message]:
        info = inspect_sync(msg.data)
        if msg.doc_id in self.blocked and msg.doc_id not in self._asked_again:
            # Refused already, and not asked for again: not even looked at, nor answered. A
            # message of heads alone answered would start an endless exchange of heads: the
            # peer counts the refused changes as sent and never sends them again by sync.
            return []
        pool = self._sigs.get(msg.doc_id, {})
        try:
            applied = self.port.receive(msg.doc_id, self._state(msg.doc_id), msg.data, pool)
        except RefusedChanges as exc:
            self._refused(msg.doc_id, exc)
            self._sigs.pop(msg.doc_id, None)  # what waited in automerge was dropped too
            return []
        if applied:
            for key in [k for k in pool if k[0] in applied]:
                del pool[key]
        dropped = self.port.dropped(msg.doc_id)
        sent = self._from_peer.get(msg.doc_id, set()) & dropped.keys()
        if sent:  # this peer's earlier changes, released now and refused (see DocPort.dropped)
            self._refused(msg.doc_id, RefusedChanges(dropped[next(iter(sent))]))
            return []
        if info.changes:  # accepted changes (a message of heads alone settles nothing)
            self.blocked.pop(msg.doc_id, None)
        self._unqueue(msg.doc_id)
        if info.headers:
            self._from_peer.setdefault(msg.doc_id, set()).update(h.hash for h in info.headers)
        self.peer_docs.add(msg.doc_id)
        self.peer_heads[msg.doc_id] = info.heads
        return self._generate(msg.doc_id)

    def _saved(self, msg: Saved) -> list[Message]:
        try:
            heads = self.port.merge_saved(msg.doc_id, msg.data, self._sigs.pop(msg.doc_id, {}))
        except RefusedChanges as exc:
            self._refused(msg.doc_id, exc)
            return []
        self.blocked.pop(msg.doc_id, None)
        self._unqueue(msg.doc_id)
        self.peer_docs.add(msg.doc_id)
        self.peer_heads[msg.doc_id] = heads
        return self._generate(msg.doc_id)

    def _refused(self, doc_id: str, exc: RefusedChanges) -> None:
        """Block ``doc_id`` with this peer, saying why (and that an older peer must upgrade
        when that is the cause: it sends no signatures, so none of its changes is proven)."""
        reason = str(exc)
        if not self.peer_sigs and "not signed by its author" in reason:
            reason += " (this peer runs an older Bullpen that does not sign changes: upgrade it)"
        self.blocked[doc_id] = reason
        self._asked_again.discard(doc_id)

    def _unqueue(self, doc_id: str) -> None:
        """The peer holds ``doc_id`` after all (a third peer gave it): sync, not send whole."""
        if doc_id in self._whole:
            self._whole.remove(doc_id)

    def _blob_want(self, sha: str) -> list[Message]:
        if not self.policy.blob_visible(self.peer_id, sha):
            return [BlobMissing(sha)]  # the same answer as for a file we lack: nothing leaks
        return self.blobs.serve(sha)


def _sigs_messages(doc_id: str, sigs: Proofs) -> list[Message]:
    """``sigs`` in Sigs messages of at most :data:`~.messages.MAX_SIGS` entries each."""
    items = list(sigs.items())
    return [Sigs(doc_id, dict(items[i:i + MAX_SIGS])) for i in range(0, len(items), MAX_SIGS)]
