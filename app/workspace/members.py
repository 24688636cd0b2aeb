"""Membership use cases: who is in the workspace, with which role, and what follows.

Why apart from records: membership is a signed log (:mod:`bullpen.app.members.membership`) kept in
the index document's settings, replayed and verified on every read (cached per heads of that
document), never a plain record a peer could edit; and a removal or demotion has a consequence the
records do not: this replica builds on the former member's changes it accepted before
(:meth:`Members.adopt_former_members_changes`), so the documents converge everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bullpen.app.members.authz import held_role, role_limited
from bullpen.app.members.identity import peer_id_from_public
from bullpen.app.members.lookup import member_named
from bullpen.app.members.membership import MembershipState, new_entry, replay
from bullpen.app.workspace.records import Records
from bullpen.app.workspace.types import now_iso
from bullpen.crdt import records as rec
from bullpen.crdt.schema import INDEX_DOC, ValidationError

MEMBERSHIP = "membership"  # settings map of the index document: entry id -> signed entry
INVITES = "invites"  # settings map of the index document: invite hash -> JSON


def _entry_parents(text: Any) -> list[str]:
    """The parents a stored membership entry names ([] for one no peer accepts: not text,
    not JSON; replay rejects those, and they must not stop anyone from adding entries)."""
    try:
        parents = json.loads(text)["payload"]["parents"]
    except (ValueError, KeyError, TypeError):
        return []
    return [p for p in parents if isinstance(p, str)] if isinstance(parents, list) else []


class Members(Records):
    """The membership use cases; they write the log as a settings map (:class:`Records`)."""

    # Verified membership, with the heads of the index document it was read at.
    _membership: tuple[str, MembershipState] | None = None
    _membership_fixed: MembershipState | None = None  # see judging_with_membership
    # Members removed or demoted when adopt_former_members_changes last looked.
    _lowered_seen: frozenset[str] = frozenset()

    def membership_log(self) -> dict[str, str]:
        """The log's entries; a log a modified client replaced with another value (a number)
        reads as empty, so every change judged by it is refused, never a crash."""
        log = self.setting(MEMBERSHIP)
        return dict(log) if isinstance(log, Mapping) else {}

    def membership(self) -> MembershipState:
        """The verified member list (cached until the index document changes)."""
        with self.lock:
            if self._membership_fixed is not None:
                return self._membership_fixed
            self.refresh()
            log = self.membership_log()
            if not log:  # a joiner before the first sync: nobody is known yet
                return MembershipState(self.workspace_id, "")
            heads = self.heads_hex(INDEX_DOC)
            if self._membership is None or self._membership[0] != heads:
                self._membership = (heads, replay(log, self.workspace_id))
            return self._membership[1]

    @contextmanager
    def judging_with_membership(self) -> Iterator[MembershipState]:
        """While a received message is applied and judged (under the lock), every question
        about roles is answered by the membership as it was before the message: a change
        never changes the roles it is judged by, even when it rewrites the index's log."""
        with self.lock:
            state = self.membership()
            self._membership_fixed = state
            try:
                yield state
            finally:
                self._membership_fixed = None

    def members(self) -> list[dict[str, Any]]:
        state = self.membership()
        rows = [{"id": m.peer_id, **m.to_json()} for m in state.members.values()]
        return sorted(rows, key=lambda m: (m["name"].lower(), m["peer_id"]))

    def member_names(self) -> dict[str, str]:
        return {m["id"]: m["name"] for m in self.members()}

    def role(self, peer_id: str | None = None) -> str | None:
        return self.membership().role_of(peer_id or self.peer_id)

    def find_member(self, text: str) -> str:
        """A member's peer id from its peer id, a unique suffix (short id) or name
        (:func:`bullpen.app.members.lookup.member_named`)."""
        return member_named(self, text)["peer_id"]

    def append_membership(self, action: str, subject: str, **fields: Any) -> str:
        """Sign and append one membership entry; refused (nothing written) when invalid."""
        with self.lock:
            log = self.membership_log()
            parents = set(log) - {p for text in log.values() for p in _entry_parents(text)}
            eid, text = new_entry(self.identity, self.workspace_id, action, subject,
                                  at=now_iso(), parents=sorted(parents), **fields)
            outcome = replay({**log, eid: text}, self.workspace_id)
            if eid in outcome.rejected:
                verb = {"role": "change the role of", "seal": "seal the history for"}
                who = self.member_names().get(subject) or subject[-6:]
                raise ValidationError(f"cannot {verb.get(action, action)} {who}: "
                                      f"{outcome.rejected[eid]}")

            self.set_setting_entry(INDEX_DOC, MEMBERSHIP, eid, text)
            return eid

    def add_member(self, peer_id: str, role: str, name: str, *, manager: str | None = None,
                   invite: str | None = None) -> str:
        if role == "rep" and manager is None and self.role() == "manager":
            manager = self.peer_id  # a manager's team is the reps they add
        return self.append_membership("add", peer_id, role=role, name=name, manager=manager,
                                      invite=invite)

    def adopt_former_members_changes(self) -> list[str]:
        """Build on every change of a removed or demoted member that this replica holds and
        nobody built on yet; returns the documents adopted.

        This replica accepted those changes while their author's role allowed them in its
        view (before the removal or demotion reached it). Peers that learned of it first
        refuse them when they come alone, but keep them when another current member's change
        builds on them (:meth:`AccessPolicy.refused_changes`, :func:`authz.judge`): this one
        change, an adoption marker that touches no record (the one change a rep may write in
        the admin document, :func:`authz.is_adoption_marker`), is that, so the document
        converges everywhere instead of staying blocked between this replica and the others.
        Text documents not in memory are checked when next loaded by a write (their next edit
        builds on them all the same)."""
        with self.lock:
            state = self.membership()
            mine = state.role_of(self.peer_id)
            lowered = frozenset(p for p in state.highest if p != self.peer_id
                                and held_role(p, state.role_of, state.highest))
            # Orphans appear only when a removal or demotion reaches this replica after the
            # member's changes did: look when the set of such members changes.
            if lowered == self._lowered_seen or mine is None:
                return []
            self._lowered_seen = lowered
            adopted = []
            for doc_id in self.doc_ids():
                if ((doc_id.startswith("doc:") and doc_id not in self.docs)
                        or (doc_id == INDEX_DOC and mine == "guest")):  # a guest's is refused
                    continue
                doc = self.doc(doc_id)
                authors = (peer_id_from_public(a[:32]) for h in doc.get_heads()
                           if (a := rec.toucher(doc, h)) is not None and len(a) == 36)
                if any(a in lowered and role_limited(doc_id, state.role_of(a))
                       for a in authors):
                    self._write(doc_id, lambda tx: set())
                    adopted.append(doc_id)
            return adopted

    def remove_member(self, who: str) -> str:
        entry = self.append_membership("remove", self.find_member(who))
        self.adopt_former_members_changes()
        return entry

    def set_role(self, who: str, role: str, *, manager: str | None = None) -> str:
        entry = self.append_membership("role", self.find_member(who), role=role,
                                       manager=manager)
        self.adopt_former_members_changes()
        return entry
