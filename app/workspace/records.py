"""Records and settings: the use cases on the workspace's business data.

Why together: a record is validated against the workspace's settings (the pipeline's stages
give an opportunity's stage, probability and category; the currency its default), and both
are written the same way, one transaction on their document (:meth:`Replica._write`). A
record lives in its kind's collection document, in a shared space's document, or beside its
discussion topic; reads come from the automerge document (the source of truth), lookups and
lists from the derived index.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from automerge.core import ScalarType

from bullpen.app.members.authz import NotAllowed, require_manager, room_owner
from bullpen.app.storage.replica import Replica
from bullpen.app.workspace.types import ChangeSet, WorkspaceError, new_id, new_ids, now_iso, present
from bullpen.crdt import records as rec
from bullpen.crdt.checks import check_span
from bullpen.crdt.history import HistoryEntry, record_history
from bullpen.crdt.schema import (
    DEFAULT_STAGES,
    INDEX_DOC,
    SPACE_KINDS,
    Stage,
    ValidationError,
    kind_spec,
    space_doc_id,
)
from bullpen.crdt.validation import validate


class Records(Replica):
    """The record and settings use cases, on :class:`Replica`'s write path."""

    # ----- settings ------------------------------------------------------------------------

    def setting(self, name: str, doc_id: str = INDEX_DOC) -> Any:
        """A workspace setting; None before the document has arrived (a joiner's first sync,
        also while its first copy is being received and has no settings map yet)."""
        if not self.doc_store.has(doc_id):
            return None
        doc = self.doc(doc_id)
        try:
            settings = rec.container(doc, rec.SETTINGS)
        except KeyError:
            return None
        return rec.read_value(doc, doc.get(settings, name))

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
            self.doc_store.ensure(doc_id)
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
            if ":" in kind_spec(kind).collection:  # a deal room's action-plan task
                raise ValidationError(f"a {kind} lives in a deal room: give its space")
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
        self.check_room_open(doc_id, rid)

        def put(tx: Any) -> set[str]:
            self._put_record(tx, kind, rid, values, new)
            return {rid}

        return self._write(doc_id, put)

    def check_room_open(self, doc_id: str, record_id: str | None = None) -> None:
        """A closed deal room is read-only but for its owner's changes to the room itself
        (reopening) and a manager's (app/members/authz.py): say so before writing a change
        every peer would refuse. ``doc_id`` is the room's document."""
        prefix = space_doc_id("")
        if not doc_id.startswith(prefix) or self.role() == "manager":
            return
        doc = self.doc(doc_id)
        room = rec.read_record(doc, rec.container(doc, rec.RECORDS), doc_id[len(prefix):])
        if not room or room.get("closed") is not True:
            return
        if record_id == doc_id[len(prefix):] and room_owner(room) == self.peer_id:
            return
        raise NotAllowed(f"the deal room {room.get('title')!r} is closed: its owner or a "
                         f"manager can reopen it")

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
            if (current["kind"] == "space" and self.role() != "manager"
                    and room_owner(current) != self.peer_id):
                raise NotAllowed("only the room's owner or a manager deletes a deal room")
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
            self.indexer.flush_texts()
            return self.index.search(text, limit)

    def history(self, record_id: str) -> list[HistoryEntry]:
        with self.lock:
            rid, doc_id = self.resolve(record_id)
            return record_history(self.doc(doc_id), rid)

    # ----- writing records -----------------------------------------------------------------

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

