"""The signed membership log: who added whom, with which role, when; who removed whom.

Each entry is a JSON payload signed with its author's Ed25519 key. A peer id *is* an Ed25519
public key, so anyone can check any entry without a key directory. The first entry ("found")
is self-signed by the founder and the workspace id is derived from its hash: the whole chain is
anchored in the workspace id that every invite carries, and a forged second founder is simply a
different workspace.

Entries name the entries their author had seen (``parents``), making the log a DAG. Every peer
replays it in the same deterministic topological order (ties broken by entry id) and accepts an
entry only if its author held the needed role *in that replay*. An author picks its entry's id
(parents and time are free), so that tie-break must decide nothing contested: a demotion or
removal, judged on its own causal past, voids what its subject signed concurrently with the
role it lost (see :mod:`.revocations`), so a demoted manager cannot backdate an entry past its
demotion; of two managers demoting or removing each other concurrently, the one made a
manager first wins.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bullpen.app.members.identity import Identity, public_from_peer_id, verify
from bullpen.app.members.revocations import ROLES, Revocations

ACTIONS = ("found", "add", "remove", "role", "seal")
MAX_ENTRY_BYTES = 4096
# A seal names the heads of every document (see app/members/old_changes.py).
MAX_SEAL_BYTES = 1 << 18
PARALLEL_FROM = 64
# Every Ed25519 peer id in base58 is 52 characters starting with 12D3KooW (a cheap shape check;
# the author's id, whose key verifies the signature, is decoded in full).
PEER_ID = re.compile(r"^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$")
_VERIFIED: dict[tuple[str, str, str], dict[str, Any]] = {}


class MembershipError(ValueError):
    """An entry or log that fails verification; the message says which check failed."""


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_id(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def workspace_id_for(founder_payload: dict[str, Any]) -> str:
    return entry_id(founder_payload)[:32]


def sign_entry(identity: Identity, payload: dict[str, Any]) -> tuple[str, str]:
    """(entry id, stored text) for a payload authored by ``identity``."""
    if payload.get("by") != identity.peer_id:
        raise MembershipError("an entry must be signed by its author")
    signature = identity.sign(canonical(payload)).hex()
    return entry_id(payload), json.dumps({"payload": payload, "sig": signature})


@dataclass
class Member:
    peer_id: str
    name: str
    role: str
    added_by: str
    added_at: str
    manager: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"peer_id": self.peer_id, "name": self.name, "role": self.role,
                "added_by": self.added_by, "added_at": self.added_at, "manager": self.manager}


@dataclass
class MembershipState:
    workspace_id: str
    founder: str
    members: dict[str, Member] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)  # peer id -> removal entry id
    rejected: dict[str, str] = field(default_factory=dict)  # entry id -> reason
    used_invites: dict[str, str] = field(default_factory=dict)  # invite hash -> joiner
    applied: list[str] = field(default_factory=list)
    # peer id -> the highest role it ever held (ROLES order): what a demoted or removed
    # member's changes may have been allowed by (app/members/authz.py, vouched changes)
    highest: dict[str, str] = field(default_factory=dict)
    # document id -> its heads when a manager sealed the history from before signed
    # authorship (the first seal in replay order; app/members/old_changes.py), None: no seal
    sealed: dict[str, frozenset[bytes]] | None = None
    # founded by a release with signed authorship (founding payload "signed": true): it holds
    # no unsigned history, so any seal would only pass off forged changes; every seal is void
    born_signed: bool = False
    # manager -> the entry that made it one (the founding entry for the founder): seniority
    granted: dict[str, str] = field(default_factory=dict)

    def role_of(self, peer_id: str) -> str | None:
        member = self.members.get(peer_id)
        return member.role if member else None


def parse_entry(eid: str, text: str, workspace_id: str | None) -> dict[str, Any]:
    """Decode and verify one stored entry (signature, id, shape); MembershipError if bad."""
    if not isinstance(text, str) or len(text) > MAX_SEAL_BYTES:
        raise MembershipError("entry is not text or too large")
    try:
        outer = json.loads(text)
        payload, sig = outer["payload"], bytes.fromhex(outer["sig"])
    except (ValueError, KeyError, TypeError):
        raise MembershipError("entry is not valid JSON with payload and sig") from None
    if not isinstance(payload, dict):
        raise MembershipError("payload is not an object")
    for key, kind in (("action", str), ("subject", str), ("by", str), ("at", str),
                      ("parents", list), ("ws", str)):
        if not isinstance(payload.get(key), kind):
            raise MembershipError(f"payload field {key!r} missing or of the wrong type")
    if payload["action"] not in ACTIONS:
        raise MembershipError(f"unknown action {payload['action']!r}")
    if payload["action"] == "seal":
        _check_sealed(payload.get("docs"))
    elif len(text) > MAX_ENTRY_BYTES:
        raise MembershipError("entry is too large")
    if payload.get("role") is not None and payload["role"] not in ROLES:
        raise MembershipError(f"unknown role {payload['role']!r}")
    if not all(isinstance(p, str) for p in payload["parents"]):
        raise MembershipError("parents must be entry ids")
    if entry_id(payload) != eid:
        raise MembershipError("entry id does not match its content")
    if not PEER_ID.match(payload["subject"]):
        raise MembershipError(f"{payload['subject'][:60]!r} is not an Ed25519 peer id")
    try:
        public = public_from_peer_id(payload["by"])  # cached: authors are few
    except ValueError as exc:
        raise MembershipError(str(exc)) from None
    if not verify(public, sig, canonical(payload)):
        raise MembershipError("bad signature")
    if workspace_id is not None and payload["ws"] != workspace_id and payload["action"] != "found":
        raise MembershipError("entry belongs to another workspace")
    return payload


def _check_sealed(docs: Any) -> None:
    if not isinstance(docs, dict) or not all(
            isinstance(d, str) and isinstance(heads, list) and len(heads) <= 64
            and all(isinstance(h, str) and len(h) == 64 and not h.strip("0123456789abcdef")
                    for h in heads) for d, heads in docs.items()):
        raise MembershipError("a seal names document ids and their heads (hex)")


def _checked(eid: str, text: str, workspace_id: str) -> dict[str, Any] | str:
    """The verified payload, or the reason it failed (entries are immutable: verified ones
    are remembered, so replaying a grown log re-checks only the new entries)."""
    cached = _VERIFIED.get((eid, text, workspace_id))
    if cached is not None:
        return cached
    try:
        payload = parse_entry(eid, text, workspace_id)
    except MembershipError as exc:
        return str(exc)
    if len(_VERIFIED) > 50_000:
        _VERIFIED.clear()
    _VERIFIED[(eid, text, workspace_id)] = payload
    return payload


def _topological(entries: dict[str, dict[str, Any]]) -> list[str]:
    """Deterministic topological order; entries with missing parents are left out."""
    import heapq

    children: dict[str, list[str]] = {e: [] for e in entries}
    waiting: dict[str, int] = {}
    for eid, payload in entries.items():
        parents = set(payload["parents"])
        if any(p not in entries for p in parents):
            waiting[eid] = -1  # never ready: a parent is unknown (yet)
            continue
        waiting[eid] = len(parents)
        for p in parents:
            children[p].append(eid)
    ready = [e for e, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        eid = heapq.heappop(ready)
        order.append(eid)
        for child in children[eid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    return order


def replay(stored: dict[str, str], workspace_id: str) -> MembershipState:
    """Verify every entry and derive the member list, identically on every peer."""
    entries: dict[str, dict[str, Any]] = {}
    rejected: dict[str, str] = {eid: "entry is not text" for eid, text in stored.items()
                                if not isinstance(text, str)}
    items = [(eid, text) for eid, text in stored.items() if isinstance(text, str)]

    def check(chunk: list[tuple[str, str]]) -> list[dict[str, Any] | str]:
        return [_checked(eid, text, workspace_id) for eid, text in chunk]

    unverified = sum((eid, text, workspace_id) not in _VERIFIED for eid, text in items)
    if unverified > PARALLEL_FROM:
        # Signature checks release the GIL: two threads halve a long log's verification.
        half = len(items) // 2
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(check, [items[:half], items[half:]])
        outcomes = first + second
    else:
        outcomes = check(items)
    for (eid, _), outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, str):
            rejected[eid] = outcome
        else:
            entries[eid] = outcome
    founders = [e for e, p in entries.items()
                if p["action"] == "found" and workspace_id_for(p) == workspace_id]
    if len(founders) != 1:
        raise MembershipError(f"workspace {workspace_id}: no valid founding entry")
    founder_payload = entries[founders[0]]
    if (founder_payload["by"] != founder_payload["subject"] or founder_payload["parents"]
            or founder_payload.get("role") != "manager"):
        raise MembershipError("the founding entry must be a self-added manager with no parents")
    order = _topological(entries)
    voided = Revocations(
        entries, order, lambda past, void: _run(entries, past, founders[0], void, {}),
        lambda state, eid: _apply(state, eid, entries[eid], founders[0])).voided()
    state = _run(entries, order, founders[0], voided, rejected)
    for eid in entries.keys() - set(state.applied) - state.rejected.keys():
        state.rejected[eid] = "refers to entries this peer does not have"
    return state


def _run(entries: dict[str, dict[str, Any]], order: list[str], founder_id: str,
         voided: dict[str, str], rejected: dict[str, str]) -> MembershipState:
    """Apply ``order`` (voided entries rejected with their reason) to a fresh state."""
    state = MembershipState(workspace_id_for(entries[founder_id]), entries[founder_id]["by"],
                            rejected=dict(rejected))
    for eid in order:
        reason = voided.get(eid) or _apply(state, eid, entries[eid], founder_id)
        if reason:
            state.rejected[eid] = reason
        else:
            state.applied.append(eid)
    return state


def _apply(state: MembershipState, eid: str, p: dict[str, Any], founder_id: str) -> str | None:
    action, by, subject = p["action"], p["by"], p["subject"]
    if action == "found":
        if eid != founder_id:
            return "a second founding entry"
        state.members[subject] = Member(subject, str(p.get("name", "")), "manager", by, p["at"])
        state.born_signed = p.get("signed") is True
        state.granted[subject] = eid
        _held(state, subject, "manager")
        return None
    author = state.role_of(by)
    if author is None:
        return "author is not a member"
    if action == "seal":
        if author != "manager":
            return "only a manager seals the history from before signatures"
        if state.born_signed:
            return "this workspace was founded with signed authorship: it has nothing to seal"
        if state.sealed is not None:
            return "the history from before signatures is sealed already"
        state.sealed = {d: frozenset(bytes.fromhex(h) for h in heads)
                        for d, heads in p["docs"].items()}
        return None
    if action == "add":
        role = p.get("role")
        if role is None:
            return "add without a role"
        if author != "manager" and not (author == "rep" and role == "guest"):
            return f"a {author} cannot add a {role}"
        if subject in state.members:
            return "already a member"
        invite = p.get("invite")
        if invite is not None:
            if not isinstance(invite, str) or invite in state.used_invites:
                return "invite already used"
            state.used_invites[invite] = subject
        manager = p.get("manager") if isinstance(p.get("manager"), str) else None
        state.members[subject] = Member(subject, str(p.get("name", ""))[:200], role, by, p["at"],
                                        manager)
        state.removed.pop(subject, None)
        if role == "manager":
            state.granted[subject] = eid
        _held(state, subject, role)
        return None
    if subject not in state.members:
        return "not a member"
    if action == "remove":
        # reps add guests, so they may remove one too (a deal room's guest it revokes)
        if author != "manager" and by != subject and not (
                author == "rep" and state.members[subject].role == "guest"):
            return "only managers remove others (reps: guests)"
        if state.members[subject].role == "manager" and _managers(state) <= 1:
            return "cannot remove the last manager"
        del state.members[subject]
        state.granted.pop(subject, None)
        state.removed[subject] = eid
        return None
    # action == "role"
    if author != "manager":
        return "only managers change roles"
    role = p.get("role")
    if role is None:
        return "role change without a role"
    if state.members[subject].role == "manager" and role != "manager" and _managers(state) <= 1:
        return "cannot demote the last manager"
    if role != "manager":
        state.granted.pop(subject, None)
    elif state.members[subject].role != "manager":
        state.granted[subject] = eid
    state.members[subject].role = role
    _held(state, subject, role)
    if isinstance(p.get("manager"), str):
        state.members[subject].manager = p["manager"]
    return None


def _held(state: MembershipState, peer_id: str, role: str) -> None:
    held = state.highest.get(peer_id)
    if held is None or ROLES.index(role) < ROLES.index(held):
        state.highest[peer_id] = role


def _managers(state: MembershipState) -> int:
    return sum(1 for m in state.members.values() if m.role == "manager")


def new_entry(
    identity: Identity,
    workspace_id: str,
    action: str,
    subject: str,
    *,
    at: str,
    parents: list[str],
    role: str | None = None,
    name: str | None = None,
    manager: str | None = None,
    invite: str | None = None,
    docs: dict[str, list[str]] | None = None,
) -> tuple[str, str]:
    payload: dict[str, Any] = {"ws": workspace_id, "action": action, "subject": subject,
                               "by": identity.peer_id, "at": at, "parents": sorted(parents)}
    for key, value in (("role", role), ("name", name), ("manager", manager), ("invite", invite),
                       ("docs", docs)):
        if value is not None:
            payload[key] = value
    return sign_entry(identity, payload)


def founding_entry(identity: Identity, name: str, at: str,
                   signed: bool = True) -> tuple[str, str, str]:
    """(workspace id, entry id, stored text) of a new workspace's first entry; ``signed``
    False writes it as releases before signed authorship did (which tests of the upgrade use)."""
    payload: dict[str, Any] = {"ws": "", "action": "found", "subject": identity.peer_id,
                               "by": identity.peer_id, "at": at, "parents": [],
                               "role": "manager", "name": name}
    if signed:
        payload["signed"] = True
    eid, text = sign_entry(identity, payload)
    return workspace_id_for(payload), eid, text
