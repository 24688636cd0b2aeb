"""Invite codes: one copy-paste line that lets one person join, once, before it expires.

A code holds the workspace id, the inviter's peer id and addresses, the role, the expiry and
a 128-bit one-time secret, signed by the inviter; any changed byte breaks the signature. The
workspace stores only the SHA-256 of the secret (with role, inviter and expiry), so every
member who is online can admit the newcomer, and a code is consumed by the signed membership
entry that names its hash: the membership replay lets each hash be used once.
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

from bullpen.crdt.schema import ValidationError

from .identity import public_from_peer_id, verify
from .workspace import INDEX_DOC, INVITES, Workspace, now_iso

PREFIX = "BP1-"
MAX_CODE = 4096
DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


class InviteError(ValueError):
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
    delta = {"m": dt.timedelta(minutes=amount), "h": dt.timedelta(hours=amount),
             "d": dt.timedelta(days=amount), "w": dt.timedelta(weeks=amount)}[unit]
    if not dt.timedelta(minutes=1) <= delta <= dt.timedelta(days=90):
        raise ValidationError("expires: choose between 1 minute and 90 days")
    return delta


def _payload_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def create_invite(ws: Workspace, role: str, expires_in: dt.timedelta, addrs: list[str]) -> str:
    """Register an invite in the workspace and return its code."""
    my_role = ws.role()
    if role not in ("manager", "rep", "guest"):
        raise ValidationError(f"role: unknown value {role!r} (one of: manager, rep, guest)")
    if my_role != "manager" and not (my_role == "rep" and role == "guest"):
        raise ValidationError(f"a {my_role or 'non-member'} cannot invite a {role}")
    secret = os.urandom(16)
    expires = (dt.datetime.now(dt.UTC) + expires_in).isoformat(timespec="seconds")
    payload = {"v": 1, "ws": ws.workspace_id, "by": ws.peer_id, "addrs": addrs, "role": role,
               "exp": expires, "s": base64.urlsafe_b64encode(secret).decode()}
    data = _payload_bytes(payload)
    record = json.dumps({"role": role, "by": ws.peer_id, "expires": expires,
                         "created": now_iso()})
    ws.set_setting_entry(INDEX_DOC, INVITES, hashlib.sha256(secret).hexdigest(), record)
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


def admit(ws: Workspace, secret: bytes, joiner: str, name: str) -> str:
    """Add ``joiner`` as the invite says, consuming it; InviteError when it can't be used."""
    invite_hash = hashlib.sha256(secret).hexdigest()
    stored = (ws.setting(INVITES) or {}).get(invite_hash)
    if stored is None:
        raise InviteError("unknown invite")
    record = json.loads(stored)
    if dt.datetime.now(dt.UTC) >= dt.datetime.fromisoformat(record["expires"]):
        raise InviteError("the invite code expired: ask for a new one")
    state = ws.membership()
    if invite_hash in state.used_invites:
        if state.used_invites[invite_hash] == joiner:
            return invite_hash  # the same person retrying after a dropped connection
        raise InviteError("the invite code was already used: ask for a new one")
    if record["by"] not in state.members:
        raise InviteError("the member who made this invite has left the workspace")
    clean = " ".join(name.split())[:80]
    if not clean:
        raise InviteError("a name is needed to join")
    try:
        return ws.add_member(joiner, record["role"], clean, invite=invite_hash)
    except ValidationError as exc:
        raise InviteError(str(exc)) from None
