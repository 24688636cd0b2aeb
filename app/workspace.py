"""The workspace: the use cases the CLI and the desktop app call, over documents, store and index.

A workspace is a set of automerge documents: ``index`` (workspace settings, members, the
document catalogue), one collection per record family (``pipeline``, ``contacts``, ...), and one
``doc:<id>`` per co-edited text document. Every write is one automerge transaction persisted as
one change row before the call returns, then reflected in the derived index and announced to
listeners (the sync node, the UI) as a :class:`ChangeSet`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType, SyncState

from bullpen.crdt import changes as am_changes
from bullpen.crdt import records as rec
from bullpen.crdt import textdoc
from bullpen.crdt.checks import check_span
from bullpen.crdt.history import HistoryEntry, record_history
from bullpen.crdt.schema import (
    COLLECTIONS,
    DEFAULT_STAGES,
    INDEX_DOC,
    KINDS,
    SPACE_KINDS,
    Stage,
    ValidationError,
    genesis_shape,
    kind_spec,
    readable,
    space_doc_id,
    text_doc_id,
    validate,
)

from . import authorship, old_changes
from .authorship import Signature
from .authz import held_role, require_manager, role_limited
from .blobs import BlobStore
from .identity import Identity, load_identity, peer_id_from_public, save_identity
from .index import Index
from .keys import PassphraseSource, create_key, subkey, unlock
from .limits import check_text_length
from .member_lookup import member_named
from .membership import MembershipState, founding_entry, new_entry, replay
from .store import Store, StoreError

STORE_FILE = "store.db"
INDEX_FILE = "index.db"
COMPACT_AFTER_ROWS = 500
MAX_LOADED_TEXTS = 8  # text documents kept in memory (Workspace.doc unloads the rest)
MEMBERSHIP = "membership"  # settings map of the index document: entry id -> signed entry
INVITES = "invites"  # settings map of the index document: invite hash -> JSON


class WorkspaceError(RuntimeError):
    """A request that cannot be done (unknown id, no workspace here ...): one plain line."""


@dataclass
class ChangeSet:
    """What one write or one batch of received changes changed, so views refresh only that."""

    doc_id: str
    ids: set[str] = field(default_factory=set)
    remote: bool = False
    kinds: set[str] = field(default_factory=set)
    # Record values before and after (None: did not exist), for notifications and views.
    before: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    after: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def _parse_heads(text: str) -> list[bytes] | None:
    """Heads as the index stores them (``heads_hex``); None when unreadable (an index
    written by hand or damaged is rebuilt, never trusted)."""
    try:
        return [bytes.fromhex(h) for h in text.split(",") if h]
    except ValueError:
        return None


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def new_ids(count: int) -> list[str]:
    """Ids for a bulk import: one random 40-bit prefix and a counter, so the change that
    creates them can name them as a range (see crdt.records.encode_ids)."""
    if count > 0xFFFFFF:
        return [new_id() for _ in range(count)]
    prefix = uuid.uuid4().hex[:10]
    return [f"{prefix}{n:06x}" for n in range(count)]


def _entry_parents(text: Any) -> list[str]:
    """The parents a stored membership entry names ([] for one no peer accepts: not text,
    not JSON; replay rejects those, and they must not stop anyone from adding entries)."""
    try:
        parents = json.loads(text)["payload"]["parents"]
    except (ValueError, KeyError, TypeError):
        return []
    return [p for p in parents if isinstance(p, str)] if isinstance(parents, list) else []


def present(record_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the API shows it: meta fields without their underscore."""
    out: dict[str, Any] = {"id": record_id, "kind": raw.get("_kind")}
    for key, value in raw.items():
        if key.startswith("_"):
            if key != "_kind":
                out[key[1:]] = value
        else:
            out[key] = value
    out["deleted"] = bool(out.get("deleted"))
    return readable(out["kind"], out)  # whatever a peer wrote, callers get sound values


