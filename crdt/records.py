"""Records in a collection document: writing fields, reading them (now or at past heads).

A collection document looks like ``{records: {id: {field: value, _meta...}}, touched: {actor:
"id,id"}, settings: {...}}``. Each field is its own map key, so concurrent edits of different
fields of one record both survive, and automerge picks one winner per field deterministically.

Every document starts from a *genesis* change made with an actor derived from the document id,
so every peer that creates the same collection produces byte-identical first changes: the
containers are shared instead of conflicting (two independently created ``records`` maps would
otherwise hide each other's contents).

Every transaction also writes ``touched[actor] = "id,id"``: that one cheap key lets the index
and the history find which records a change touched without diffing the document (automerge's
``diff`` costs milliseconds per change; reading a key at some heads costs a microsecond).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType, Transaction

RECORDS = "records"
TOUCHED = "touched"
SETTINGS = "settings"
TOUCH_KEY = "t"
META_FIELDS = ("_kind", "_created_at", "_created_by", "_updated_at", "_updated_by", "_deleted")

Heads = Sequence[bytes] | None


def genesis(doc_id: str, texts: Iterable[str] = (), maps: Iterable[str] = ()) -> Document:
    """The deterministic first state of document ``doc_id`` (identical on every peer).

    ``texts`` names root-level text objects (a co-edited document's body), ``maps`` the
    settings maps the document holds from its start (the admin document's quotas ...): made
    here, they are one object on every peer with no later change that creates them."""
    doc = Document(actor_id=hashlib.sha256(b"bullpen-genesis:" + doc_id.encode()).digest()[:16])
    with doc.transaction() as tx:
        tx.put(ROOT, "_doc", ScalarType.Str, doc_id)
        for name in (RECORDS, TOUCHED, SETTINGS):
            tx.put_object(ROOT, name, ObjType.Map)
        for name in texts:
            tx.put_object(ROOT, name, ObjType.Text)
        settings = container(tx, SETTINGS)
        for name in maps:
            tx.put_object(settings, name, ObjType.Map)
    return doc


def settings_maps_change(doc_id: str, names: Sequence[str]) -> bytes:
    """The one change that created the settings maps ``names`` of ``doc_id``: identical bytes
    on every peer. No longer made (the maps now live in the admin document from its genesis),
    but workspaces hold it, so every peer accepts it by this rule
    (:mod:`bullpen.app.members.access`).

    Two replicas that each created a missing settings map (two managers offline, each making
    the first invite or quota) would hold two map objects under one key, and after sync the
    losing map's entries would be hidden. Built like a genesis (an actor derived from the
    document and the names, on top of the deterministic genesis, no clock), this change is the
    same change everywhere, so every replica's map is one object."""
    doc = genesis(doc_id)
    actor = hashlib.sha256(f"bullpen-settings:{doc_id}:{','.join(names)}".encode())
    doc.set_actor(actor.digest()[:16])
    before = doc.get_heads()
    with doc.transaction() as tx:
        settings = container(tx, SETTINGS)
        for name in names:
            tx.put_object(settings, name, ObjType.Map)
        # An empty "touched" entry tells the workspace this change wrote no record.
        tx.put(container(tx, TOUCHED), actor.digest()[:16].hex(), ScalarType.Str, "0:")
    [change] = doc.get_changes(before)
    return change.bytes


def container(doc: Document | Transaction, name: str) -> bytes:
    found = doc.get(ROOT, name)
    if found is None or found[0] != ObjType.Map:
        raise KeyError(f"document has no {name!r} map")
    return found[1]


def _put_value(tx: Transaction, obj: bytes, key: str, value: Any) -> None:
    if value is None:
        if tx.get(obj, key) is not None:
            tx.delete(obj, key)
    elif isinstance(value, bool):
        tx.put(obj, key, ScalarType.Boolean, value)
    elif isinstance(value, int):
        tx.put(obj, key, ScalarType.Int, value)
    elif isinstance(value, float):
        tx.put(obj, key, ScalarType.F64, value)
    elif isinstance(value, str):
        tx.put(obj, key, ScalarType.Str, value)
    elif isinstance(value, list | tuple):
        lst = tx.put_object(obj, key, ObjType.List)
        for i, item in enumerate(value):
            tx.insert(lst, i, ScalarType.Str, str(item))
    elif isinstance(value, dict):
        raise TypeError("maps are merged key by key with merge_map")
    else:
        raise TypeError(f"cannot store {type(value).__name__}")


def put_setting(tx: Transaction, name: str, value: Any) -> None:
    """Set (``None``: clear) one plain value of the document's settings map."""
    _put_value(tx, container(tx, SETTINGS), name, value)


def merge_map(tx: Transaction, record: bytes, key: str, entries: dict[str, Any]) -> None:
    """Set or clear (value ``None``/"") keys of a map field without replacing the map, so two
    members reacting at once both keep their reaction."""
    found = tx.get(record, key)
    obj = found[1] if found is not None and found[0] == ObjType.Map else None
    if obj is None:
        obj = tx.put_object(record, key, ObjType.Map)
    for k, v in entries.items():
        _put_value(tx, obj, k, v if v not in ("", None) else None)


def write_record(
    tx: Transaction,
    records: bytes,
    record_id: str,
    fields: dict[str, Any],
    *,
    map_fields: Iterable[str] = (),
) -> bytes:
    """Create or update record ``record_id`` with ``fields`` (meta fields included by caller).

    Only given fields are written: an update of ``stage`` leaves a concurrent update of
    ``amount`` alone. Returns the record's object id.
    """
    found = tx.get(records, record_id)
    obj = found[1] if found is not None else tx.put_object(records, record_id, ObjType.Map)
    maps = set(map_fields)
    for key, value in fields.items():
        if key in maps and isinstance(value, dict):
            merge_map(tx, obj, key, value)
        else:
            _put_value(tx, obj, key, value)
    return obj


def mark_touched(tx: Transaction, record_ids: Iterable[str]) -> None:
    """Record which records this change touches, under one short key shared by all writers:
    read at a change's own heads, the key holds that change's value (it supersedes what its
    ancestors wrote, and concurrent writes are not visible there), so no per-actor key (72
    characters in every change) is needed."""
    # A fresh nonce first: automerge drops a put of an unchanged value, and the op must exist
    # for ``touched_by`` to see that this change wrote the key.
    value = os.urandom(4).hex() + ":" + encode_ids(record_ids)
    tx.put(container(tx, TOUCHED), TOUCH_KEY, ScalarType.Str, value)


_HEX = frozenset("0123456789abcdef")


def encode_ids(record_ids: Iterable[str]) -> str:
    """Record ids as text, with runs of consecutive ids (a bulk import numbers its records
    ``PREFIX`` + 6 hex digits) written as ``PREFIX<start>~<end>``: without that, a 10,000-row
    import kept 170 KB of id lists in the document's history, a third of its saved size."""
    plain: list[str] = []
    runs: dict[str, list[int]] = {}
    for rid in sorted(set(record_ids)):
        if len(rid) == 16 and set(rid) <= _HEX:
            runs.setdefault(rid[:10], []).append(int(rid[10:], 16))
        else:
            plain.append(rid)
    items = list(plain)
    for prefix, numbers in runs.items():
        start = prev = numbers[0]
        for n in [*numbers[1:], None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            if prev - start >= 2:
                items.append(f"{prefix}{start:06x}~{prev:06x}")
            else:
                items.extend(f"{prefix}{k:06x}" for k in range(start, prev + 1))
            if n is not None:
                start = prev = n
    return ",".join(items)


def decode_ids(text: str) -> list[str]:
    out: list[str] = []
    for item in text.split(","):
        if "~" in item and len(item) == 23:
            prefix, start, end = item[:10], int(item[10:16], 16), int(item[17:], 16)
            out.extend(f"{prefix}{k:06x}" for k in range(start, end + 1))
        elif item:
            out.append(item)
    return out


def read_value(doc: Document, found: tuple[Any, bytes] | None, heads: Heads = None) -> Any:
    """Plain Python value of what ``doc.get`` returned (recursing into lists and maps)."""
    if found is None:
        return None
    value, obj = found
    if isinstance(value, tuple):
        kind, scalar = value
        return None if kind == ScalarType.Null else scalar
    h = list(heads) if heads is not None else None
    if value == ObjType.List:
        return [read_value(doc, (v, o), heads) for v, o in doc.values(obj, h)]
    if value == ObjType.Map:
        return {k: read_value(doc, doc.get(obj, k, h), heads) for k in doc.keys(obj, h)}
    return doc.text(obj, h)


def read_record(doc: Document, records: bytes, record_id: str, heads: Heads = None) -> dict | None:
    """The record's fields as of ``heads`` (now when None); None when it did not exist, or
    is no map (what a modified client may write under a record id: never a record)."""
    h = list(heads) if heads is not None else None
    found = doc.get(records, record_id, h)
    if found is None or found[0] != ObjType.Map:
        return None
    return read_value(doc, found, heads)


def record_ids(doc: Document, records: bytes) -> list[str]:
    return doc.keys(records)


def toucher(doc: Document, change_hash: bytes) -> bytes | None:
    """The actor id of the change that last wrote the ``touched`` key as of ``change_hash``:
    the author of that change itself, as every change Bullpen writes marks what it touched.
    Read from the value's op id (``0x10``, actor length, actor, counter), in microseconds,
    where finding the change itself means listing the document's changes."""
    found = doc.get(container(doc, TOUCHED), TOUCH_KEY, [change_hash])
    if found is None:
        return None
    opid = found[1]
    return bytes(opid[2:2 + opid[1]]) if len(opid) > 2 and opid[0] == 0x10 else None


def touched_by(doc: Document, touched: bytes, change: Any) -> list[str] | None:
    """Record ids written by ``change`` (None when the change wrote no ``touched`` key).

    Changes made before the shared key existed wrote a key named after their actor."""
    for key in (TOUCH_KEY, change.actor_id.hex()):
        after = doc.get(touched, key, [change.hash])
        if after is None:
            continue
        before = doc.get(touched, key, list(change.deps)) if change.deps else None
        if before is not None and before[1] == after[1]:
            continue
        return decode_ids(after[0][1].partition(":")[2])
    return None
