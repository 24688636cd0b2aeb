"""What each role may write: the rules every peer applies to every received change.

docs/SECURITY.md is the prose of these rules. They are judged per change, on receipt, from
what the change itself did to the document (its state at the change's own heads against the
state at its dependencies), whoever relayed it, so every peer reaches the same verdict:

- nobody replaces, deletes or adds a top-level container of a document (``records``,
  ``settings``, ``touched``, a text body): that would hide everything written before;
- the team's settings in the index document (title, currency, stages) and the ``admin``
  document (quotas, exchange rates, forecast snapshots) are written by managers only; a rep
  may only add entries to the index's membership log and invites (both signed, and checked
  again when read), never change or delete one, and write in ``admin`` nothing but an
  adoption marker (:func:`is_adoption_marker`, which no view reads);
- a shared space's document holds only the kinds a space allows (topics, posts, resources,
  documents, action-plan tasks) besides its own space record; a guest adds records of those
  kinds as themself, and changes nobody else's record except for reacting to it and ticking
  off the customer side's action-plan tasks (a guest's tasks are the customer side's);
- a deal room (a space) is its owner's: only the owner (its ``owner`` field, else its
  creator) or a manager removes a guest from it, closes it, reopens it or hands it over;
  while it is closed (judged at the change's dependencies) nobody else writes in it;
- a change its author's role does not allow is still accepted when its author once held a
  role that allowed it (a manager demoted or removed since) and another current member's
  change in the same message builds on it: that member accepted it before learning of the
  demotion (:func:`vouched_for`, judged again by the role the author held).

Header-level rules (who may write which document at all) are in :mod:`.access`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from automerge.core import ROOT, Document, ScalarType

from bullpen.app.members import office_rules
from bullpen.app.members.membership import ROLES
from bullpen.crdt import records as rec
from bullpen.crdt.schema import (
    ADMIN_DOC,
    INDEX_DOC,
    RULED_DOCS,
    SPACE_KINDS,
    ValidationError,
    genesis_shape,
    space_doc_id,
)

MANAGER_ONLY_DOCS = frozenset({ADMIN_DOC})
APPEND_ONLY_SETTINGS = ("membership", "invites")  # signed entries, judged again when read
MAX_ENTRY_CHARS = 8192  # a signed membership entry or invite record, as text
MEMBER_ROLES = ("manager", "rep")
REACTION_FIELDS = frozenset({"reactions", "_updated_at", "_updated_by"})
OWNER_FIELDS = frozenset({"owner", "closed", "closed_at", "_created_by", "_kind", "_deleted"})
SPACE_PREFIX = space_doc_id("")
MARKER_VALUE = re.compile(r"[0-9a-f]{8}:")  # rec.mark_touched's nonce, naming no record
MARKER_BYTES, MARKER_BYTES_PER_DEP = 256, 96  # an honest marker: ~180 + ~50 per dependency


class NotAllowed(ValidationError):
    """A local write the user's role does not allow (one line for the CLI and the app)."""


def require_manager(role: str | None, what: str) -> None:
    """Refuse a local write only managers may make, before anything is written."""
    if role != "manager":
        raise NotAllowed(f"only managers can {what} (you are a {role or 'non-member'})")


@functools.lru_cache(maxsize=256)
def genesis_root(doc_id: str) -> tuple[tuple[str, Any], ...]:
    """The top-level keys of ``doc_id`` as its deterministic genesis made them."""
    texts, maps = genesis_shape(doc_id)
    doc = rec.genesis(doc_id, texts, maps)
    return _root(doc, None)


def _root(doc: Document, heads: list[bytes] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, doc.get(ROOT, k, heads)) for k in doc.keys(ROOT, heads)))


def needs_judging(doc_id: str, role: str | None) -> bool:
    """Must a change by an author of ``role`` to ``doc_id`` be judged by its content?
    (In the forecast-call and tasks documents, everyone's: :mod:`.office_rules`.)"""
    if doc_id in RULED_DOCS:
        return True
    if role == "manager":
        return False
    return doc_id in (INDEX_DOC, *MANAGER_ONLY_DOCS) or doc_id.startswith(SPACE_PREFIX)


