"""Who may sync, which documents each peer receives, and whose changes are accepted.

Decided from the verified membership log (app/members/membership.py), per peer and per change:
- a peer that is not a current member is refused before it learns anything;
- managers and reps receive every document; a guest receives the workspace index (settings and
  the member list), the shared spaces that name them as guests, and the bodies of documents
  catalogued in those spaces: nothing of the pipeline, the team's discussions or other spaces;
- a change is accepted only if its author (the Ed25519 key in its actor id) is a current member
  allowed to write that document: guests write only in their spaces, only managers write the
  admin document (quotas, rates, snapshots). Automerge ids of the deterministic first change
  of each document (genesis) are accepted only for that change, and the one change older
  releases made to create the pipeline's settings maps is accepted by the same rule;
- what a change does is then judged by :mod:`.authz` (settings, spaces, containers), on the
  document the change was applied to, before anything is stored;
- a newcomer, which holds no membership yet, takes the workspace index only from the inviter
  its signed code names, and judges it like anyone by the membership log that index carries
  (:meth:`AccessPolicy._judge_first_index`); every other document waits for the index.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from automerge.core import Document

from bullpen.app.members import authorship, authz, limits
from bullpen.app.members.identity import peer_id_from_public
from bullpen.app.members.membership import MembershipError, MembershipState, replay
from bullpen.app.workspace import Workspace
from bullpen.app.workspace.members import MEMBERSHIP
from bullpen.crdt import records as rec
from bullpen.crdt.changes import apply_changes
from bullpen.crdt.records import genesis, settings_maps_change
from bullpen.crdt.schema import (
    ADMIN_MAPS,
    INDEX_DOC,
    genesis_shape,
    kind_spec,
    space_doc_id,
    text_doc_id,
)
from bullpen.sync.policy import ContentJudge

FULL_ACCESS = ("manager", "rep")
SPACE_PREFIX = space_doc_id("")
TEXT_PREFIX = text_doc_id("")


PIPELINE_DOC = kind_spec("opportunity").collection


@functools.lru_cache(maxsize=1024)
def rule_made_changes(doc_id: str) -> frozenset[bytes]:
    """Hashes of the changes of ``doc_id`` that no member authored but every peer makes the
    same way: the document's genesis, and (pipeline) the change that releases before the
    admin document made to create the quotas, rates and snapshots maps."""
    texts, maps = genesis_shape(doc_id)
    found = {genesis(doc_id, texts, maps).get_heads()[0]}
    if doc_id == PIPELINE_DOC:
        legacy = genesis(doc_id)
        legacy_change = settings_maps_change(doc_id, ADMIN_MAPS)
        apply_changes(legacy, [legacy_change])
        found.update(legacy.get_heads())
    return frozenset(found)


def carried_membership(doc: Document, workspace_id: str) -> MembershipState | None:
    """The membership log ``doc`` (an index document) carries, replayed at its heads; None
    when it holds no log rooted in the founder whose entry's hash is ``workspace_id``. The
    log is verifiable on its own (signed entries chained to that founder), whoever sent it."""
    try:
        found = doc.get(rec.container(doc, rec.SETTINGS), MEMBERSHIP)
    except KeyError:  # no settings map: no log
        return None
    log = rec.read_value(doc, found)
    try:
        return replay(log if isinstance(log, dict) else {}, workspace_id)
    except MembershipError:
        return None


def author_of(actor: bytes) -> str | None:
    """The peer id whose key made changes under ``actor`` (None: not a member's actor)."""
    if len(actor) != 36:
        return None
    return peer_id_from_public(actor[:32])


class AccessPolicy:
    """The sync node's policy hook, answered from the workspace's membership."""

    def __init__(self, ws: Workspace, trusted: Iterable[str] = ()) -> None:
        """``trusted``: the inviter a newcomer joins through, whose signed peer id the invite
        names; trusted only until this profile holds the workspace's membership log."""
        self.ws = ws
        self.trusted = set(trusted)
        self._guest_docs: dict[str, frozenset[str]] = {}
        self._closed_texts: frozenset[str] | None = None
        self._spaces_seen: tuple[Any, ...] = ()
        self.quota = limits.GuestQuota(ws, self._documents_in, author_of)
        # the membership a newcomer's first index carries, by the hashes of its changes (the
        # content judge finds it, the signature check that follows uses its seal)
        self._carried: tuple[frozenset[bytes], MembershipState | None] | None = None

    def _bootstrapping(self, peer_id: str | None = None) -> bool:
        """Is this a newcomer that has not accepted the workspace index yet (and, given
        ``peer_id``, is that peer the inviter its code names)? Asked of the store, not of the
        live index: while a first index is judged it is in memory, not yet accepted."""
        if peer_id is not None and peer_id not in self.trusted:
            return False
        return bool(self.trusted) and not self.ws.store.has_doc(INDEX_DOC)

    def is_allowed(self, peer_id: str) -> bool:
        return self.ws.role(peer_id) is not None or self._bootstrapping(peer_id)

    def role(self, peer_id: str) -> str | None:
        return self.ws.role(peer_id)

    def guest_docs(self, peer_id: str) -> frozenset[str]:
        """The documents a guest may receive and write (besides the index).

        Asked for every message and change a guest's session handles, and it lists every
        space and document: kept per guest until a space document changes (spaces, their
        guest lists and the documents shared in them all live in those documents). Under the
        workspace lock, so a guest never gets an answer computed before a change."""
        with self.ws.lock:
            self._forget_if_spaces_changed()
            found = self._guest_docs.get(peer_id)
            if found is None:
                found = self._guest_docs[peer_id] = self._compute_guest_docs(peer_id)
            return found

    def closed_texts(self) -> frozenset[str]:
        """The texts of documents shared in closed deal rooms: read-only for reps and guests
        until the room's owner or a manager reopens it. Judged by this peer's view of the
        room (as a guest's access is), the room's own document by its changes' past."""
        with self.ws.lock:
            self._forget_if_spaces_changed()
            if self._closed_texts is None:
                self._closed_texts = frozenset(
                    text_doc_id(d["id"]) for space in self.ws.list("space")
                    if space.get("closed") is True
                    for d in self._documents_in(space_doc_id(space["id"])))
            return self._closed_texts

    def _forget_if_spaces_changed(self) -> None:
        """Drop what was computed from the space documents when one of them changed."""
        state = tuple((d, tuple(self.ws.heads(d))) for d in self.ws.doc_ids()
                      if d.startswith(SPACE_PREFIX))
        if state != self._spaces_seen:
            self._spaces_seen = state
            self._guest_docs.clear()
            self._closed_texts = None

    def _compute_guest_docs(self, peer_id: str) -> frozenset[str]:
        docs: set[str] = set()
        for space in self.ws.list("space"):
            if peer_id in (space.get("guests") or []):
                doc_id = space_doc_id(space["id"])
                docs.add(doc_id)
                docs.update(text_doc_id(d["id"]) for d in self._documents_in(doc_id))
        return frozenset(docs)

    def _documents_in(self, doc_id: str) -> list[dict[str, Any]]:
        return [d for d in self.ws.list("document") if self.ws.index.doc_of(d["id"]) ==
                ("document", doc_id)]

    def docs_visible_to(self, peer_id: str, doc_ids: Iterable[str]) -> set[str]:
        role = self.role(peer_id)
        wanted = set(doc_ids)
        if role in FULL_ACCESS:
            return wanted
        if role == "guest":
            return wanted & ({INDEX_DOC} | self.guest_docs(peer_id))
        return wanted if self._bootstrapping(peer_id) else set()

    def change_refused(self, doc_id: str, change: Any) -> str | None:
        """Why a received change must not be applied (None: it may)."""
        if self._bootstrapping():
            # A newcomer's first sync, from the inviter the signed code names: only the index,
            # judged with the document (content_judge). Everything else waits for it.
            return None if doc_id == INDEX_DOC else "the workspace index must arrive first"
        return self._refused_by(doc_id, change, self.ws.membership())

    def _refused_by(self, doc_id: str, change: Any, state: MembershipState) -> str | None:
        """Why ``change`` must not be applied by its header, by the roles of ``state``."""
        author = author_of(change.actor_id)
        if author is None:
            if change.seq == 1 and change.hash in rule_made_changes(doc_id):
                return None
            return "change by an unknown actor"
        role = state.role_of(author)
        if role is None:
            return f"change by {author[-6:]}, who is not a member"
        # a rep's change to the admin document is judged by what it does (authz: only an
        # adoption marker, or a change vouched for of a manager demoted since)
        if role == "guest" and doc_id != INDEX_DOC and doc_id not in self.guest_docs(author):
            return f"guest {author[-6:]} may not write {doc_id}"
        if role == "guest" and doc_id == INDEX_DOC:
            return f"guest {author[-6:]} may not change workspace settings"
        if role != "manager" and doc_id.startswith(TEXT_PREFIX) and doc_id in self.closed_texts():
            return f"{doc_id} is in a closed deal room"
        return None

    def blob_visible(self, peer_id: str, sha256: str) -> bool:
        """Members get any shared file; a guest only those of resources in their spaces."""
        role = self.role(peer_id)
        if role in FULL_ACCESS:
            return True
        if role != "guest":
            return False
        spaces = self.guest_docs(peer_id)
        return any(r.get("sha256") == sha256 and self.ws.index.doc_of(r["id"]) ==
                   ("resource", doc_id) for r in self.ws.list("resource") for doc_id in spaces)

    def refused_changes(self, doc_id: str, changes: Iterable[Any]) -> list[tuple[Any, str]]:
        """The refused ``changes`` of one message, with reasons. A removed or demoted
        member's change (one its author's role now refuses) is kept when another current
        member's change in the same message builds on it: that member accepted it before
        learning of the removal or demotion (every member's node builds on such changes once
        it learns, :meth:`Workspace.adopt_former_members_changes`), so every peer ends up
        with the same changes whichever way they travelled. What it does is judged next, by
        the role its author held (:func:`.authz.judge`)."""
        changes = list(changes)
        if self._bootstrapping():
            return [(c, reason) for c in changes if (reason := self.change_refused(doc_id, c))]
        return self._refusals(doc_id, changes, self.ws.membership())

    def _refusals(self, doc_id: str, changes: list[Any],
                  state: MembershipState) -> list[tuple[Any, str]]:
        """:meth:`refused_changes` by the roles of ``state``."""
        refused = [(c, reason) for c in changes
                   if (reason := self._refused_by(doc_id, c, state))]
        if not refused:
            return []
        out = {id(c) for c, _ in refused}
        vouchers = [c for c in changes if id(c) not in out]
        vouched = functools.cache(lambda a: authz.vouched_for(a, changes, vouchers, author_of))
        return [(c, reason) for c, reason in refused
                if (author := author_of(c.actor_id)) is None
                or not authz.held_role(author, state.role_of, state.highest)
                or c.hash not in vouched(author)]

    def _doc_of_record(self, record_id: str) -> str | None:
        found = self.ws.index.doc_of(record_id)
        return found[1] if found else None

    def unsigned(self, doc_id: str, changes: list[Any], offered: authorship.Proofs,
                 ) -> tuple[list[tuple[Any, str]], list[authorship.Signature]]:
        """Changes not proven their authors' by a signature, nor sealed as history from
        before signatures (:mod:`.authorship`), by the seal of the membership log (a
        newcomer's first index: the log it carries)."""
        state = (self._first_index_membership(changes) if doc_id == INDEX_DOC
                 and self._bootstrapping() else self.ws.membership())
        sealed = (state.sealed if state is not None else None) or {}
        return authorship.check(self.ws.workspace_id, doc_id, changes, offered,
                                sealed.get(doc_id, ()))

    def content_judge(self, doc_id: str) -> ContentJudge:
        """The role rules of :mod:`.authz` and the size limits and guest quotas of
        :mod:`.limits`, by the membership as it is before the changes (a newcomer's first
        index: :meth:`_judge_first_index`)."""
        if doc_id == INDEX_DOC and self._bootstrapping():
            return self._judge_first_index
        state = self.ws.membership()
        return lambda doc, changes: self._content_refusals(doc_id, doc, changes, state)

    def _content_refusals(self, doc_id: str, doc: Document, changes: list[Any],
                          state: MembershipState) -> list[tuple[Any, str]]:
        return (authz.judge(doc_id, doc, changes, state.role_of, author_of,
                            self._doc_of_record, state.highest)
                or limits.refusals(doc_id, doc, changes, self.quota, state.role_of))

    def _judge_first_index(self, doc: Document, changes: list[Any]) -> list[tuple[Any, str]]:
        """A newcomer has no membership of its own to judge its first index by, and must not
        take it on the inviter's word (a rep inviter could replace the membership map, which
        would hide every later entry, or set the title). It judges the index by the log the
        index carries (:func:`carried_membership`): a newcomer holds no index yet, so
        ``changes`` are the whole document, and every change is judged by the roles of that
        log at its heads, by header, content and (:meth:`unsigned`) signature."""
        state = carried_membership(doc, self.ws.workspace_id)
        self._carried = (frozenset(c.hash for c in changes), state)
        if state is None:
            return [(c, "the workspace index carries no membership log rooted in its founder")
                    for c in changes]
        return (self._refusals(INDEX_DOC, changes, state)
                or self._content_refusals(INDEX_DOC, doc, changes, state))

    def _first_index_membership(self, changes: list[Any]) -> MembershipState | None:
        """The membership :meth:`_judge_first_index` found in the index made of ``changes``
        (None when it judged another set of changes, or none: no seal then covers them)."""
        found = self._carried
        key = frozenset(c.hash for c in changes)
        return found[1] if found is not None and found[0] == key else None
