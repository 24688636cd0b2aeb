"""Signed authorship: a change counts as its author's only when the author signed it.

An automerge change names its author by its actor id, which the writer picks freely: a
modified client could write under a manager's actor id (the manager's public key plus any four
bytes) and every peer would judge the change by the manager's role. So every member signs each
change it makes, and a peer accepts a member's change only when a signature proves it.

What is signed is ``(workspace, document, change hash)`` with the key whose public half opens
the actor id (``actor[:32]``), so the proof needs no lookup and cannot be replayed in another
workspace or document. The hash covers the change's content, actor, sequence number and
dependencies.

**One signature covers an actor's earlier changes.** One process writes under one actor, in
order, so an actor's change ``n`` depends, through the document's history, on its changes
``1 .. n-1``; and a change's hash covers its dependencies' hashes. So a valid signature of a
change ``H`` by ``A`` proves every change of ``A`` among ``H``'s ancestors: nobody can make a
forged change an ancestor of a change someone else already signed. A received change of ``A``
is therefore accepted when it is an ancestor (or is itself) of a received change ``A``
signed, and a peer checks one signature per actor and message: the newest change of each actor
that carries a valid one. This keeps a first sync of 10,000 records to one check per writing
session, not one per change (a check costs about 40 µs), and a whole document travels with one
signature per actor. (Covering "every change of ``A`` with a sequence number up to ``H``'s"
instead would rely on automerge never holding two changes with the same actor and number,
which it checks only for changes it can apply at once, not for those it queued.)

**Changes from before signatures.** Workspaces started with an earlier release hold unsigned
changes. On its first open with this release, each profile signs the newest change of each of
its own earlier actors, and the first manager to open it *seals* that history: a signed entry
of the membership log naming each document's heads (app/members/old_changes.py). A change that is an
ancestor of (or is) a sealed head is accepted without a signature. The seal is part of the
membership log, so it reaches every member with the index, stays valid if its author is later
demoted, and covers nothing written after it: only the first seal counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from bullpen.app.members.authz import built_on
from bullpen.app.members.identity import Identity, verify

MEMBER_ACTOR = 36  # a member's actor id: its Ed25519 public key and four random bytes
DOMAIN = b"bullpen-change-v1\0"

Proofs = dict[tuple[bytes, bytes], bytes]  # (change hash, signer's public key) -> signature


@dataclass(frozen=True)
class Signature:
    """A signature of one change of one document by its author (``signer`` is the key the
    actor id names; proofs are keyed by it so that a signature under another key is ignored
    without a check)."""

    doc_id: str
    change_hash: bytes
    actor: bytes
    seq: int
    signer: bytes
    sig: bytes


def payload(workspace_id: str, doc_id: str, change_hash: bytes) -> bytes:
    """The bytes an author signs for one change."""
    return DOMAIN + workspace_id.encode() + b"\0" + doc_id.encode() + b"\0" + change_hash


def sign(identity: Identity, workspace_id: str, doc_id: str,
         changes: Iterable[Any]) -> list[Signature]:
    """Signatures of the ``changes`` this identity made (others' changes are skipped)."""
    mine = identity.public
    return [Signature(doc_id, c.hash, c.actor_id, c.seq, mine,
                      identity.sign(payload(workspace_id, doc_id, c.hash)))
            for c in changes if c.actor_id[:32] == mine and len(c.actor_id) == MEMBER_ACTOR]


def newest_by_actor(changes: Iterable[Any]) -> list[Any]:
    """Each member actor's newest change among ``changes``: the one a proof must cover."""
    newest: dict[bytes, Any] = {}
    for c in changes:
        if len(c.actor_id) == MEMBER_ACTOR and c.seq > getattr(newest.get(c.actor_id), "seq", 0):
            newest[c.actor_id] = c
    return list(newest.values())


def check(workspace_id: str, doc_id: str, changes: Iterable[Any], offered: Proofs,
          sealed: Collection[bytes] = ()) -> tuple[list[tuple[Any, str]], list[Signature]]:
    """Judge the member changes a document just received (all applied: ``changes`` are what
    the document holds now and did not before), given the proofs offered with them and the
    document's ``sealed`` heads (changes from before signatures that a manager sealed).

    Returns the changes no valid proof covers, each with the reason, and the proofs found
    valid (to store and pass on). Per actor, proofs are tried from its newest received change
    down; the first valid one covers that change and the actor's changes among its ancestors.
    Changes of non-member actors (the deterministic genesis) are left to the role rules."""
    changes = list(changes)
    by_actor: dict[bytes, list[Any]] = defaultdict(list)
    for change in sorted(changes, key=lambda c: c.seq, reverse=True):  # newest first
        if len(change.actor_id) == MEMBER_ACTOR:
            by_actor[change.actor_id].append(change)
    valid: list[Signature] = []
    for actor, own in by_actor.items():
        for change in own:
            # looked up per change (the pool of offered signatures may be large)
            sig = offered.get((change.hash, actor[:32]))
            if sig is not None and verify(actor[:32], sig,
                                          payload(workspace_id, doc_id, change.hash)):
                valid.append(Signature(doc_id, change.hash, actor, change.seq, actor[:32], sig))
                break
    covered = _covered(changes, by_actor, {v.change_hash: v.actor for v in valid}, sealed)
    refused = [(c, f"change {c.hash.hex()[:12]} is not signed by its author")
               for own in by_actor.values() for c in own if c.hash not in covered]
    return refused, valid


def _covered(changes: list[Any], by_actor: dict[bytes, list[Any]], signed: dict[bytes, bytes],
             sealed: Collection[bytes]) -> set[bytes]:
    """Hashes of the ``changes`` that are ancestors (or themselves) of a ``signed`` change
    (hash -> its actor) of the same actor, or of a ``sealed`` head, following dependencies
    among ``changes`` only (a change held before cannot depend on one that arrives now).
    ``by_actor``: each member actor's changes among them, newest first.

    Per actor, from its signed change down its own changes in sequence order, each is looked
    for among the ancestors of the last one found: an honest writer's changes form one chain,
    so each walk crosses only the changes made between two of its changes. A walk never goes
    below the change it looks for in automerge's operation counter (``start_op`` only grows
    along dependencies), and all walks of one message share a budget linear in its size
    (:data:`WALK_PER_CHANGE` steps per change: enough for that many writers working side by
    side throughout the document's history): a crafted history that would cost more is
    refused rather than checked for seconds."""
    by_hash = {c.hash: c for c in changes}
    heads = [by_hash[h] for h in sealed if h in by_hash]
    covered = {c.hash for c in heads} | built_on(changes, heads)
    budget = [WALK_PER_CHANGE * len(changes) + WALK_BASE]
    for head, actor in signed.items():
        top = by_hash[head]
        covered.add(head)
        for change in by_actor[actor]:
            if change.seq < top.seq and _reaches(by_hash, top, change, budget):
                covered.add(change.hash)
                top = change
    return covered


WALK_PER_CHANGE, WALK_BASE = 32, 100_000  # dependency steps to prove one message's changes


def _reaches(by_hash: dict[bytes, Any], top: Any, target: Any, budget: list[int]) -> bool:
    """Is ``target`` an ancestor of ``top`` (walking ``by_hash`` only, within ``budget``)?"""
    floor = target.start_op
    seen: set[bytes] = set()
    stack = list(top.deps)
    while stack:
        h = stack.pop()
        if h == target.hash:
            return True
        change = by_hash.get(h)
        if change is None or h in seen or change.start_op <= floor:
            continue
        seen.add(h)
        budget[0] -= 1
        if budget[0] < 0:
            return False
        stack.extend(change.deps)
    return False