def role_limited(doc_id: str, role: str | None) -> bool:
    """May some change to ``doc_id`` that a manager may make be refused to ``role`` (None: a
    former member)? Where a demoted or removed member's earlier changes need vouching for."""
    return role in (None, "guest") or needs_judging(doc_id, role)


def root_intact(doc_id: str, doc: Document) -> bool:
    """Are the document's top-level containers still those of its genesis? (a cheap check of
    the current state; when it fails, :func:`violation` finds the change responsible)."""
    return _root(doc, None) == genesis_root(doc_id)


def violation(doc_id: str, doc: Document, change: Any, author: str, role: str | None,
              where: Callable[[str], str | None] = lambda rid: None) -> str | None:
    """Why ``change`` (held by ``doc``), made by ``author`` with ``role``, breaks the rules;
    None when it keeps them. ``where(record_id)`` names the document a record id is already
    used in (None: nowhere)."""
    at, before = [change.hash], list(change.deps)
    if not before:
        return "does not build on the document's first change"
    if _root(doc, at) != _root(doc, before):
        return "replaces a top-level container"
    if doc_id in RULED_DOCS:
        return office_rules.violation(doc_id, doc, change, author, role, where)
    if role == "manager":
        return None
    if doc_id in MANAGER_ONLY_DOCS:
        if is_adoption_marker(doc, change):
            return None
        return f"a {role or 'former member'} may not change {doc_id}"
    if doc_id == INDEX_DOC:
        return _index_violation(doc, at, before, role)
    if doc_id.startswith(SPACE_PREFIX):
        return _space_violation(doc_id, doc, at, before, author, role, where)
    return None


def is_adoption_marker(doc: Document, change: Any) -> bool:
    """Is ``change`` an adoption marker and nothing else: one operation, which sets the
    ``touched`` bookkeeping key to a fresh nonce naming no record, with no message, no extra
    bytes and no more bytes than such a change takes? That is what a member's node writes on
    a document to build on changes it accepted (:meth:`Workspace.adopt_former_members_changes`);
    no view, listing or search reads it, so it carries nothing into the team's numbers."""
    if (change.max_op != change.start_op or change.message or change.extra_bytes
            or len(change.raw_bytes) > MARKER_BYTES + MARKER_BYTES_PER_DEP * len(change.deps)):
        return False
    at, before = [change.hash], list(change.deps)
    touched = doc.get(ROOT, rec.TOUCHED, at)
    if touched is None:
        return False
    now = doc.get(touched[1], rec.TOUCH_KEY, at)
    # the one operation wrote this key (else its value would be the dependencies' one)
    if now is None or now == doc.get(touched[1], rec.TOUCH_KEY, before):
        return False
    value = now[0]
    return (isinstance(value, tuple) and value[0] == ScalarType.Str
            and MARKER_VALUE.fullmatch(value[1]) is not None)


def held_role(author: str, role_of: Callable[[str], str | None],
              highest: Mapping[str, str]) -> str | None:
    """The role ``author`` once held above the one it holds now (None if it never did): a
    manager demoted or removed since, whose earlier changes that role allowed."""
    held, role = highest.get(author), role_of(author)
    if held is None or (role is not None and ROLES.index(role) <= ROLES.index(held)):
        return None
    return held


def built_on(batch: list[Any], tips: Iterable[Any]) -> set[bytes]:
    """Hashes of the changes of ``batch`` that ``tips`` (changes of the batch) build on."""
    by_hash = {c.hash: c for c in batch}
    seen: set[bytes] = set()
    stack = [d for tip in tips for d in tip.deps]
    while stack:
        h = stack.pop()
        if h in seen or h not in by_hash:
            continue
        seen.add(h)
        stack.extend(by_hash[h].deps)
    return seen


def vouched_for(author: str, batch: list[Any], vouchers: Iterable[Any],
                author_of: Callable[[bytes], str | None]) -> set[bytes]:
    """Hashes of the changes of ``batch`` that a change of ``vouchers`` (accepted ones of
    the same message) builds on, counting only vouchers by someone other than ``author``:
    a change never vouches for its own author."""
    return built_on(batch, [v for v in vouchers if author_of(v.actor_id) != author])


