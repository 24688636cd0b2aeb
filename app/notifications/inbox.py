"""The notification inbox: synced changes in, a local list of things this user should know.

The rules (who is told about what) are the pure ``notifications`` module; this module feeds it
the workspace's ChangeSets and keeps the result in a ``notifications`` table of this profile's
store. That table is not an automerge document, so it never syncs: what I have read is nobody
else's business. Preferences live in the store's meta table for the same reason.

Which changes count: anything not written by this user's peer id. That one test covers changes
received by sync in this process (``remote=True``) and changes another process of this profile
wrote (the node, seen by the app through ``ws.refresh()``), without telling them apart. Both
processes may run an inbox on one profile, so a notification is stored once per
(kind, record, time): the second insert of the same event is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bullpen.app.notifications.rules import Notification, Subscriptions, notifications_for
from bullpen.app.sales.use_cases import author_names, with_names
from bullpen.app.workspace import ChangeSet, Workspace, WorkspaceError, now_iso
from bullpen.crdt.schema import ValidationError, kind_spec

SUBSCRIPTIONS = "subscriptions"  # store meta key: this profile's Subscriptions as JSON
SINCE = "notifications_since"  # store meta key: changes older than this are history, not news
WATCHED_KINDS = ("opportunity", "post", "announcement", "action_item")  # the rules' kinds
_LOG = logging.getLogger(__name__)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at TEXT NOT NULL, kind TEXT NOT NULL, record_id TEXT NOT NULL, title TEXT NOT NULL, "
    "text TEXT NOT NULL, read INTEGER NOT NULL DEFAULT 0, UNIQUE (kind, record_id, at))"
)
_COLUMNS = ("id", "at", "kind", "record_id", "title", "text", "read")


# ----- preferences ------------------------------------------------------------------------------


def subscriptions(ws: Workspace) -> Subscriptions:
    return Subscriptions.from_json(ws.store.get_meta(SUBSCRIPTIONS))


def update_subscriptions(ws: Workspace, **changes: Any) -> Subscriptions:
    """Change some preferences (None: leave as is) and store them; returns the result.

    ``follow_topic``/``follow_opp`` (and ``unfollow_*``) take any unique id prefix and store
    the full id; ``stage_changes_over`` takes an amount, or "off".
    """
    subs = subscriptions(ws)
    for flag in ("announcements", "mentions", "own_deals", "replies"):
        if changes.get(flag) is not None:
            setattr(subs, flag, bool(changes[flag]))
    for key, kind, attr in (("topic", "topic", "followed_topics"),
                            ("opp", "opportunity", "followed_opportunities")):  # fmt: skip
        items: list[str] = getattr(subs, attr)
        if changes.get(f"follow_{key}"):
            rid = _record_id(ws, changes[f"follow_{key}"], kind)
            if rid not in items:
                items.append(rid)
        if changes.get(f"unfollow_{key}"):
            rid = _record_id(ws, changes[f"unfollow_{key}"], kind, must_exist=False)
            setattr(subs, attr, [i for i in items if i != rid])
    if changes.get("stage_changes_over") is not None:
        subs.stage_changes_over = _threshold(changes["stage_changes_over"])
    with ws.store.transaction():
        ws.store.set_meta(SUBSCRIPTIONS, subs.to_json())
    return subs


def _record_id(ws: Workspace, text: str, kind: str, *, must_exist: bool = True) -> str:
    try:
        record = ws.get(text, include_deleted=True)
    except WorkspaceError:
        if must_exist:
            raise
        return text
    if record["kind"] != kind:
        raise ValidationError(f"{text} is a {record['kind']}, not a {kind}")
    return record["id"]


def _threshold(value: Any) -> float | None:
    if str(value).strip().lower() in ("off", "none", ""):
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"--stage-changes-over {value!r}: give an amount or 'off'") from None
    if not amount >= 0:
        raise ValidationError(f"--stage-changes-over {value!r}: must not be negative")
    return amount


# ----- the inbox --------------------------------------------------------------------------------


class NotificationInbox:
    """Turns this workspace's incoming changes into stored notifications while it is open."""

    def __init__(self, ws: Workspace, *, listen: bool = True) -> None:
        self.ws = ws
        store = ws.store
        with store.transaction():
            store.db.execute(_SCHEMA)
            if store.get_meta(SINCE) is None:
                store.set_meta(SINCE, now_iso())
        self.since = store.get_meta(SINCE) or ""
        self._unsubscribe = None
        if listen:
            self._load_watched(ws)
            self._unsubscribe = ws.subscribe(self._on_change)

    @staticmethod
    def _load_watched(ws: Workspace) -> None:
        """Load the documents the rules look at: ``refresh`` only reports documents this
        process holds, and another process's writes must not slip by unnoticed."""
        present = set(ws.doc_ids())
        for kind in WATCHED_KINDS:
            doc_id = kind_spec(kind).collection
            if doc_id in present:
                ws.doc(doc_id)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # --- receiving ---

    def _on_change(self, change: ChangeSet) -> None:
        # A notification must never break the write or sync that announced the change.
        try:
            self.receive(change)
        except Exception:
            _LOG.exception("notifications: could not process changes of %s", change.doc_id)

    def receive(self, change: ChangeSet) -> list[Notification]:
        """Store the notifications one ChangeSet gives this user; returns the new ones."""
        names = author_names(self.ws)
        events = list(self._events(change, names))
        if not events:
            return []
        me = names.get(self.ws.peer_id, self.ws.name)
        notes = notifications_for(events, me, subscriptions(self.ws), self._context(events, names))
        return self._store(notes)

    def _events(self, change: ChangeSet, names: Mapping[str, str]) -> Iterable[dict[str, Any]]:
        """ChangeSet entries as the rule engine's events: authors as names, tombstones as
        deletions, this user's own writes and anything older than the inbox left out."""
        for rid in sorted(change.ids):
            after, before = change.after.get(rid), change.before.get(rid)
            if after is None or after.get("updated_by") == self.ws.peer_id:
                continue
            if (after.get("updated_at") or "") < self.since:
                continue
            before = self._true_before(rid, before, after)
            if before is not None and before.get("deleted"):
                before = None
            if after.get("deleted"):
                if before is None:
                    continue
                record = None
            else:
                record = with_names(after, names)
            author = after.get("updated_by") or ""
            yield {
                "kind": after.get("kind"),
                "id": rid,
                "record": record,
                "before": with_names(before, names) if before is not None else None,
                "author": names.get(author, author),
                "remote": True,
            }

    def _true_before(
        self, rid: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The record before the change, also when another process wrote it.

        ChangeSets from ``refresh`` read "before" from the shared index, which the writing
        process has already updated, so it equals "after"; then the record's last history
        entry (from the automerge change graph) says what the change replaced.
        """
        if before is None or before.get("updated_at") != after.get("updated_at"):
            return before
        if after.get("created_at") == after.get("updated_at"):
            return None  # this change created the record
        entries = [e for e in self.ws.history(rid) if e.at == after.get("updated_at")]
        if not entries:
            return before
        restored = dict(after)
        for name, (old, _) in entries[-1].fields.items():
            key = name[1:] if name.startswith("_") else name
            if old is None:
                restored.pop(key, None)
            else:
                restored[key] = old
        restored["deleted"] = bool(restored.get("deleted"))
        return restored

    def _context(
        self, events: list[dict[str, Any]], names: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]:
        """The posts replied to and the topics posted in, for the reply and topic rules."""
        wanted = {
            str(rec.get(key))
            for e in events
            if (rec := e["record"]) is not None
            for key in ("reply_to", "topic_id")
            if rec.get(key)
        }
        found = self.ws.index.get_many(wanted) if wanted else {}
        return {rid: with_names(rec, names) for rid, rec in found.items()}

    def _store(self, notes: list[Notification]) -> list[Notification]:
        if not notes:
            return []
        fresh = []
        store = self.ws.store
        with store.transaction():
            for note in notes:
                cursor = store.db.execute(
                    "INSERT OR IGNORE INTO notifications (at, kind, record_id, title, text) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [note.at or now_iso(), note.kind, note.record_id, note.title, note.text],
                )
                if cursor.rowcount:
                    fresh.append(note)
        return fresh

    def remind_due(self, today: Any = None) -> list[Notification]:
        """Store a reminder for each of my open action items due today or overdue (once per
        item and due date); returns the new ones. ``today``: a date (default: today)."""
        from bullpen.app.sales.action_items import due_reminders

        return self._store(due_reminders(self.ws, today))

    # --- reading ---

    def list(self, *, unread: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM notifications"
        if unread:
            sql += " WHERE read = 0"
        sql += " ORDER BY at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self.ws.store.db.execute(sql).fetchall()
        return [{**dict(zip(_COLUMNS, r, strict=True)), "read": bool(r[-1])} for r in rows]

    def unread_count(self) -> int:
        return self.ws.store.db.execute(
            "SELECT COUNT(*) FROM notifications WHERE read = 0"
        ).fetchone()[0]

    def mark_read(self, notification_id: int | None = None) -> int:
        """Mark one notification (or, with None, all) read; returns how many changed."""
        store = self.ws.store
        with store.transaction():
            if notification_id is None:
                cursor = store.db.execute("UPDATE notifications SET read = 1 WHERE read = 0")
                return cursor.rowcount
            exists = store.db.execute(
                "SELECT 1 FROM notifications WHERE id = ?", [notification_id]
            ).fetchone()
            if not exists:
                raise WorkspaceError(f"no notification {notification_id}")
            return store.db.execute(
                "UPDATE notifications SET read = 1 WHERE id = ? AND read = 0", [notification_id]
            ).rowcount
