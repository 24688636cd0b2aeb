"""Who gets told about what: subscription rules, and turning record changes into notifications.

Change events come from sync (or local edits) as ``dict(kind, id, record, before, author,
remote)`` where ``record`` is the record after the change (None if deleted) and ``before`` the
record before it (None when new). A change yields at most one notification, the most specific
reason winning (a mention beats "a deal you own changed"), so nobody gets the same edit twice.

Defaults are quiet: announcements, @mentions and changes to my own deals only. Everything else
is opt-in, because a sales floor that pings on every post gets its notifications muted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Bookkeeping fields that change on every edit and say nothing to a person.
_META = frozenset({"id", "created_at", "created_by", "updated_at", "updated_by"})
# Fields whose free text may @mention someone.
_TEXT_FIELDS = ("text", "body", "title", "notes", "next_step", "description")


@dataclass
class Subscriptions:
    """One member's notification preferences; stored as JSON in their profile."""

    announcements: bool = True
    mentions: bool = True
    own_deals: bool = True
    replies: bool = False
    followed_topics: list[str] = field(default_factory=list)
    followed_opportunities: list[str] = field(default_factory=list)
    # Notify on any stage change of a deal at or above this amount (in the deal's currency).
    stage_changes_over: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any] | None) -> Subscriptions:
        """Missing keys take defaults and unknown keys are ignored, so preferences written by
        a newer or older peer still load."""
        data = json.loads(text) if isinstance(text, str) else dict(text or {})
        known = {f.name for f in fields(cls)}
        subs = cls(**{k: v for k, v in data.items() if k in known})
        subs.followed_topics = list(subs.followed_topics)
        subs.followed_opportunities = list(subs.followed_opportunities)
        return subs


@dataclass
class Notification:
    # mention | action_item | reply | own_deal | followed_deal | stage_change | topic_post |
    # announcement
    kind: str
    record_id: str
    title: str
    text: str
    at: str
    author: str = ""


def mentions(text: str | None, member: str) -> bool:
    """Whether ``text`` @mentions ``member`` (case-insensitive, whole name: @Dan is not @Dana)."""
    if not text or not member:
        return False
    pattern = rf"(?<![\w@])@{re.escape(member)}(?![\w])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.casefold() == b.casefold()


def _snippet(text: str | None, limit: int = 120) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    old = before or {}
    return sorted(k for k in set(old) | set(after) if k not in _META and old.get(k) != after.get(k))


@dataclass(frozen=True)
class _Change:
    """One change event, normalised: ``record`` is the after-state, or before-state if deleted."""

    kind: str
    id: str
    record: Mapping[str, Any]
    before: Mapping[str, Any] | None
    deleted: bool
    author: str

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> _Change | None:
        after, before = event.get("record"), event.get("before")
        if after is None and before is None:
            return None
        return cls(
            kind=event.get("kind", ""),
            id=str(event.get("id") or (after or before).get("id", "")),
            record=after if after is not None else before,
            before=before,
            deleted=after is None,
            author=str(event.get("author") or ""),
        )

    @property
    def at(self) -> str:
        rec = self.record
        return str(rec.get("updated_at") or rec.get("created_at") or "")

    @property
    def is_new(self) -> bool:
        """Created by this change (a new record is never also a deletion)."""
        return self.before is None

    def note(self, kind: str, title: str, text: str) -> Notification:
        return Notification(kind, self.id, title, text, self.at, self.author)

    def new_mention_of(self, me: str) -> str | None:
        """The text field that newly mentions me (already-present mentions don't re-notify)."""
        if self.deleted:
            return None
        old = self.before or {}
        for name in _TEXT_FIELDS:
            if mentions(self.record.get(name), me) and not mentions(old.get(name), me):
                return name
        return None


_Records = Mapping[str, Mapping[str, Any]]
Rule = Callable[[_Change, str, Subscriptions, _Records], Notification | None]


def _deal_title(change: _Change) -> str:
    rec = change.record
    return " - ".join(str(rec[k]) for k in ("account", "title") if rec.get(k)) or change.id


def _describe_deal_change(change: _Change) -> str:
    if change.deleted:
        return f"{change.author} deleted this deal"
    if change.is_new:
        return f"{change.author} created this deal"
    before = change.before or {}
    parts = [
        f"{name}: {before.get(name)} → {change.record.get(name)}"
        for name in _changed_fields(before, change.record)
    ]
    return f"{change.author} changed " + "; ".join(parts)