class Workspace:
    def __init__(self, home: Path, key: bytes, identity: Identity) -> None:
        self.home = home
        self.store = Store(home / STORE_FILE, subkey(key, "store"))
        store = self.store
        self.identity = identity
        self.peer_id = identity.peer_id
        self.lock = threading.RLock()
        # A fresh actor per process: the CLI and a running node of the same user write to the
        # same documents at once, and two writers must never share an actor's sequence numbers.
        self.actor = identity.public + os.urandom(4)
        self.docs: dict[str, Document] = {}
        # Text documents (``doc:*``) loaded, least recently used first: at most
        # MAX_LOADED_TEXTS stay in memory (each costs MBs in automerge's in-memory form);
        # evicted ones keep only their heads here until the next load.
        self._loaded_texts: OrderedDict[str, None] = OrderedDict()
        self._unloaded_heads: dict[str, list[bytes]] = {}
        self._generations: dict[str, int] = {}
        self._cursor = store.max_seq()
        self.blobs = BlobStore(home / "blobs", key)
        self.index = Index(home / INDEX_FILE, subkey(key, "index"))
        self._listeners: list[Callable[[ChangeSet], None]] = []
        self._membership: tuple[str, MembershipState] | None = None
        self._stale_texts: set[str] = set()  # documents whose search text is behind
        self._lowered_seen: frozenset[str] = frozenset()  # see adopt_former_members_changes
        self.name = store.get_meta("name") or ""
        self.workspace_id = store.get_meta("workspace_id") or ""

    # ----- opening -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: Path,
        name: str,
        title: str,
        *,
        currency: str = "EUR",
        passphrase: str | None = None,
        ask: PassphraseSource | None = None,
    ) -> Workspace:
        """A new identity and a new workspace whose first member (a manager) is this user."""
        if not title.strip():
            raise ValidationError("the workspace title must not be empty")
        identity = Identity.generate()
        workspace_id, founder_id, founder_text = founding_entry(identity, name, now_iso())
        ws = cls._new_profile(home, name, workspace_id, identity, passphrase, ask)
        for doc_id in COLLECTIONS:
            ws._ensure_doc(doc_id)
        stages = [s.__dict__ for s in DEFAULT_STAGES]

        def setup(tx: Any) -> set[str]:
            settings = rec.container(tx, rec.SETTINGS)
            tx.put(settings, "workspace_id", ScalarType.Str, ws.workspace_id)
            tx.put(settings, "title", ScalarType.Str, title)
            tx.put(settings, "currency", ScalarType.Str, currency.upper())
            tx.put(settings, "stages", ScalarType.Str, json.dumps(stages))
            log = tx.put_object(settings, MEMBERSHIP, ObjType.Map)
            tx.put(log, founder_id, ScalarType.Str, founder_text)
            tx.put_object(settings, INVITES, ObjType.Map)
            return set()

        ws._write(INDEX_DOC, setup)
        return ws

    @classmethod
    def create_joining(
        cls,
        home: Path,
        name: str,
        workspace_id: str,
        *,
        passphrase: str | None = None,
        ask: PassphraseSource | None = None,
    ) -> Workspace:
        """A new identity with no documents yet: the profile of someone joining an existing
        workspace, who receives its documents from a member by sync."""
        return cls._new_profile(home, name, workspace_id, Identity.generate(), passphrase, ask)

    @classmethod
    def _new_profile(
        cls,
        home: Path,
        name: str,
        workspace_id: str,
        identity: Identity,
        passphrase: str | None,
        ask: PassphraseSource | None,
    ) -> Workspace:
        """A profile folder with its key, identity and store, for workspace ``workspace_id``."""
        if not name.strip():
            raise ValidationError("name must not be empty")
        home.mkdir(parents=True, exist_ok=True)
        if (home / STORE_FILE).exists():
            raise WorkspaceError(f"{home} already holds a workspace (use another --home)")
        key = create_key(home, passphrase, ask)
        save_identity(home, identity, key)
        ws = cls(home, key, identity)
        with ws.store.transaction():
            ws.store.set_meta("name", name)
            ws.store.set_meta("workspace_id", workspace_id)
            old_changes.mark_done(ws)
        ws.name, ws.workspace_id = name, workspace_id
        return ws

    @classmethod
    def open(
        cls, home: Path, *, passphrase: str | None = None, ask: PassphraseSource | None = None
    ) -> Workspace:
        """Open an existing profile; the key comes from the passphrase, env or keyring."""
        if not (home / STORE_FILE).exists():
            raise WorkspaceError(
                f"no workspace in {home}: run `bullpen init --name NAME --workspace TITLE` "
                f"or `bullpen join CODE`"
            )
        key = unlock(home, passphrase, ask)
        try:
            identity = load_identity(home, key)
        except FileNotFoundError:
            raise StoreError(f"{home / 'identity.key'}: missing, this profile has no key") from None
        ws = cls(home, key, identity)
        ws.check_index()
        old_changes.prove(ws)
        return ws

    def close(self) -> None:
        with self.lock:
            self._flush_texts(loaded_only=True)
            self.compact()
            self.index.close()
            self.store.close()

    # ----- documents -----------------------------------------------------------------------

    def doc_ids(self) -> list[str]:
        with self.lock:
            return sorted(set(self.store.doc_ids()) | set(self.docs))

    def doc(self, doc_id: str) -> Document:
        """The live document (loaded from the store on first use)."""
        with self.lock:
            found = self.docs.get(doc_id)
            if found is None:
                found = self._load(doc_id)
            self._touch(doc_id)
            return found

    def heads(self, doc_id: str) -> list[bytes]:
        """The heads of ``doc_id``, without loading a text document that was unloaded."""
        with self.lock:
            found = self.docs.get(doc_id)
            if found is not None:
                return found.get_heads()
            cached = self._unloaded_heads.get(doc_id)
            if cached is not None:
                return list(cached)
            return self.doc(doc_id).get_heads()

    def unload(self, doc_id: str) -> None:
        """Drop ``doc_id`` from memory; the next :meth:`doc` reloads it from the store, which
        holds every change of a loaded document (each is persisted before it is visible)."""
        with self.lock:
            self._loaded_texts.pop(doc_id, None)
            doc = self.docs.get(doc_id)
            if doc is None:
                return
            heads = doc.get_heads()
            if not heads:
                return  # an empty stand-in for a document that has not arrived: not stored
            del self.docs[doc_id]
            self._unloaded_heads[doc_id] = heads

    def _touch(self, doc_id: str) -> None:
        """Mark a text document as just used; unload the least recently used beyond
        MAX_LOADED_TEXTS (collections are never unloaded)."""
        if not doc_id.startswith("doc:") or doc_id not in self.docs:
            return
        self._loaded_texts[doc_id] = None
        self._loaded_texts.move_to_end(doc_id)
        while len(self._loaded_texts) > MAX_LOADED_TEXTS:
            oldest = next(iter(self._loaded_texts))
            if oldest == doc_id:
                break
            self.unload(oldest)

    def _load(self, doc_id: str) -> Document:
        stored = self.store.load(doc_id)
        if stored.snapshot is None and not stored.changes:
            raise WorkspaceError(f"no document {doc_id!r} in this workspace")
        try:
            doc = am_changes.load(stored.snapshot, [b for _, b in stored.changes])
        except Exception as exc:  # automerge raises plain Exception on corrupt chunks
            raise StoreError(
                f"{self.store.path}: document {doc_id!r} cannot be read ({exc}); "
                f"{len(stored.changes)} change rows and "
                f"{'a' if stored.snapshot else 'no'} snapshot are stored. "
                f"Run `bullpen recover` to keep every readable change, or re-sync from a "
                f"teammate."
            ) from exc
        doc.set_actor(self.actor)
        self.docs[doc_id] = doc
        self._unloaded_heads.pop(doc_id, None)
        self._generations[doc_id] = stored.generation
        return doc

    def _ensure_doc(self, doc_id: str) -> Document:
        """Open ``doc_id``, creating it from its deterministic genesis when new."""
        with self.lock:
            if doc_id in self.docs:
                return self.docs[doc_id]
            stored = self.store.load(doc_id)
            if stored.snapshot is not None or stored.changes:
                return self._load(doc_id)
            doc = rec.genesis(doc_id, *genesis_shape(doc_id))
            self.store.append((doc_id, c.bytes) for c in doc.get_changes([]))
            doc.set_actor(self.actor)
            self.docs[doc_id] = doc
            self._generations[doc_id] = 0
            return doc

    def heads_hex(self, doc_id: str) -> str:
        return ",".join(sorted(h.hex() for h in self.heads(doc_id)))

    def _mark(self, doc_id: str) -> str:
        """The store state (:meth:`Store.marks`) the live ``doc_id`` holds, to index beside
        its heads. A loaded document holds every stored row of its own up to the cursor
        (loading reads them all, :meth:`refresh` applies newer ones), and its generation's
        snapshot; rows it holds past the cursor only make the mark look older, which costs
        one needless reindex, never a missed one."""
        last = self.store.last_seq(doc_id, self._cursor)
        return f"{self._generations.get(doc_id, 0)}:{last}"

    def digest(self) -> str:
        """Hash of the heads of every document: equal on two replicas iff same state."""
        with self.lock:
            self.refresh()
            h = hashlib.sha256()
            for doc_id in self.doc_ids():
                h.update(f"{doc_id}:{self.heads_hex(doc_id)};".encode())
            return h.hexdigest()

    # ----- listeners -----------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ChangeSet], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _announce(self, change: ChangeSet) -> None:
        for callback in list(self._listeners):
            callback(change)

    # ----- writing -------------------------------------------------------------------------

    def _write(self, doc_id: str, fn: Callable[[Any], set[str]]) -> ChangeSet:
        """Run ``fn`` in one transaction on ``doc_id``; durable before returning."""
        with self.lock:
            self.refresh()
            doc = self._writable(doc_id)
            before = doc.get_heads()
            with doc.transaction() as tx:
                ids = fn(tx)
                rec.mark_touched(tx, ids)
            new = doc.get_changes(before)
            self._append(doc_id, new, authorship.sign(self.identity, self.workspace_id,
                                                      doc_id, new))
            change = ChangeSet(doc_id, set(ids), remote=False)
            self._reindex(doc_id, change.ids, change, before)
            self._announce(change)
            return change

    def _writable(self, doc_id: str) -> Document:
        """The document to write to. A team member whose copy of a collection has not
        arrived yet (just joined) starts it from its deterministic genesis, which merges with
        the team's copy; a guest never holds the team's collections."""
        if doc_id in self.docs or doc_id not in COLLECTIONS or self.store.has_doc(doc_id):
            return self.doc(doc_id)
        if self.role() == "guest":
            raise WorkspaceError(f"{doc_id} is not shared with you")
        return self._ensure_doc(doc_id)

    def _append(self, doc_id: str, new: list[Any], sigs: list[Signature]) -> None:
        """Persist new changes and their signatures durably, or forget them in memory too
        (not durable, not done)."""
        first = self._cursor + 1
        try:
            last = self.store.append(((doc_id, c.bytes) for c in new), sigs)
        except Exception:
            self.docs.pop(doc_id, None)
            raise
        if last - len(new) + 1 == first:
            self._cursor = last  # our own rows: the next refresh need not read them back

    def _put_record(
        self, tx: Any, kind: str, record_id: str, fields: dict[str, Any], new: bool
    ) -> None:
        at = now_iso()
        meta: dict[str, Any] = {"_updated_at": at, "_updated_by": self.peer_id}
        if new:
            meta.update(
                {"_kind": kind, "_created_at": at, "_created_by": self.peer_id, "_deleted": False}
            )
        maps = [f.name for f in kind_spec(kind).fields if f.type == "map"]
        if new:
            # Map fields exist from the record's first change on: two members creating the same
            # map concurrently would each make their own, and one would hide the other.
            fields = {**{m: {} for m in maps}, **fields}
        rec.write_record(
            tx, rec.container(tx, rec.RECORDS), record_id, {**fields, **meta}, map_fields=maps
        )

    # ----- settings ------------------------------------------------------------------------

    def setting(self, name: str, doc_id: str = INDEX_DOC) -> Any:
        """A workspace setting; None before the document has arrived (a joiner's first sync)."""
        if doc_id not in self.docs and not self.store.has_doc(doc_id):
            return None
        doc = self.doc(doc_id)
        return rec.read_value(doc, doc.get(rec.container(doc, rec.SETTINGS), name))

    def stages(self) -> list[Stage]:
        raw = self.setting("stages")
        items = json.loads(raw) if raw else [s.__dict__ for s in DEFAULT_STAGES]
        return [Stage(**s) for s in items]

    def set_stages(self, stages: list[Stage]) -> None:
        require_manager(self.role(), "change the pipeline's stages")
        if not stages or len({s.id for s in stages}) != len(stages):
            raise ValidationError("stages must be a non-empty list of distinct ids")

        def put(tx: Any) -> set[str]:
            payload = json.dumps([s.__dict__ for s in stages])
            tx.put(rec.container(tx, rec.SETTINGS), "stages", ScalarType.Str, payload)
            return set()

        self._write(INDEX_DOC, put)

    def set_setting_entry(self, doc_id: str, name: str, key: str, value: Any) -> None:
        """Set one key of a settings map (invites, quotas, exchange rates ...): merges per
        key, into the one map object every peer shares. The maps exist from the document's
        genesis (admin) or the workspace's creation (index): a map two replicas each created
        would hide one's entries behind the other's."""

        def put(tx: Any) -> set[str]:
            settings = rec.container(tx, rec.SETTINGS)
            if tx.get(settings, name) is None:
                raise WorkspaceError(f"{doc_id} has no settings map {name!r}")
            rec.merge_map(tx, settings, name, {key: value})
            return set()

        self._write(doc_id, put)

    def set_setting(self, doc_id: str, name: str, value: Any) -> None:
        """Set one plain setting of a document."""

        def put(tx: Any) -> set[str]:
            rec.put_setting(tx, name, value)
            return set()

        self._write(doc_id, put)

    @property
    def title(self) -> str:
        return self.setting("title") or ""

    @property
    def currency(self) -> str:
        return self.setting("currency") or "EUR"

    # ----- records -------------------------------------------------------------------------

    def _choices(self) -> dict[str, tuple[str, ...]]:
        return {"stage": tuple(s.id for s in self.stages())}

    def _defaults(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        if kind != "opportunity":
            return fields
        out = self._stage_defaults(kind, dict(fields))
        out.setdefault("currency", self.currency)
        out.setdefault("owner", self.name)
        return out

    def _stage_defaults(self, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        """A stage change brings that stage's probability and category unless given."""
        if kind == "opportunity" and "stage" in values:
            stage = next(s for s in self.stages() if s.id == values["stage"])
            values.setdefault("probability", stage.probability)
            values.setdefault("category", stage.category)
        return values

    def add(
        self,
        kind: str,
        fields: dict[str, Any],
        *,
        record_id: str | None = None,
        space: str | None = None,
    ) -> str:
        """Validate and create a record (in a shared space when given); returns its id."""
        if kind == "document":
            raise ValidationError("use new_document for documents")
        values = self._defaults(kind, validate(kind, fields, choices=self._choices()))
        rid = record_id or new_id()
        if kind == "space":
            doc_id = space_doc_id(rid)
            self._ensure_doc(doc_id)
        else:
            doc_id = self._target_doc(kind, values, space)
        self._write_record(doc_id, kind, rid, values, new=True)
        return rid

    def _target_doc(self, kind: str, values: dict[str, Any], space: str | None) -> str:
        """Which document a new record goes to: a post goes where its topic is; a record made
        in a shared space goes to that space's document; others to their kind's collection."""
        self._check_links(kind, values)
        if kind == "space":
            raise ValidationError("create shared spaces one at a time with add")
        if kind == "post":
            return self.resolve(values["topic_id"])[1]
        if space is None:
            return kind_spec(kind).collection
        if kind not in SPACE_KINDS:
            raise ValidationError(f"a shared space holds {', '.join(SPACE_KINDS)}, not {kind}")
        found = self.get(space)
        if found["kind"] != "space":
            raise ValidationError(f"{space} is not a shared space")
        return space_doc_id(found["id"])

    def add_many(
        self,
        kind: str,
        items: list[dict[str, Any]],
        updates: Iterable[tuple[str, dict[str, Any]]] = (),
    ) -> list[str]:
        """Create many records (and update others) of one kind, one transaction per document.

        Everything is validated first, so a bad item leaves the workspace untouched; used by
        imports and the demo, where one fsync per record would dominate."""
        choices = self._choices()
        creates = [self._defaults(kind, validate(kind, f, choices=choices)) for f in items]
        ids = new_ids(len(creates))
        writes: dict[str, list[tuple[str, dict[str, Any], bool]]] = defaultdict(list)
        for rid, values in zip(ids, creates, strict=True):
            writes[self._target_doc(kind, values, None)].append((rid, values, True))
        for rid, fields in updates:
            full, doc_id = self.resolve(rid)
            values = validate(kind, fields, partial=True, choices=choices)
            writes[doc_id].append((full, self._stage_defaults(kind, values), False))

        for doc_id, batch in writes.items():

            def put(tx: Any, batch: list[tuple[str, dict[str, Any], bool]] = batch) -> set[str]:
                for rid, values, new in batch:
                    self._put_record(tx, kind, rid, values, new)
                return {rid for rid, _, _ in batch}

            self._write(doc_id, put)
        return ids

    def _write_record(
        self, doc_id: str, kind: str, rid: str, values: dict[str, Any], *, new: bool
    ) -> ChangeSet:
        def put(tx: Any) -> set[str]:
            self._put_record(tx, kind, rid, values, new)
            return {rid}

        return self._write(doc_id, put)

    def _check_links(self, kind: str, values: dict[str, Any]) -> None:
        if kind == "post" and "topic_id" in values:
            topic = self.get(values["topic_id"])
            if topic["kind"] != "topic":
                raise ValidationError(f"{values['topic_id']} is not a discussion topic")
            values["topic_id"] = topic["id"]
            if values.get("reply_to"):
                parent = self.get(values["reply_to"])
                if parent["kind"] != "post" or parent.get("topic_id") != topic["id"]:
                    raise ValidationError(f"{values['reply_to']} is not a post in this topic")
                values["reply_to"] = parent["id"]
        if kind == "opportunity" and values.get("contact_ids"):
            values["contact_ids"] = [self._linked(c, "contact") for c in values["contact_ids"]]
        if kind == "event" and values.get("opportunity_id"):
            values["opportunity_id"] = self._linked(values["opportunity_id"], "opportunity")

    def _linked(self, record_id: str, kind: str) -> str:
        """The full id of the ``kind`` record ``record_id`` names, or ValidationError: a link
        to nothing would show as a dangling id on every peer."""
        try:
            found = self.get(record_id)
        except WorkspaceError:
            found = None
        if found is None or found["kind"] != kind:
            raise ValidationError(f"{record_id!r} is not a {kind} in this workspace")
        return found["id"]

    def resolve(self, record_id: str) -> tuple[str, str]:
        """(full id, document id) for an id or a unique prefix of one."""
        with self.lock:
            self.refresh()
            found = self.index.doc_of(record_id)
            if found:
                return record_id, found[1]
            matches = self.index.ids_with_prefix(record_id) if len(record_id) >= 4 else []
            if len(matches) == 1:
                found = self.index.doc_of(matches[0])
                assert found is not None
                return matches[0], found[1]
            if len(matches) > 1:
                raise WorkspaceError(f"id {record_id!r} is ambiguous: give more characters")
            raise WorkspaceError(f"no record with id {record_id!r}")

    def get(self, record_id: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """The current record, read from its automerge document (the source of truth)."""
        with self.lock:
            rid, doc_id = self.resolve(record_id)
            doc = self.doc(doc_id)
            raw = rec.read_record(doc, rec.container(doc, rec.RECORDS), rid)
            if raw is None or (raw.get("_deleted") and not include_deleted):
                raise WorkspaceError(f"no record with id {record_id!r}")
            return present(rid, raw)

    def update(self, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change some fields of a record; returns the record after the change."""
        with self.lock:
            current = self.get(record_id)
            kind = current["kind"]
            values = validate(kind, fields, partial=True, choices=self._choices())
            if not values:
                raise ValidationError("nothing to change: give at least one field")
            check_span({**current, **values})
            self._check_links(kind, values)
            self._stage_defaults(kind, values)
            rid = current["id"]
            doc_id = self.resolve(rid)[1]
            self._write_record(doc_id, kind, rid, values, new=False)
            return self.get(rid)

    def delete(self, record_id: str) -> None:
        """Tombstone: the record stays in history and sync carries the deletion."""
        with self.lock:
            current = self.get(record_id)
            rid = current["id"]
            self._write_record(self.resolve(rid)[1], current["kind"], rid, {"_deleted": True},
                               new=False)

    def list(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        kind_spec(kind)
        with self.lock:
            self.refresh()
            return self.index.list(kind, **filters)

    def search(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.lock:
            self.refresh()
            self._flush_texts()
            return self.index.search(text, limit)

    def history(self, record_id: str) -> list[HistoryEntry]:
        with self.lock:
            rid, doc_id = self.resolve(record_id)
            return record_history(self.doc(doc_id), rid)

    # ----- membership ----------------------------------------------------------------------

    def membership_log(self) -> dict[str, str]:
        return dict(self.setting(MEMBERSHIP) or {})

    def membership(self) -> MembershipState:
        """The verified member list (cached until the index document changes)."""
        with self.lock:
            self.refresh()
            log = self.membership_log()
            if not log:  # a joiner before the first sync: nobody is known yet
                return MembershipState(self.workspace_id, "")
            heads = self.heads_hex(INDEX_DOC)
            if self._membership is None or self._membership[0] != heads:
                self._membership = (heads, replay(log, self.workspace_id))
            return self._membership[1]

    def members(self) -> list[dict[str, Any]]:
        state = self.membership()
        rows = [{"id": m.peer_id, **m.to_json()} for m in state.members.values()]
        return sorted(rows, key=lambda m: (m["name"].lower(), m["peer_id"]))

    def member_names(self) -> dict[str, str]:
        return {m["id"]: m["name"] for m in self.members()}

    def role(self, peer_id: str | None = None) -> str | None:
        return self.membership().role_of(peer_id or self.peer_id)

    def find_member(self, text: str) -> str:
        """A member's peer id from its peer id, a unique suffix (short id) or name
        (:func:`.member_lookup.member_named`)."""
        return member_named(self, text)["peer_id"]

    def append_membership(self, action: str, subject: str, **fields: Any) -> str:
        """Sign and append one membership entry; refused (nothing written) when invalid."""
        with self.lock:
            log = self.membership_log()
            parents = set(log) - {p for text in log.values() for p in _entry_parents(text)}
            eid, text = new_entry(self.identity, self.workspace_id, action, subject,
                                  at=now_iso(), parents=sorted(parents), **fields)
            outcome = replay({**log, eid: text}, self.workspace_id)
            if eid in outcome.rejected:
                verb = {"role": "change the role of", "seal": "seal the history for"}
                who = self.member_names().get(subject) or subject[-6:]
                raise ValidationError(f"cannot {verb.get(action, action)} {who}: "
                                      f"{outcome.rejected[eid]}")

            self.set_setting_entry(INDEX_DOC, MEMBERSHIP, eid, text)
            return eid

    def add_member(self, peer_id: str, role: str, name: str, *, manager: str | None = None,
                   invite: str | None = None) -> str:
        if role == "rep" and manager is None and self.role() == "manager":
            manager = self.peer_id  # a manager's team is the reps they add
        return self.append_membership("add", peer_id, role=role, name=name, manager=manager,
                                      invite=invite)

    def adopt_former_members_changes(self) -> list[str]:
        """Build on every change of a removed or demoted member that this replica holds and
        nobody built on yet; returns the documents adopted.

        This replica accepted those changes while their author's role allowed them in its
        view (before the removal or demotion reached it). Peers that learned of it first
        refuse them when they come alone, but keep them when another current member's change
        builds on them (:meth:`AccessPolicy.refused_changes`, :func:`authz.judge`): this one
        change, an adoption marker that touches no record (the one change a rep may write in
        the admin document, :func:`authz.is_adoption_marker`), is that, so the document
        converges everywhere instead of staying blocked between this replica and the others.
        Text documents not in memory are checked when next loaded by a write (their next edit
        builds on them all the same)."""
        with self.lock:
            state = self.membership()
            mine = state.role_of(self.peer_id)
            lowered = frozenset(p for p in state.highest if p != self.peer_id
                                and held_role(p, state.role_of, state.highest))
            # Orphans appear only when a removal or demotion reaches this replica after the
            # member's changes did: look when the set of such members changes.
            if lowered == self._lowered_seen or mine is None:
                return []
            self._lowered_seen = lowered
            adopted = []
            for doc_id in self.doc_ids():
                if ((doc_id.startswith("doc:") and doc_id not in self.docs)
                        or (doc_id == INDEX_DOC and mine == "guest")):  # a guest's is refused
                    continue
                doc = self.doc(doc_id)
                authors = (peer_id_from_public(a[:32]) for h in doc.get_heads()
                           if (a := rec.toucher(doc, h)) is not None and len(a) == 36)
                if any(a in lowered and role_limited(doc_id, state.role_of(a))
                       for a in authors):
                    self._write(doc_id, lambda tx: set())
                    adopted.append(doc_id)
            return adopted

    def remove_member(self, who: str) -> str:
        entry = self.append_membership("remove", self.find_member(who))
        self.adopt_former_members_changes()
        return entry

    def set_role(self, who: str, role: str, *, manager: str | None = None) -> str:
        entry = self.append_membership("role", self.find_member(who), role=role,
                                       manager=manager)
        self.adopt_former_members_changes()
        return entry

    # ----- co-edited documents -------------------------------------------------------------

    def new_document(self, title: str, text: str = "", *, space: str | None = None) -> str:
        values = validate("document", {"title": title})
        check_text_length(0, len(text))
        catalogue = self._target_doc("document", values, space)
        rid = new_id()
        doc_id = text_doc_id(rid)
        self._ensure_doc(doc_id)
        self._write_record(catalogue, "document", rid, values, new=True)
        if text:
            self.edit_document(rid, text=text)
        return rid

    def document(self, record_id: str) -> dict[str, Any]:
        with self.lock:
            meta = self.get(record_id)
            if meta["kind"] != "document":
                raise WorkspaceError(f"{record_id} is not a document")
            text, spans = textdoc.read(self.doc(text_doc_id(meta["id"])))
            return {**meta, "text": text, "spans": [s.to_json() for s in spans]}

    def edit_document(
        self,
        record_id: str,
        *,
        splice: tuple[int, int, str] | None = None,
        text: str | None = None,
        style: tuple[int, int, str, Any] | None = None,
    ) -> ChangeSet:
        """One editing step: a splice (pos, delete, insert), a whole new text, or a style."""
        rid = self.get(record_id)["id"]

        def edit(tx: Any) -> set[str]:
            body = textdoc.body(tx)
            length = tx.length(body)
            if splice is not None:
                check_text_length(length, length - splice[1] + len(splice[2]))
            if text is not None:
                check_text_length(length, len(text))
            if splice is not None:
                textdoc.splice(tx, body, *splice)
            if text is not None:
                textdoc.replace_all(tx, body, text)
            if style is not None:
                textdoc.set_mark(tx, body, *style)
            return {rid}

        return self._write(text_doc_id(rid), edit)

    # ----- resources -----------------------------------------------------------------------

    def add_resource(self, path: Path, *, name: str | None = None, description: str = "") -> str:
        import mimetypes

        if not path.is_file():
            raise ValidationError(f"{path}: not a readable file")
        digest, size = self.blobs.put_file(path)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        fields = {"name": name or path.name, "size": size, "mime": mime, "sha256": digest}
        if description:
            fields["description"] = description
        return self.add("resource", fields)

    def export_resource(self, record_id: str, dest: Path) -> Path:
        meta = self.get(record_id)
        if meta["kind"] != "resource":
            raise WorkspaceError(f"{record_id} is not a resource")
        self.blobs.copy_out(meta["sha256"], dest)
        return dest

    # ----- receiving and refreshing --------------------------------------------------------

    def apply_remote(self, doc_id: str,
                     apply: Callable[[Document], list[Signature] | None]) -> ChangeSet:
        """Run ``apply`` (a sync step that may add changes) on ``doc_id``, then persist and index
        whatever it added, with the authors' signatures ``apply`` returns. Used by the sync
        node for received sync messages and snapshots."""
        with self.lock:
            self.refresh()
            doc = self.docs.get(doc_id)
            if doc is None:
                known = self.store.has_doc(doc_id)
                doc = self._load(doc_id) if known else self._new_remote_doc(doc_id)
            self._touch(doc_id)
            before = doc.get_heads()
            try:
                sigs = apply(doc) or []
            except BaseException:
                # Whatever ``apply`` may have added is neither persisted nor checked: forget
                # the in-memory copy, the next use reloads it from the store.
                self.docs.pop(doc_id, None)
                raise
            return self._persist_since(doc_id, before, remote=True, sigs=sigs)

    def _new_remote_doc(self, doc_id: str) -> Document:
        doc = Document(actor_id=self.actor)
        self.docs[doc_id] = doc
        self._generations[doc_id] = 0
        return doc

    def receive_sync_message(self, doc_id: str, state: SyncState, message: Any) -> ChangeSet:
        return self.apply_remote(doc_id, lambda d: d.receive_sync_message(state, message))

    def merge_saved(
        self, doc_id: str, data: bytes, loaded: Document | None = None,
        sigs: list[Signature] | None = None,
    ) -> ChangeSet:
        """Merge a whole saved document sent by a peer (first sync of a document); ``loaded``
        is ``data`` already loaded, when the caller has it; ``sigs``, the authors' signatures
        that came with it, are stored in the same write.

        A document this replica has never held is adopted as it came: ``data`` becomes its
        stored snapshot and the loaded copy its live document. Merging it into an empty
        document instead replays every change (half the cost of a first sync of a 10,000
        record pipeline) and stores them again row by row."""
        loaded = loaded if loaded is not None else Document.load(data)
        with self.lock:
            self.refresh()
            if doc_id in self.docs or self.store.has_doc(doc_id):
                def merge(doc: Document) -> list[Signature] | None:
                    doc.merge(loaded)
                    return sigs

                return self.apply_remote(doc_id, merge)
            loaded.set_actor(self.actor)
            # one atomic write; a compaction with no rows to fold (another process that
            # created the document meanwhile keeps its rows, and reloads on the new generation)
            self.store.compact(doc_id, data, 0, sigs or [])
            self.docs[doc_id] = loaded
            self._generations[doc_id] = self.store.generations().get(doc_id, 0)
            self._touch(doc_id)
            change = ChangeSet(doc_id, remote=True)
            change.ids = self._changed_ids(loaded, loaded.get_changes([]))
            self._reindex(doc_id, change.ids, change, [])
            self._announce(change)
            return change

    def _persist_since(self, doc_id: str, before: list[bytes], *, remote: bool,
                       sigs: list[Signature]) -> ChangeSet:
        doc = self.docs[doc_id]
        new = doc.get_changes(before)
        change = ChangeSet(doc_id, remote=remote)
        if not new:
            return change
        self._append(doc_id, new, sigs)
        change.ids = self._changed_ids(doc, new)
        self._reindex(doc_id, change.ids, change, before)
        self._announce(change)
        return change

    def refresh(self) -> list[ChangeSet]:
        """Pick up changes other processes (CLI beside a running node) wrote to the store."""
        with self.lock:
            generations = self.store.generations()
            for doc_id, generation in generations.items():
                if doc_id in self.docs and generation != self._generations.get(doc_id):
                    mine = self.docs.pop(doc_id)
                    fresh = self._load(doc_id)
                    fresh.merge(mine)  # keep anything only we had in memory
            rows = self.store.rows_after(self._cursor)
            if not rows:
                return []
            by_doc: dict[str, list[bytes]] = defaultdict(list)
            for seq, doc_id, data in rows:
                by_doc[doc_id].append(data)
                self._cursor = max(self._cursor, seq)
            out = []
            for doc_id, items in by_doc.items():
                doc = self.docs.get(doc_id)
                if doc is None:
                    # Not in memory here (loaded lazily), but another process wrote it: the
                    # listeners (a sync node offering it to peers, the app's views) must hear
                    # of it all the same. A text stays unloaded (searched text goes stale);
                    # a collection is loaded (it holds the new rows) and indexed as usual.
                    before = self._unloaded_heads.pop(doc_id, [])
                    if doc_id.startswith(text_doc_id("")):
                        self._stale_texts.add(doc_id)
                        out.append(ChangeSet(doc_id, {doc_id[len(text_doc_id("")):]},
                                             kinds={"document"}))
                        continue
                    if not before:  # never held by this process: loaded on first use
                        out.append(ChangeSet(doc_id))
                        continue
                    doc = self._load(doc_id)
                    new = doc.get_changes(before)
                else:
                    before = doc.get_heads()
                    am_changes.apply_changes(doc, items)
                    new = doc.get_changes(before)
                if new:
                    change = ChangeSet(doc_id, self._changed_ids(doc, new))
                    self._reindex(doc_id, change.ids, change, before)
                    out.append(change)
            for change in out:
                self._announce(change)
            return out

    # ----- index maintenance ---------------------------------------------------------------

    def _changed_ids(self, doc: Document, new: list[Any]) -> set[str]:
        touched = rec.container(doc, rec.TOUCHED)
        ids: set[str] = set()
        for change in new:
            found = rec.touched_by(doc, touched, change)
            if found is None and change.seq > 0 and not self._is_genesis(change):
                return {"*"}  # a change that does not say what it touched: reindex all
            ids.update(found or ())
        return ids

    @staticmethod
    def _is_genesis(change: Any) -> bool:
        return len(change.actor_id) == 16 and not change.deps

    def _record_data(
        self, doc: Document, records: bytes, rid: str, heads: list[bytes] | None = None
    ) -> dict[str, Any] | None:
        raw = rec.read_record(doc, records, rid, heads)
        return present(rid, raw) if raw is not None else None

    def _reindex(
        self, doc_id: str, ids: set[str], change: ChangeSet, before: list[bytes] | None = None
    ) -> None:
        """Update the index for ``ids`` and fill the ChangeSet's values before (read from the
        document at the ``before`` heads, so it is right whichever process wrote) and after."""
        doc = self.docs[doc_id]
        heads = self.heads_hex(doc_id)
        if doc_id.startswith("doc:"):
            # Re-reading a long body on every keystroke would make typing cost O(document):
            # the search text is refreshed when someone searches (or the profile closes).
            self._stale_texts.add(doc_id)
            change.kinds.add("document")
            change.ids.add(doc_id[4:])
            return
        records = rec.container(doc, rec.RECORDS)
        if "*" in ids:
            ids = set(doc.keys(records))
            change.ids = ids
        change.before = {
            rid: (self._record_data(doc, records, rid, before) if before else None) for rid in ids
        }
        items = [(rid, self._record_data(doc, records, rid)) for rid in ids]
        change.after = dict(items)
        change.kinds.update(d["kind"] for _, d in items if d)
        self.index.update(doc_id, heads, items, extra_text=self._document_texts(items),
                          mark=self._mark(doc_id))

    def _document_texts(self, items: list[tuple[str, dict[str, Any] | None]]) -> dict[str, str]:
        """Body text of the co-edited documents among ``items`` that are in memory (for the
        search index). A text not loaded is not loaded for this (a long text costs seconds):
        it is marked stale, here and in the index, and indexed at the next search."""
        texts: dict[str, str] = {}
        for rid, data in items:
            doc_id = text_doc_id(rid)
            if not data or data["kind"] != "document":
                continue
            if doc_id in self.docs:
                texts[rid] = textdoc.read(self.docs[doc_id])[0]
            elif self.store.has_doc(doc_id):
                self._stale_texts.add(doc_id)
                self.index.forget_heads(doc_id)
        return texts

    def _flush_texts(self, *, loaded_only: bool = False) -> None:
        """Bring the search text (and stored heads) of edited documents up to date;
        ``loaded_only`` leaves those not in memory stale (the index says so, by their heads'
        mark, to the next process) instead of loading them."""
        for doc_id in sorted(self._stale_texts):
            if loaded_only and doc_id not in self.docs:
                continue
            self._stale_texts.discard(doc_id)
            if not self.store.has_doc(doc_id):
                continue  # an empty stand-in for a document that has not arrived
            rid = doc_id[4:]
            meta = self.index.get_many([rid]).get(rid, {})
            text = textdoc.read(self.doc(doc_id))[0]
            self.index.set_text(rid, "document", meta.get("title", ""), text,
                                heads=self.heads_hex(doc_id), mark=self._mark(doc_id))

    def reindex_doc(self, doc_id: str) -> None:
        """Rebuild the index entries of one document from scratch."""
        with self.lock:
            doc = self.doc(doc_id)
            if doc_id.startswith("doc:"):
                self._stale_texts.add(doc_id)
                self._flush_texts()
                return
            plain = rec.read_value(doc, doc.get(ROOT, rec.RECORDS)) or {}
            items = [(rid, present(rid, raw) if isinstance(raw, dict) else None)
                     for rid, raw in plain.items()]
            self.index.update(doc_id, self.heads_hex(doc_id), items, replace_doc=True,
                              extra_text=self._document_texts(items), mark=self._mark(doc_id))

    def check_index(self) -> None:
        """Rebuild what the index is missing or has stale, without loading what is current.

        Each indexed document's heads are stored with the store state they were read at
        (:meth:`_mark`); a document whose store state still matches is not loaded (a command
        touching only the pipeline must not pay for a long text) and its indexed heads stand
        in for it (:meth:`heads`). A stale collection is reindexed now; a stale text is
        reindexed when it is next searched."""
        with self.lock:
            indexed = self.index.stored_marks()
            for doc_id, mark in self.store.marks().items():
                heads, indexed_mark = indexed.get(doc_id, ("", None))
                known = _parse_heads(heads) if indexed_mark == mark else None
                if known is not None and doc_id not in self.docs:
                    self._unloaded_heads[doc_id] = known
                elif doc_id.startswith("doc:"):
                    self._stale_texts.add(doc_id)
                else:
                    self.reindex_doc(doc_id)

    # ----- compaction ----------------------------------------------------------------------

    def compact(self, threshold: int = COMPACT_AFTER_ROWS) -> int:
        """Fold change rows into snapshots for documents with many rows; returns docs done."""
        done = 0
        with self.lock:
            self.refresh()
            upto = self._cursor
            for doc_id, doc in list(self.docs.items()):
                if self.store.change_count(doc_id) < threshold:
                    continue
                self.store.compact(doc_id, doc.save(), upto)
                self._generations[doc_id] = self.store.generations().get(doc_id, 0)
                done += 1
        return done

    def start_background_compaction(self, interval: float = 60.0) -> threading.Event:
        """Compact every ``interval`` seconds on a daemon thread (long-running node or app);
        set the returned event to stop it. Short CLI commands compact on close instead."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.compact()
                except Exception:  # a busy or closing store: try again next round
                    continue

        threading.Thread(target=loop, name="bullpen-compaction", daemon=True).start()
        return stop

    def status(self) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "workspace_id": self.workspace_id,
            "name": self.name,
            "title": self.title,
            "digest": self.digest(),
            "documents": len(self.doc_ids()),
            "home": str(self.home),
        }


__all__ = ["ChangeSet", "KINDS", "Workspace", "WorkspaceError"]
