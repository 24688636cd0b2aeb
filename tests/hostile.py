"""Hostile-member test kit: a modified client of any role writing any automerge change.

The threat model is a member, a guest or a stranger whose client writes whatever it likes to
any document it holds. :func:`forge` makes such a change in the attacker's own replica,
bypassing every use-case check (it writes with automerge directly, under the attacker's key);
:func:`deliver` then hands the attacker's document to a victim through the same code a sync
node runs (:class:`~bullpen.app.network.sync_docs.WorkspaceDocs` under the victim's
:class:`~bullpen.app.members.access.AccessPolicy`), by sync messages or as a whole saved document;
:func:`views` is what the victim's user sees, to compare before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automerge.core import ROOT

from bullpen.app.members import authorship
from bullpen.app.members.access import AccessPolicy
from bullpen.app.network.sync_docs import WorkspaceDocs
from bullpen.app.sales import use_cases as sales
from bullpen.app.workspace import Workspace
from bullpen.crdt import records as rec
from bullpen.sync.payloads import compress_saved, inspect_sync
from bullpen.sync.policy import Policy, RefusedChanges

TEAM_KINDS = ("opportunity", "contact", "event", "announcement", "topic", "post", "resource")


def forge(attacker: Workspace, doc_id: str, write: Callable[[Any], None], *,
          actor: bytes | None = None, sigs: Callable[[list[Any]], list[Any]] | None = None,
          ) -> list[Any]:
    """Make one change to ``doc_id`` in the attacker's replica with raw automerge: ``write``
    gets the transaction; the document's containers are ``records``/``settings`` at ROOT.
    ``actor``: write under another actor id (a teammate's); ``sigs``: the signatures the
    attacker then stores (and its node would send) for the new changes, instead of its own.
    Returns the new changes."""
    with attacker.lock:
        doc = attacker.doc_store.ensure(doc_id)
        before = doc.get_heads()
        doc.set_actor(actor or attacker.actor)
        try:
            with doc.transaction() as tx:
                write(tx)
        finally:
            doc.set_actor(attacker.actor)
        new = doc.get_changes(before)
        attacker.doc_store.append(doc_id, new, (sigs or (lambda c: sign(attacker, doc_id, c)))(new))
        return new


def sign(attacker: Workspace, doc_id: str, changes: list[Any]) -> list[authorship.Signature]:
    """The attacker's signatures of its changes: a modified client signs what it writes
    under its own key, as any member's does."""
    return authorship.sign(attacker.identity, attacker.workspace_id, doc_id, changes)


def put_record(tx: Any, record_id: str, fields: dict[str, Any]) -> None:
    """Write a whole record as a modified client would (any kind, any author fields)."""
    rec.write_record(tx, rec.container(tx, rec.RECORDS), record_id, fields)


def put_setting(tx: Any, path: tuple[str, ...], value: Any) -> None:
    """Set ``settings[path[0]]...[path[-1]]`` (maps along the way must exist)."""
    obj = rec.container(tx, rec.SETTINGS)
    for key in path[:-1]:
        obj = tx.get(obj, key)[1]
    rec._put_value(tx, obj, path[-1], value)


def replace_root(tx: Any, name: str) -> None:
    """Replace a top-level container, which would hide everything written in it."""
    from automerge.core import ObjType

    tx.put_object(ROOT, name, ObjType.Map)


def deliver(attacker: Workspace, victim: Workspace, doc_id: str, *, whole: bool = False,
            trusted: tuple[str, ...] = ()) -> str:
    """Send ``doc_id`` from the attacker to the victim as a sync node would; returns the
    refusal reason ("" when everything was accepted). ``trusted``: the victim is a newcomer
    joining through that inviter (:class:`AccessPolicy`)."""
    theirs = WorkspaceDocs(attacker, Policy())
    mine = WorkspaceDocs(victim, AccessPolicy(victim, trusted))
    try:
        if whole:
            mine.merge_saved(doc_id, compress_saved(attacker.doc(doc_id).save()),
                             theirs.whole_signatures(doc_id))
            return ""
        sent, received = theirs.new_sync_state(), mine.new_sync_state()
        # Signatures are kept until their changes are applied, as a session keeps them: a
        # change automerge holds back for a dependency (left out of a message by a Bloom
        # filter false positive) is proven by the signature that came with it earlier.
        pool_mine: dict = {}
        pool_theirs: dict = {}
        carried: set[bytes] = set()  # what the attacker sent (a session's _from_peer)
        for _ in range(20):
            out = theirs.generate(doc_id, sent)
            back = mine.generate(doc_id, received)
            if out is None and back is None:
                return ""
            if out is not None:
                pool_mine.update(_signatures(theirs, doc_id, out))
                mine.receive(doc_id, received, out, pool_mine)
                carried.update(h.hash for h in inspect_sync(out).headers or [])
                dropped = mine.dropped(doc_id)
                for change_hash in carried & dropped.keys():  # as the session blocks it
                    return dropped[change_hash]
            if back is not None:
                pool_theirs.update(_signatures(mine, doc_id, back))
                theirs.receive(doc_id, sent, back, pool_theirs)
        raise AssertionError("sync did not settle")
    except RefusedChanges as exc:
        return str(exc)


def _signatures(sender: WorkspaceDocs, doc_id: str, message: bytes) -> dict[bytes, bytes]:
    """The signatures a sync session sends before ``message`` (those of its changes)."""
    headers = inspect_sync(message).headers or []
    return sender.signatures(doc_id, [h.hash for h in headers])


def views(ws: Workspace) -> dict[str, Any]:
    """What the user of ``ws`` sees of the team: records, settings, numbers, members."""
    out: dict[str, Any] = {kind: ws.list(kind) for kind in TEAM_KINDS}
    out["search"] = ws.search("hacked")
    out["settings"] = (ws.title, ws.currency, [s.__dict__ for s in ws.stages()])
    out["numbers"] = (sales.quotas(ws), sales.rates(ws), sales.snapshots(ws))
    out["members"] = sorted((m["peer_id"], m["role"]) for m in ws.members())
    return out