def _deal_note(kind: str, change: _Change) -> Notification | None:
    if (
        not change.deleted
        and not change.is_new
        and not _changed_fields(change.before, change.record)
    ):
        return None  # only bookkeeping moved (e.g. a merge touched updated_at)
    return change.note(kind, _deal_title(change), _describe_deal_change(change))


def _mention_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    field_name = subs.mentions and change.new_mention_of(me)
    if not field_name:
        return None
    title = f"{change.author} mentioned you"
    return change.note("mention", title, _snippet(change.record.get(field_name)))


def _reply_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    if not (subs.replies and change.kind == "post" and change.is_new):
        return None
    parent = records.get(change.record.get("reply_to") or "")
    if parent is None or not _same(parent.get("created_by"), me):
        return None
    title = f"{change.author} replied to your post"
    return change.note("reply", title, _snippet(change.record.get("text")))


def _action_item_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    """An open action item newly given to me (created for me, or handed over to me)."""
    rec = change.record
    if change.kind != "action_item" or change.deleted or rec.get("status") != "open":
        return None
    if not _same(rec.get("owner"), me) or _same((change.before or {}).get("owner"), me):
        return None
    due = f" (due {rec['due']})" if rec.get("due") else ""
    title = f"{change.author} gave you an action item"
    return change.note("action_item", title, _snippet(rec.get("text")) + due)


def _own_deal_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    if not (subs.own_deals and change.kind == "opportunity"):
        return None
    owners = (change.record.get("owner"), (change.before or {}).get("owner"))
    if not any(_same(owner, me) for owner in owners):
        return None
    return _deal_note("own_deal", change)


def _followed_deal_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    if change.kind != "opportunity":
        return None
    followers = change.record.get("followers") or []
    followed = change.id in subs.followed_opportunities or any(_same(f, me) for f in followers)
    return _deal_note("followed_deal", change) if followed else None


def _stage_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    threshold = subs.stage_changes_over
    if threshold is None or change.kind != "opportunity" or change.is_new or change.deleted:
        return None
    before, after = change.before or {}, change.record
    if before.get("stage") == after.get("stage"):
        return None
    amount = max(float(before.get("amount") or 0), float(after.get("amount") or 0))
    if amount < threshold:
        return None
    text = f"{change.author} moved it {before.get('stage')} → {after.get('stage')}"
    return change.note("stage_change", _deal_title(change), text)


def _topic_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    if change.kind != "post" or not change.is_new:
        return None
    if change.record.get("topic_id") not in subs.followed_topics:
        return None
    topic = records.get(change.record.get("topic_id"), {})
    title = f"{change.author} posted in {topic.get('title') or 'a topic you follow'}"
    return change.note("topic_post", title, _snippet(change.record.get("text")))


def _announcement_rule(
    change: _Change, me: str, subs: Subscriptions, records: _Records
) -> Notification | None:
    if not (subs.announcements and change.kind == "announcement" and change.is_new):
        return None
    rec = change.record
    title = rec.get("title") or f"Announcement from {change.author}"
    return change.note("announcement", title, _snippet(rec.get("text")))


# Most specific first: the first rule that fires names the notification.
RULES: tuple[Rule, ...] = (
    _mention_rule,
    _action_item_rule,
    _reply_rule,
    _own_deal_rule,
    _followed_deal_rule,
    _stage_rule,
    _topic_rule,
    _announcement_rule,
)


def notifications_for(
    change_events: Iterable[Mapping[str, Any]],
    me: str,
    subs: Subscriptions | None = None,
    records: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Notification]:
    """Notifications for member ``me`` from a batch of change events, in event order.

    Changes authored by me are skipped, as are local (``remote`` False) changes: a change made
    on this device was made by its user. ``records`` (id -> record) lets a reply find the post it
    answers and a topic post its topic's title; posts and topics within the same batch are
    found too, since sync often delivers a thread and its replies together.
    """
    subs = subs or Subscriptions()
    events = list(change_events)
    known: dict[str, Mapping[str, Any]] = dict(records or {})
    for event in events:
        if event.get("record") is not None and event.get("id") is not None:
            known.setdefault(str(event["id"]), event["record"])

    out: list[Notification] = []
    for event in events:
        if not event.get("remote", True) or _same(event.get("author"), me):
            continue
        change = _Change.of(event)
        if change is None:
            continue
        for rule in RULES:
            note = rule(change, me, subs, known)
            if note is not None:
                out.append(note)
                break
    return out
