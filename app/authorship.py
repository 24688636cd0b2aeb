"""Signed authorship: a change counts as its author's only when the author signed it.

An automerge change names its author by its actor id, which the writer picks freely: a
modified client could write under a manager's actor id (the manager's public key plus any four
bytes) and every peer would judge the change by the manager's role. So every member signs each
change it makes, and a peer accepts a member's change only when a signature proves it.

What is signed is ``(workspace, document, change hash)`` with the key whose public half opens
the actor id (``actor[:32]``), so the proof needs no lookup and cannot be replayed in another
workspace or document. The hash covers the change's content, actor, sequence number and
dependencies.

**One signature covers an actor's earlier changes.** Automerge never holds two changes with the
same actor and sequence number (it refuses the second), and an actor's change ``n`` depends,
through the document's history, on its changes ``1 .. n-1`` (one process writes under one actor,
in order). So once a document holds a signed change ``(A, t)``, every change of ``A`` it holds
with a sequence number up to ``t`` is ``A``'s own. A peer therefore checks one signature per
actor and message: the newest change of each actor that arrived and carries a signature. This
keeps a first sync of 10,000 records to one check per writing session, not one per change (a
check costs about 40 µs), and a whole document travels with one signature per actor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .identity import Identity, verify

MEMBER_ACTOR = 36  # a member's actor id: its Ed25519 public key and four random bytes
DOMAIN = b"bullpen-change-v1\0"


@dataclass(frozen=True)
class Signature:
    """A member's signature of one change of one document."""

    doc_id: str
    change_hash: bytes
    actor: bytes
    seq: int
    sig: bytes


def payload(workspace_id: str, doc_id: str, change_hash: bytes) -> bytes:
    """The bytes a member signs for one change."""
    return DOMAIN + workspace_id.encode() + b"\0" + doc_id.encode() + b"\0" + change_hash


def sign(identity: Identity, workspace_id: str, doc_id: str,
         changes: Iterable[Any]) -> list[Signature]:
    """Signatures of the ``changes`` this identity made (others' changes are skipped)."""
    mine = identity.public
    return [Signature(doc_id, c.hash, c.actor_id, c.seq,
                      identity.sign(payload(workspace_id, doc_id, c.hash)))
            for c in changes if c.actor_id[:32] == mine and len(c.actor_id) == MEMBER_ACTOR]


def check(workspace_id: str, doc_id: str, changes: Iterable[Any],
          offered: dict[bytes, bytes]) -> tuple[list[tuple[Any, str]], list[Signature]]:
    """Judge the member changes a document just received (all applied: ``changes`` are what
    the document holds now and did not before), given the signatures offered with them
    (change hash -> signature).

    Returns the changes no valid signature covers, each with the reason, and the signatures
    found valid (to store and pass on). Per actor, signatures are tried from its newest
    received change down; the first valid one covers that change and the actor's earlier ones,
    and anything newer of that actor stays unproven. Changes of non-member actors (the
    deterministic genesis) are left to the role rules."""
    by_actor: dict[bytes, list[Any]] = defaultdict(list)
    for change in changes:
        if len(change.actor_id) == MEMBER_ACTOR:
            by_actor[change.actor_id].append(change)
    refused: list[tuple[Any, str]] = []
    valid: list[Signature] = []
    for actor, own in by_actor.items():
        own.sort(key=lambda c: c.seq, reverse=True)
        covered = 0
        for change in own:
            sig = offered.get(change.hash)
            if sig is not None and verify(actor[:32], sig,
                                          payload(workspace_id, doc_id, change.hash)):
                covered = change.seq
                valid.append(Signature(doc_id, change.hash, actor, change.seq, sig))
                break
        refused += [(c, f"change {c.hash.hex()[:12]} is not signed by its author")
                    for c in own if c.seq > covered]
    return refused, valid
