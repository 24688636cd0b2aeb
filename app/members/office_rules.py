"""What each role may write in the forecast-call and tasks documents, judged per record.

These documents (``crdt.schema.RULED_DOCS``: ``forecasts``, ``tasks``) hold records whose
rules depend on who wrote them: a rep submits only its own forecast, only a manager adjusts
one, nobody rewrites a submission or an adjustment (a resubmission is a new record), and only
an action item's owner or a manager changes it. So every change to them, a manager's too, is
judged by what it did to each record, on every peer, like the rest of :mod:`.authz`.

How a change's effect is found without diffing the document (automerge's ``diff`` costs
milliseconds per change on a document of a few thousand records, and a first sync judges
every change): a change names the records it wrote in the ``touched`` key (Bullpen's own
writes always do), and every operation of the change must be *accounted for* by a value it
wrote that is visible at its own heads: the touched key, a named record's entry in
``records``, or a field of a named record. A change's operations are numbered ``start_op`` to
``max_op``, and at its own heads each key it wrote shows its value (nothing concurrent is
visible there), so a change that did anything else (wrote an unnamed record, wrote a key twice,
deleted a field, nested an object) has an operation left over and is refused. Bullpen's own
writes to these documents never delete a key or write one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automerge.core import ROOT, Document, ObjType

from bullpen.app.sales.periods import parse_period
from bullpen.crdt import records as rec
from bullpen.crdt.schema import RULED_DOCS, ValidationError
from bullpen.crdt.validation import validate

MEMBER_ROLES = ("manager", "rep")
META = ("_kind", "_created_at", "_created_by", "_updated_at", "_updated_by", "_deleted")
FIXED = ("_kind", "_created_at", "_created_by")  # never change once a record exists


def violation(doc_id: str, doc: Document, change: Any, author: str, role: str | None,
              where: Callable[[str], str | None]) -> str | None:
    """Why ``change`` to ruled document ``doc_id`` breaks the rules (None: it keeps them)."""
    if role not in MEMBER_ROLES:
        return f"a {role or 'former member'} may not write {doc_id}"
    at, before = [change.hash], list(change.deps)
    named = _named(doc, change)
    records = _container(doc, rec.RECORDS, at)
    if records is None:
        return "the document has no records map"
    if _accounted(doc, records, change, named) != change.max_op - change.start_op + 1:
        return "changes more than the records it names"
    for rid in sorted(named):
        found = doc.get(records, rid, at)
        if found is None:
            continue  # named, not written (an honest change names only what it wrote)
        if replaced(doc, records, rid, at, before):
            return REPLACED
        after = rec.read_record(doc, records, rid, at)
        prior = rec.read_record(doc, records, rid, before)
        if after is None:
            return "a record is a map of fields"
        if after == prior:
            continue
        reason = _record_violation(doc_id, rid, after, prior, author, role, where)
        if reason:
            return reason
    return None


REPLACED = "a record is changed in place, never replaced by a new map"


def replaced(doc: Document, records: bytes, rid: str, at: list[bytes],
             before: list[bytes]) -> bool:
    """Does record ``rid``, which existed at ``before``, hold another object at ``at``? A new
    map with the old values looks unchanged, but hides every concurrent edit made in the
    old one (an owner's, a manager's): so whoever may not make those edits could undo them."""
    was, now = doc.get(records, rid, before), doc.get(records, rid, at)
    return was is not None and now is not None and was[1] != now[1]


def _container(doc: Document, name: str, at: list[bytes]) -> bytes | None:
    """The top-level map ``name`` as of ``at`` (the genesis made it; None if it is gone)."""
    found = doc.get(ROOT, name, at)
    return found[1] if found is not None and found[0] == ObjType.Map else None


def _named(doc: Document, change: Any) -> set[str]:
    """The record ids the change's touched key names (none when it wrote no touched key)."""
    touched = _container(doc, rec.TOUCHED, [change.hash])
    return set(rec.touched_by(doc, touched, change) or ()) if touched else set()