def _entries(doc: Document, obj: bytes, heads: list[bytes]) -> dict[str, Any]:
    """What ``doc.get`` returns for each key of map ``obj`` as of ``heads``."""
    return {k: doc.get(obj, k, heads) for k in doc.keys(obj, heads)}


def _settings(doc: Document, heads: list[bytes]) -> Any:
    return rec.read_value(doc, doc.get(ROOT, rec.SETTINGS, heads), heads)


def _index_violation(doc: Document, at: list[bytes], before: list[bytes],
                     role: str | None) -> str | None:
    if role != "rep":
        return f"a {role} may not change workspace settings"
    settings = rec.container(doc, rec.SETTINGS)
    now, then = _entries(doc, settings, at), _entries(doc, settings, before)
    for key in now.keys() | then.keys():
        if key not in APPEND_ONLY_SETTINGS:
            if (rec.read_value(doc, now.get(key), at)
                    != rec.read_value(doc, then.get(key), before)):
                return f"a rep may not change the workspace setting {key!r}"
            continue
        if now.get(key) is None or then.get(key) is None or now[key][1] != then[key][1]:
            return f"a rep may not replace the {key} map"
        old, new = _entries(doc, then[key][1], before), _entries(doc, now[key][1], at)
        if any(new.get(k) != v for k, v in old.items()):
            return f"a rep may only add {key} entries, not change or delete them"
        if not all(_is_entry_text(v) for k, v in new.items() if k not in old):
            return f"a {key} entry is signed text of at most {MAX_ENTRY_CHARS} characters"
    return None


def _is_entry_text(found: Any) -> bool:
    value = found[0] if found is not None else None
    return (isinstance(value, tuple) and value[0] == ScalarType.Str
            and len(value[1]) <= MAX_ENTRY_CHARS)


def _space_violation(doc_id: str, doc: Document, at: list[bytes], before: list[bytes],
                     author: str, role: str | None,
                     where: Callable[[str], str | None]) -> str | None:
    if _settings(doc, at) != _settings(doc, before):
        return "only managers change a space's settings"
    space_id = doc_id[len(SPACE_PREFIX):]
    # A space document is small (guests have quotas): reading all its records at both heads
    # is how a change's effect on any field of any record is seen, whatever it claims.
    now = rec.read_value(doc, doc.get(ROOT, rec.RECORDS, at), at) or {}
    then = rec.read_value(doc, doc.get(ROOT, rec.RECORDS, before), before) or {}
    room = then.get(space_id) if isinstance(then.get(space_id), dict) else {}
    owner = room_owner(room)
    records = rec.container(doc, rec.RECORDS)
    for rid in now.keys() | then.keys():
        if office_rules.replaced(doc, records, rid, at, before):
            return office_rules.REPLACED
        if now.get(rid) == then.get(rid):
            continue
        if rid not in now:
            return "records are marked deleted, never removed from a space"
        after, prior = now[rid], then.get(rid)
        if not isinstance(after, dict) or not isinstance(prior, dict | None):
            return "a record is a map of fields"
        if prior is None and where(rid) not in (None, doc_id):
            return f"record id {rid} is already used by another document"
        if room.get("closed") is True and not (rid == space_id and role in MEMBER_ROLES
                                               and author == owner):
            return "the room is closed: only its owner or a manager may reopen it"
        reason = _space_record_violation(rid, space_id, after, prior, author, role, owner)
        if reason:
            return reason
    return None


def room_owner(room: Mapping[str, Any] | None) -> str | None:
    """Whose deal room this is: its ``owner`` field, else its creator."""
    owner = (room or {}).get("owner") or (room or {}).get("_created_by")
    return owner if isinstance(owner, str) else None


def _changed(after: Mapping[str, Any], prior: Mapping[str, Any]) -> set[str]:
    return {k for k in after.keys() | prior.keys() if after.get(k) != prior.get(k)}


