"""What each role may write: the rules every peer applies to every received change.

docs/SECURITY.md is the prose of these rules. They are judged per change, on receipt, from
what the change itself did to the document (its state at the change's own heads against the
state at its dependencies), whoever relayed it, so every peer reaches the same verdict:

- nobody replaces, deletes or adds a top-level container of a document (``records``,
  ``settings``, ``touched``, a text body): that would hide everything written before;
- the team's settings in the index document (title, currency, stages) and the ``admin``
  document (quotas, exchange rates, forecast snapshots) are written by managers only; a rep
  may only add entries to the index's membership log and invites (both signed, and checked
  again when read), never change or delete one;
- a shared space's document holds only the kinds a space allows (topics, posts, resources,
  documents) besides its own space record; a guest adds records of those kinds as themself,
  and changes nobody else's record except for reacting to it.

Header-level rules (who may write which document at all) are in :mod:`.access`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from automerge.core import ROOT, Document, ScalarType

from bullpen.crdt import records as rec
from bullpen.crdt.schema import (
    ADMIN_DOC,
    INDEX_DOC,
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
SPACE_PREFIX = space_doc_id("")


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
    """Must a change by an author of ``role`` to ``doc_id`` be judged by its content?"""
    if role == "manager":
        return False
    return doc_id == INDEX_DOC or doc_id.startswith(SPACE_PREFIX)


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
    if role == "manager":
        return None
    if doc_id in MANAGER_ONLY_DOCS:
        return f"a {role} may not change {doc_id}"
    if doc_id == INDEX_DOC:
        return _index_violation(doc, at, before, role)
    if doc_id.startswith(SPACE_PREFIX):
        return _space_violation(doc_id, doc, at, before, author, role, where)
    return None


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
    for rid in now.keys() | then.keys():
        if now.get(rid) == then.get(rid):
            continue
        if rid not in now:
            return "records are marked deleted, never removed from a space"
        after, prior = now[rid], then.get(rid)
        if not isinstance(after, dict) or not isinstance(prior, dict | None):
            return "a record is a map of fields"
        if prior is None and where(rid) not in (None, doc_id):
            return f"record id {rid} is already used by another document"
        reason = _space_record_violation(rid, space_id, after, prior, author, role)
        if reason:
            return reason
    return None


def _space_record_violation(rid: str, space_id: str, after: dict[str, Any],
                            prior: dict[str, Any] | None, author: str,
                            role: str | None) -> str | None:
    kind = after.get("_kind")
    # A guest, or a former member whose change a current member built on (no role now), is
    # held to the guest's rules; reps and managers arrange the space.
    if rid == space_id:
        if role not in MEMBER_ROLES and after != prior:
            return "a guest may not change the space itself"
        return None if kind == "space" else "the space record must stay a space"
    if kind not in SPACE_KINDS:
        return f"a shared space holds {', '.join(SPACE_KINDS)}, not {kind!r}"
    if role in MEMBER_ROLES:
        return None
    owner = (prior or after).get("_created_by")
    if prior is None and owner != author:
        return "a guest adds records only as themself"
    if owner != author and prior is not None:
        changed = {k for k in after.keys() | prior.keys() if after.get(k) != prior.get(k)}
        if changed - REACTION_FIELDS:
            return "a guest may only react to a record someone else wrote"
    return None


def judge(doc_id: str, doc: Document, changes: Iterable[Any], role_of: Any, author_of: Any,
          where: Callable[[str], str | None] = lambda rid: None) -> list[tuple[Any, str]]:
    """The ``changes`` (held by ``doc``) that break the rules, each with the reason.

    ``role_of(peer_id)`` and ``author_of(actor_id)`` come from the membership; changes whose
    author is unknown were refused by their headers already and are skipped here."""
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
            refused.append((change, f"{reason} (by {author[-6:]})"))
    return refused
