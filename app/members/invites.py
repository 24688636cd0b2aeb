"""Invite codes: one copy-paste line that lets one person join, once, before it expires.

A code holds the workspace id, the inviter's peer id and addresses, the role, the expiry and
a 128-bit one-time secret, signed by the inviter; any changed byte breaks the signature. The
workspace stores only the SHA-256 of the secret (with role, inviter and expiry), so every
member who is online can admit the newcomer, and a code is consumed by the signed membership
entry that names its hash: the membership replay lets each hash be used once.

The stored record is signed by the inviter too (over the workspace, the hash, the role and the
expiry): any member can write the invites map, so a record is believed only when its
signature is the inviter's and the inviter's role, when the newcomer is admitted, may invite
that role. A rep who plants ``{role: manager, by: <a manager>}`` admits nobody.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from bullpen.app.errors import UserError
from bullpen.app.members.identity import public_from_peer_id, verify
from bullpen.app.workspace import INDEX_DOC, INVITES, Workspace, now_iso
from bullpen.crdt.schema import ValidationError
from bullpen.sync.ports import NotAdmitted

PREFIX = "BP1-"
MAX_CODE = 4096
DURATION = re.compile(r"^(\d{1,9})\s*([mhdw])$")  # 9 digits: int() stays cheap


class InviteError(UserError, ValueError):
    """A code that cannot be used: damaged, forged, expired, used or for another workspace."""


@dataclass(frozen=True)
class Invite:
    workspace_id: str
    inviter: str
    addrs: tuple[str, ...]
    role: str
    expires: str
    secret: bytes

    @property
    def secret_hash(self) -> str:
        return hashlib.sha256(self.secret).hexdigest()


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(text.strip().lower())
    if not match:
        raise ValidationError(f"expires: {text!r} is not a duration like 30m, 24h, 7d or 2w")
    amount, unit = int(match.group(1)), match.group(2)
    minutes = amount * {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}[unit]
    if not 1 <= minutes <= 90 * 24 * 60:  # checked as an integer: no timedelta overflow
        raise ValidationError("expires: choose between 1 minute and 90 days")
    return dt.timedelta(minutes=minutes)


def _payload_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def create_invite(ws: Workspace, role: str, expires_in: dt.timedelta, addrs: list[str]) -> str:
    """Register an invite in the workspace and return its code."""
    my_role = ws.role()
    if role not in ("manager", "rep", "guest"):
        raise ValidationError(f"role: unknown value {role!r} (one of: manager, rep, guest)")
    if not may_invite(my_role, role):
        raise ValidationError(f"a {my_role or 'non-member'} cannot invite a {role}")
    secret = os.urandom(16)
    expires = (dt.datetime.now(dt.UTC) + expires_in).isoformat(timespec="seconds")
    payload = {"v": 1, "ws": ws.workspace_id, "by": ws.peer_id, "addrs": addrs, "role": role,
               "exp": expires, "s": base64.urlsafe_b64encode(secret).decode()}
    data = _payload_bytes(payload)
    secret_hash = hashlib.sha256(secret).hexdigest()
    terms = {"ws": ws.workspace_id, "hash": secret_hash, "role": role, "by": ws.peer_id,
             "expires": expires}
    record = json.dumps({**terms, "created": now_iso(),
                         "sig": ws.identity.sign(_payload_bytes(terms)).hex()})
    ws.set_setting_entry(INDEX_DOC, INVITES, secret_hash, record)
    signature = ws.identity.sign(data)
    return PREFIX + base64.urlsafe_b64encode(data + signature).decode().rstrip("=")


def parse_invite(code: str, *, now: dt.datetime | None = None) -> Invite:
    """Decode and verify a code (signature, shape, expiry); InviteError says what is wrong."""
    code = "".join(code.split())
    if not code.startswith(PREFIX) or len(code) > MAX_CODE:
        raise InviteError("this is not a Bullpen invite code (it starts with BP1-)")
    body = code[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InviteError("the invite code is damaged (check it was copied whole)") from None
    data, signature = raw[:-64], raw[-64:]
    try:
        payload = json.loads(data)
        inviter = payload["by"]
        public = public_from_peer_id(inviter)
        secret = base64.urlsafe_b64decode(payload["s"])
        fields = (payload["ws"], payload["role"], payload["exp"])
        addrs = tuple(str(a) for a in payload["addrs"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InviteError("the invite code is damaged (check it was copied whole)") from None
    if len(raw) < 65 or not verify(public, signature, data) or payload.get("v") != 1:
        raise InviteError("the invite code was changed or forged: ask for a new one")
    if not all(isinstance(f, str) for f in fields) or len(secret) != 16:
        raise InviteError("the invite code is damaged")
    try:
        expires = dt.datetime.fromisoformat(payload["exp"])
    except ValueError:
        raise InviteError("the invite code is damaged") from None
    if (now or dt.datetime.now(dt.UTC)) >= expires:
        raise InviteError(f"the invite code expired at {payload['exp']}: ask for a new one")
    return Invite(payload["ws"], inviter, addrs, payload["role"], payload["exp"], secret)


def issued_invite(ws: Workspace, invite_hash: str) -> dict[str, Any]:
    """The stored invite ``invite_hash`` after checking who issued it: its record must be
    signed by the member it names as inviter, for this workspace and this hash, and that
    member's current role must allow inviting its role. InviteError otherwise."""
    stored = (ws.setting(INVITES) or {}).get(invite_hash)
    if stored is None:
        raise InviteError("unknown invite")
    try:
        record = json.loads(stored)
        terms = {k: record[k] for k in ("ws", "hash", "role", "by", "expires")}
        signature = bytes.fromhex(record["sig"])
        public = public_from_peer_id(terms["by"])
        expires = dt.datetime.fromisoformat(terms["expires"])
    except (ValueError, KeyError, TypeError):
        raise InviteError("the stored invite is unsigned or damaged: ask for a new one") from None
    if (terms["ws"] != ws.workspace_id or terms["hash"] != invite_hash
            or not verify(public, signature, _payload_bytes(terms))):
        raise InviteError("the stored invite was not signed by its inviter: ask for a new one")
    if expires.tzinfo is None or dt.datetime.now(dt.UTC) >= expires:
        raise InviteError("the invite code expired: ask for a new one")
    inviter_role = ws.role(terms["by"])
    if inviter_role is None:
        raise InviteError("the member who made this invite has left the workspace")
    if not may_invite(inviter_role, terms["role"]):
        raise InviteError(f"a {inviter_role} cannot invite a {terms['role']}")
    return terms