def op_of(opid: bytes) -> tuple[bytes, int] | None:
    """(actor, counter) of an automerge op id as ``Document.get`` returns it: 0x10, the
    actor's length and bytes, the actor's index in the document, the counter (LEB128)."""
    if len(opid) < 2 or opid[0] != 0x10:
        return None
    length, pos = _uleb(opid, 1)
    actor, pos = opid[pos:pos + length], pos + length
    _, pos = _uleb(opid, pos)  # the actor's index in this replica's table
    counter, pos = _uleb(opid, pos)
    return (bytes(actor), counter) if pos == len(opid) else None


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    return -1, len(data) + 1  # truncated: matches no op


def _accounted(doc: Document, records: bytes, change: Any, named: set[str]) -> int:
    """How many of the change's operations show as values at its own heads in the touched
    key, the named records' entries and their fields."""
    at = [change.hash]
    mine = (bytes(change.actor_id), range(change.start_op, change.max_op + 1))

    def by_change(found: tuple[Any, bytes] | None) -> bool:
        op = op_of(found[1]) if found is not None else None
        return op is not None and op[0] == mine[0] and op[1] in mine[1]

    touched = _container(doc, rec.TOUCHED, at)
    count = by_change(doc.get(touched, rec.TOUCH_KEY, at)) if touched else 0
    for rid in named:
        entry = doc.get(records, rid, at)
        count += by_change(entry)
        if entry is not None and entry[0] == ObjType.Map:
            count += sum(by_change(doc.get(entry[1], key, at)) for key in doc.keys(entry[1], at))
    return count


def _record_violation(doc_id: str, rid: str, after: dict[str, Any],
                      prior: dict[str, Any] | None, author: str, role: str,
                      where: Callable[[str], str | None]) -> str | None:
    kind = after.get("_kind")
    if kind not in RULED_DOCS[doc_id]:
        return f"{doc_id} holds {', '.join(RULED_DOCS[doc_id])}, not {kind!r}"
    if after.get("_updated_by") != author:
        return "a record's last writer must be the change's author"
    if prior is None:
        if after.get("_created_by") != author:
            return "records are added only as their author"
        if where(rid) not in (None, doc_id):
            return f"record id {rid} is already used by another document"
    elif any(after.get(k) != prior.get(k) for k in FIXED):
        return "a record's kind, author and creation time never change"
    reason = _invalid(kind, after)
    if reason:
        return reason
    if kind == "action_item":
        return _action_item_violation(after, prior, author, role)
    if prior is not None:
        return "a forecast submission or adjustment is never changed: submit a new one"
    period = after["period"]
    try:
        canonical = parse_period(period).label == period
    except ValueError:
        canonical = False
    if not canonical:
        return f"{period!r} is not a period label"
    if kind == "forecast_submission" and after.get("rep") != author:
        return "a rep submits only its own forecast"
    if kind == "forecast_adjustment" and role != "manager":
        return f"only managers adjust a forecast (by a {role})"
    return None


def _invalid(kind: str, after: dict[str, Any]) -> str | None:
    """Why the record's stored values are not what validation makes of them (None: they are)."""
    fields = {k: v for k, v in after.items() if k not in META}
    if not isinstance(after.get("_deleted", False), bool) or not all(
            isinstance(after.get(k), str) for k in ("_created_at", "_updated_at")):
        return "a record's bookkeeping fields are malformed"
    try:
        checked = validate(kind, fields)
    except ValidationError as exc:
        return f"invalid {kind}: {exc}"
    if checked != fields:
        return f"invalid {kind}: values are not stored as validated"
    return None


def _action_item_violation(after: dict[str, Any], prior: dict[str, Any] | None, author: str,
                           role: str) -> str | None:
    if prior is None or role == "manager" or prior.get("owner") == author:
        return None
    return "only an action item's owner or a manager changes it"
