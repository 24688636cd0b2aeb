"""The sync node's :class:`~bullpen.sync.session.DocPort` over a real :class:`Workspace`.

Every method is blocking CRDT or disk work: the node calls them from worker threads
(``trio.to_thread.run_sync``), never on the trio loop, and each takes ``ws.lock`` (the
workspace's methods do too) because the desktop app and the refresh poller use the same
documents from other threads.

Received data is applied atomically. Every change chunk of a sync message is verified
(checksum) and its header read (author, dependencies, hash) before automerge sees it, and the
policy refuses by those headers (authors) at once. The message is then received by the live
document, and *every change the document holds now and did not before* is judged (roles,
content, signatures) before anything is stored: that includes changes automerge kept waiting
for a dependency and releases only now, which came with an earlier message and were judged by
nothing then. One refused change refuses the whole message: the workspace drops its in-memory
copy (reloaded from the store, where nothing of it was written), so a peer's bad message leaves
no half-applied trace. A saved document this replica lacks is loaded and judged on its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from automerge.core import ROOT, Document, Message, SyncState

from bullpen.app.storage.blobs import IncomingBlob
from bullpen.app.workspace import Workspace
from bullpen.crdt.schema import INDEX_DOC
from bullpen.sync.errors import ProtocolError
from bullpen.sync.payloads import compress_saved, decompress_saved, inspect_sync
from bullpen.sync.policy import Policy, RefusedChanges
from bullpen.sync.session import Proofs

TRIM_AFTER_BYTES = 256 * 1024
MAX_WAITING_BYTES = 8 << 20  # changes a peer may leave waiting for dependencies, per document


@dataclass(frozen=True)
class _Carried:
    """The changes a sync message carried that the document lacked, and their size (each,
    about: the message's size over its changes; 0 for a whole document, which holds all
    its dependencies)."""

    hashes: set[bytes]
    size: int


class _Released(RefusedChanges):
    """Only changes an earlier message left waiting, which this one released, are refused."""

    def __init__(self, reason: str, hashes: set[bytes]) -> None:
        super().__init__(reason)
        self.hashes = hashes


def _find_malloc_trim() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return None


_malloc_trim = _find_malloc_trim()


class WorkspaceDocs:
    def __init__(self, ws: Workspace, policy: Policy) -> None:
        self.ws = ws
        self.policy = policy
        self._claims: set[str] = set()
        self._claims_lock = threading.Lock()
        # The last compressed save of each document sent whole, by heads: a hub that welcomes
        # several new peers saves and compresses each document once, not once per peer.
        self._saved: dict[str, tuple[list[bytes], bytes]] = {}
        self._merged = 0  # bytes of saved documents merged since the last trim
        # per document: changes waiting in automerge for dependencies -> their size (about)
        self._waiting: dict[str, dict[bytes, int]] = {}
        # per document: released changes refused and dropped (see _Released) -> the reason;
        # the session of the peer that sent them blocks the document (see dropped)
        self._dropped: dict[str, dict[bytes, str]] = {}

    # ----- documents -----------------------------------------------------------------------

    def all_heads(self) -> dict[str, list[bytes]]:
        with self.ws.lock:
            return {d: self.ws.heads(d) for d in self.ws.doc_ids()}

    def _existing(self, doc_id: str) -> Document | None:
        with self.ws.lock:
            if doc_id in self.ws.docs or self.ws.store.has_doc(doc_id):
                return self.ws.doc(doc_id)
            return None

    def heads(self, doc_id: str) -> list[bytes] | None:
        with self.ws.lock:
            if doc_id in self.ws.docs or self.ws.store.has_doc(doc_id):
                return self.ws.heads(doc_id)
            return None

    def lacks(self, doc_id: str, hashes: list[bytes]) -> bool:
        """Does this replica lack any of these changes of ``doc_id`` (a peer's heads)?"""
        with self.ws.lock:
            doc = self._existing(doc_id)
            if doc is None:
                return bool(hashes)
            if _has_marker(doc):
                return not all(_holds(doc, h) for h in hashes)
            return not set(hashes) <= {c.hash for c in doc.get_changes([])}

    def new_sync_state(self) -> Any:
        return SyncState()

    def generate(self, doc_id: str, state: Any) -> bytes | None:
        with self.ws.lock:
            doc = self._existing(doc_id)
            msg = (doc if doc is not None else Document()).generate_sync_message(state)
        return msg.encode() if msg is not None else None

    def receive(self, doc_id: str, state: Any, data: bytes,
                sigs: Proofs | None = None) -> set[bytes]:
        """Apply a sync message after judging it; ``sigs`` are the signatures the peer sent
        with it. Returns the hashes of the changes applied."""
        info = inspect_sync(data)
        offered = sigs or {}
        try:
            msg = Message.decode(data)
        except Exception as exc:  # the binding raises a bare Exception
            raise ProtocolError(f"undecodable sync message: {exc}") from None
        with self.ws.lock:
            doc = self._existing(doc_id)
            if info.changes == 0:
                # Nothing to apply; the state still learns the peer's heads. A document we
                # lack gets a throwaway empty stand-in, so no empty document appears here.
                (doc if doc is not None else Document()).receive_sync_message(state, msg)
                return set()
            fresh = info.headers or []
            if doc is not None and info.headers is not None and _has_marker(doc):
                # refused by their headers (authors) before automerge sees them
                fresh = [h for h in info.headers if not _holds(doc, h.hash)]
                self._refuse_any(doc_id, fresh)
            carried = _Carried({h.hash for h in fresh}, len(data) // max(1, info.changes))
            applied = self._apply_judged(doc_id, offered, lambda live: _receive(live, state, msg),
                                         carried)
        self._after_applied(doc_id)
        return applied

    def _apply_judged(self, doc_id: str, offered: Proofs, step: Callable[[Document], None],
                      carried: _Carried) -> set[bytes]:
        """``step`` applied to the live document and judged (:meth:`_judged`); returns the
        hashes of the changes it added."""
        applied: set[bytes] = set()
        try:
            self.ws.apply_remote(doc_id, self._judged(doc_id, offered, applied, step, carried))
        except _Released as exc:
            # Refused changes another message left waiting, released by this one: they were
            # dropped with the in-memory copy; this message is judged on its own.
            self._waiting.pop(doc_id, None)
            self._dropped.setdefault(doc_id, {}).update(dict.fromkeys(exc.hashes, str(exc)))
            self.ws.apply_remote(doc_id, self._judged(doc_id, offered, applied, step))
        except RefusedChanges:
            self._waiting.pop(doc_id, None)  # dropped with the in-memory copy
            raise
        dropped = self._dropped.get(doc_id)
        if dropped:  # refused once, sent again and accepted now (the membership changed)
            for change_hash in applied & dropped.keys():
                del dropped[change_hash]
        return applied

    def _judged(self, doc_id: str, offered: Proofs, applied: set[bytes],
                step: Callable[[Document], None], carried: _Carried | None = None,
                ) -> Callable[[Document], list[Any]]:
        """What :meth:`Workspace.apply_remote` runs: ``step`` on the live document, then every
        change it holds now and did not before is judged (a refusal raises, and the in-memory
        copy is dropped: nothing is stored). Their hashes go into ``applied``; returns the
        valid signatures, stored with them. ``carried``: the changes a sync message brought,
        to bound what waits in automerge for dependencies and to tell a refusal of this
        message from one of changes an earlier message left waiting."""
        judge = self.policy.content_judge(doc_id)

        def apply(live: Document) -> list[Any]:
            before = live.get_heads()
            with self.ws.judging_with_membership():
                step(live)
                new = live.get_changes(before)
                if carried is not None:
                    self._count_waiting(doc_id, carried, {c.hash for c in new})
                refused = self.policy.refused_changes(doc_id, new) or judge(live, new)
                valid: list[Any] = []
                if not refused:
                    refused, valid = self.policy.unsigned(doc_id, new, offered)
            if refused and carried is not None and not any(
                    c.hash in carried.hashes for c, _ in refused):
                raise _Released(f"refused change to {doc_id}: {refused[0][1]}",
                                {c.hash for c, _ in refused})
            _raise_refused(doc_id, refused)
            applied.update(c.hash for c in new)
            return valid

        return apply

    def _count_waiting(self, doc_id: str, carried: _Carried, applied: set[bytes]) -> None:
        """Keep what waits in automerge for dependencies bounded: a peer could otherwise park
        any amount of changes there, never judged until released (dropped with the
        in-memory copy, and the peer asked to send the document whole, see RefusedChanges)."""
        if not carried.size:
            return  # a whole document: nothing of it waits
        waiting = self._waiting.setdefault(doc_id, {})
        for change_hash in carried.hashes - applied:
            waiting[change_hash] = carried.size
        for change_hash in applied & waiting.keys():
            del waiting[change_hash]
        if sum(waiting.values()) > MAX_WAITING_BYTES:
            del self._waiting[doc_id]
            raise RefusedChanges(f"refused change to {doc_id}: over {MAX_WAITING_BYTES >> 20} "
                                 f"MiB of changes wait for dependencies the peer did not send")

    def dropped(self, doc_id: str) -> dict[bytes, str]:
        """Changes of ``doc_id`` refused when a later message released them, with the reason:
        the peer that sent them counts them as sent and would never send them again, so its
        session blocks the document (reported, asked again) instead of exchanging heads for
        ever."""
        return self._dropped.get(doc_id, {})

    def forget_unapplied(self, doc_id: str) -> None:
        """Drop changes waiting inside automerge for dependencies we refused (reload from the
        store): before asking a peer again for a refused document, or our sync message would
        count them as held and the peer would never send them again with what they need."""
        self.ws.unload(doc_id)
        self._waiting.pop(doc_id, None)

    def _after_applied(self, doc_id: str) -> None:
        """A membership change (in the index) may have removed someone whose changes this
        replica holds: build on them so every member converges (see
        :meth:`Workspace.adopt_former_members_changes`)."""
        if doc_id == INDEX_DOC:
            self.ws.adopt_former_members_changes()

    def _proven(self, doc_id: str, new: list[Any], offered: Proofs) -> list[Any]:
        """Raise when a ``new`` change is not proven its author's by a signature (see
        :mod:`bullpen.app.members.authorship`); else the valid signatures, to store with them."""
        refused, valid = self.policy.unsigned(doc_id, new, offered)
        _raise_refused(doc_id, refused)
        return valid

    def _refuse_any(self, doc_id: str, new: list[Any]) -> None:
        """Raise when the policy refuses any of the ``new`` changes (or change headers): an
        author who is a non-member, a removed member, a guest outside their space."""
        _raise_refused(doc_id, self.policy.refused_changes(doc_id, new))

    def saved(self, doc_id: str) -> bytes:
        with self.ws.lock:
            heads = sorted(self.ws.heads(doc_id))  # without loading an unloaded text
            cached = self._saved.get(doc_id)
            if cached is not None and cached[0] == heads:
                return cached[1]
            data = self.ws.doc(doc_id).save()
        out = compress_saved(data)
        self._saved[doc_id] = (heads, out)
        return out

    def merge_saved(self, doc_id: str, data: bytes, sigs: Proofs | None = None) -> list[bytes]:
        raw = decompress_saved(data)
        try:
            loaded = Document.load(raw)
        except Exception as exc:
            raise ProtocolError(f"saved document does not load: {exc}") from None
        with self.ws.lock:
            if self._existing(doc_id) is not None:
                whole = _Carried({c.hash for c in loaded.get_changes([])}, 0)
                self._apply_judged(doc_id, sigs or {}, lambda live: live.merge(loaded), whole)
            else:
                new = loaded.get_changes([])
                self._refuse_any(doc_id, new)
                _raise_refused(doc_id, self.policy.content_judge(doc_id)(loaded, new))
                self.ws.merge_saved(doc_id, raw, loaded, self._proven(doc_id, new, sigs or {}))
        self._after_applied(doc_id)
        self._merged += len(raw)
        return loaded.get_heads()

    def signatures(self, doc_id: str, hashes: list[bytes]) -> Proofs:
        """The stored authors' signatures of these changes (for a sync message)."""
        return self.ws.store.sigs_for(hashes)

    def whole_signatures(self, doc_id: str) -> Proofs:
        """The signatures that prove every change of ``doc_id`` (sent with it whole)."""
        return self.ws.store.newest_sigs(doc_id)

    # ----- memory --------------------------------------------------------------------------

    def needs_trim(self) -> bool:
        """Have whole documents been merged (a first sync) since the last :meth:`trim`?"""
        return self._merged >= TRIM_AFTER_BYTES

    def trim(self) -> None:
        """Give the heap freed after a big first sync back to the OS (glibc only): loading
        and merging saved documents leaves hundreds of MB of free but mapped pages."""
        self._merged = 0
        if _malloc_trim is not None:
            _malloc_trim(0)

    # ----- blobs ---------------------------------------------------------------------------

    def missing_blobs(self) -> list[str]:
        shas = {r.get("sha256") for r in self.ws.list("resource")}
        return sorted(s for s in shas if isinstance(s, str) and not self._has_blob(s))

    def _has_blob(self, sha: str) -> bool:
        try:
            return self.ws.blobs.has(sha)
        except ValueError:  # not a sha256: a record no peer can serve
            return True

    def claim_blob(self, sha256: str) -> bool:
        """Only one peer at a time is asked for a given blob."""
        with self._claims_lock:
            if sha256 in self._claims:
                return False
            self._claims.add(sha256)
            return True

    def release_blob(self, sha256: str) -> None:
        with self._claims_lock:
            self._claims.discard(sha256)

    def blob_source(self, sha256: str) -> tuple[int, Iterator[bytes]] | None:
        """(size, plaintext chunks read from disk as they are asked for), None when absent."""
        if not self._has_blob(sha256):
            return None
        return self.ws.blobs.size(sha256), self.ws.blobs.chunks(sha256)

    def blob_sink(self, sha256: str) -> IncomingBlob:
        return self.ws.blobs.incoming(sha256)


# ----- reading a document's change graph cheaply -----------------------------------------------

_MARKER = "_doc"  # written by every document's genesis change (bullpen.crdt.records.genesis)


def _has_marker(doc: Document) -> bool:
    return doc.get(ROOT, _MARKER) is not None


def _holds(doc: Document, change_hash: bytes) -> bool:
    """Does ``doc`` hold the change ``change_hash``? Reading the genesis key as of that change
    answers in microseconds (None for a change it lacks), where listing changes costs
    milliseconds. Only for documents with the marker (:func:`_has_marker`)."""
    return doc.get(ROOT, _MARKER, [change_hash]) is not None


def _raise_refused(doc_id: str, refused: list[tuple[Any, str]]) -> None:
    """Refuse the whole message (nothing of it is applied) when any change was refused."""
    if refused:
        raise RefusedChanges(f"refused change to {doc_id}: {refused[0][1]}")


def _receive(doc: Document, state: SyncState, msg: Message) -> None:
    try:
        doc.receive_sync_message(state, msg)
    except Exception as exc:  # the binding raises a bare Exception
        raise ProtocolError(f"sync message rejected by automerge: {exc}") from None