def may_invite(inviter_role: str | None, role: str) -> bool:
    """Managers invite anyone; reps invite customer guests only."""
    return inviter_role == "manager" or (inviter_role == "rep" and role == "guest")


def admit(ws: Workspace, secret: bytes, joiner: str, name: str) -> str:
    """Add ``joiner`` as the invite says, consuming it; InviteError when it can't be used."""
    invite_hash = hashlib.sha256(secret).hexdigest()
    record = issued_invite(ws, invite_hash)
    state = ws.membership()
    if invite_hash in state.used_invites:
        if state.used_invites[invite_hash] == joiner:
            return invite_hash  # the same person retrying after a dropped connection
        raise InviteError("the invite code was already used: ask for a new one")
    clean = " ".join(name.split())[:80]
    if not clean:
        raise InviteError("a name is needed to join")
    try:
        return ws.add_member(joiner, record["role"], clean, invite=invite_hash)
    except ValidationError as exc:
        raise InviteError(str(exc)) from None


class InviteAdmission:
    """The sync node's :class:`~bullpen.sync.ports.Admission`: newcomers join with an invite
    this workspace stores, admitted by :func:`admit`."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def invited(self, secret: bytes) -> bool:
        stored = self.ws.setting(INVITES) or {}
        return stored.get(hashlib.sha256(secret).hexdigest()) is not None

    def admit(self, secret: bytes, peer_id: str, name: str) -> str:
        try:
            admit(self.ws, secret, peer_id, name)
        except InviteError as exc:
            raise NotAdmitted(str(exc)) from None
        return self.ws.role(peer_id) or ""