def _space_record_violation(rid: str, space_id: str, after: dict[str, Any],
                            prior: dict[str, Any] | None, author: str,
                            role: str | None, owner_of_room: str | None) -> str | None:
    kind = after.get("_kind")
    # A guest, or a former member whose change a current member built on (no role now), is
    # held to the guest's rules (then, if vouched for, to the role it held: see judge);
    # reps and managers arrange the space, and its owner (or a manager) takes away from it.
    if rid == space_id:
        if role not in MEMBER_ROLES and after != prior:
            return "a guest may not change the space itself"
        if kind != "space":
            return "the space record must stay a space"
        return None if prior is None else _room_violation(after, prior, author, owner_of_room)
    if kind not in SPACE_KINDS:
        return f"a shared space holds {', '.join(SPACE_KINDS)}, not {kind!r}"
    if role in MEMBER_ROLES:
        return None
    reactions = after.get("reactions", {})
    if not isinstance(reactions, dict) or _changed(reactions, _reactions(prior)) - {author}:
        return "a guest reacts only as itself"
    owner = (prior or after).get("_created_by")
    if prior is None and owner != author:
        return "a guest adds records only as themself"
    if kind == "plan_task" and (after.get("side") != "customer"
                                or (prior or after).get("side") != "customer"):
        return "a guest writes only the customer side's tasks of the action plan"
    if owner != author and prior is not None:
        allowed = REACTION_FIELDS | ({"done"} if kind == "plan_task" else set())
        if _changed(after, prior) - allowed:
            return "a guest may only react to a record someone else wrote"
    return None


def _reactions(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's reactions, reactor -> reaction (the leaderboard counts them)."""
    found = (record or {}).get("reactions")
    return found if isinstance(found, dict) else {}


def _room_violation(after: dict[str, Any], prior: dict[str, Any], author: str,
                    owner: str | None) -> str | None:
    """A rep who does not own the room may add to it (guests, invites, its public status),
    never take away: remove a guest or an invite, close, reopen, hand it over or delete it
    (a deleted room is gone for its guests too)."""
    if author == owner:
        return None
    before, now = prior.get("guests"), after.get("guests")
    if isinstance(before, list) and not (isinstance(now, list) and set(before) <= set(now)):
        return "only the room's owner or a manager removes a guest"
    sent, kept = prior.get("invites"), after.get("invites")
    if isinstance(sent, dict) and not (isinstance(kept, dict) and all(
            kept.get(h) == email for h, email in sent.items())):
        return "only the room's owner or a manager withdraws an invite"
    if _changed(after, prior) & OWNER_FIELDS:
        return "only the room's owner or a manager closes, reopens or hands over the room"
    return None


def judge(doc_id: str, doc: Document, changes: Iterable[Any], role_of: Any, author_of: Any,
          where: Callable[[str], str | None] = lambda rid: None,
          highest: Mapping[str, str] | None = None) -> list[tuple[Any, str]]:
    """The ``changes`` (held by ``doc``) that break the rules, each with the reason.

    ``role_of(peer_id)``, ``author_of(actor_id)`` and ``highest`` (peer id -> the highest
    role it ever held) come from the membership; changes whose author is unknown were
    refused by their headers already and are skipped here. A refused change whose author
    held a role that allowed it is accepted when vouched for (:func:`vouched_for`)."""
    changes = list(changes)
    intact = root_intact(doc_id, doc)
    refused = []
    for change in changes:
        author = author_of(change.actor_id)
        if author is None:
            continue
        role = role_of(author)
        if intact and change.deps and not needs_judging(doc_id, role):
            continue
        reason = violation(doc_id, doc, change, author, role, where)
        if reason:
            refused.append((change, author, reason))
    if refused and highest:
        # vouchers: accepted changes of current members (vouched ones vouch for nothing)
        out = {id(c) for c, _, _ in refused}
        vouchers = [c for c in changes if id(c) not in out
                    and (a := author_of(c.actor_id)) is not None and role_of(a) is not None]
        vouched = functools.cache(lambda a: vouched_for(a, changes, vouchers, author_of))
        refused = [(c, author, reason) for c, author, reason in refused
                   if not ((held := held_role(author, role_of, highest))
                           and c.hash in vouched(author)
                           and violation(doc_id, doc, c, author, held, where) is None)]
    return [(c, f"{reason} (by {author[-6:]})") for c, author, reason in refused]
