"""A deal room's guests: inviting customer contacts, letting them in, seeing them, revoking.

An invite to a room is an ordinary guest invite (:mod:`bullpen.app.members.invites`: one code
per person, signed, used once, expiring) whose secret's hash the room's record also names,
with the contact's email (``invites``). The member whose node admits the newcomer with that
code adds them to the room's guests in the same breath (:class:`RoomAdmission`), so the
guest's first sync already carries the room, and only it. Any member's room command repeats
that binding for codes admitted elsewhere (:func:`bind_admitted`); it is idempotent.

Revoking removes the guest from the room; when no other room lists them it also removes them
from the workspace (a signed removal: every peer then refuses their later changes and sends
them nothing newer, see :mod:`bullpen.app.members.revocations`). Reps may remove guests from
the workspace (reps add them, :mod:`bullpen.app.members.membership`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bullpen.app.members.access import author_of
from bullpen.app.members.invites import InviteAdmission, create_invite, parse_invite
from bullpen.app.rooms.rooms import (
    contents,
    require_manage,
    require_member,
    require_open,
    room,
)
from bullpen.app.workspace import Workspace
from bullpen.crdt import records as rec
from bullpen.crdt.schema import ValidationError, space_doc_id, text_doc_id

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def invite_guest(ws: Workspace, room_id: str, email: str, expires_in: dt.timedelta,
                 addrs: list[str]) -> dict[str, Any]:
    """A one-time guest invite code bound to the room, for the contact at ``email``."""
    require_member(ws, "invite guests")
    found = room(ws, room_id)
    require_open(found)
    email = email.strip()
    if not EMAIL.match(email):
        raise ValidationError(f"email: {email!r} is not an email address")
    code = create_invite(ws, "guest", expires_in, addrs)
    invite = parse_invite(code)
    ws.update(found["id"], {"invites": {invite.secret_hash: email}})
    return {"code": code, "room": found["id"], "email": email, "expires": invite.expires,
            "addrs": addrs}


def bind_admitted(ws: Workspace) -> list[tuple[str, str]]:
    """Add every guest admitted with a room's invite to that room's guests, unless they
    are there (or were revoked: a revoked guest's invite is struck from the room). Returns
    (room id, guest peer id) of what it added. Only a rep or manager writes room guests."""
    if ws.role() not in ("manager", "rep"):
        return []
    state = ws.membership()
    added = []
    for space in ws.list("space"):
        if space.get("closed") is True:
            continue
        guests = list(space.get("guests") or [])
        for invite_hash in (space.get("invites") or {}):
            joiner = state.used_invites.get(invite_hash)
            if joiner and state.role_of(joiner) == "guest" and joiner not in guests:
                guests.append(joiner)
                added.append((space["id"], joiner))
        if len(guests) != len(space.get("guests") or []):
            ws.update(space["id"], {"guests": guests})
    return added


class RoomAdmission(InviteAdmission):
    """Admission of newcomers (:class:`InviteAdmission`) that also lets an admitted guest
    into the room its code was made for, before its first sync."""

    def admit(self, secret: bytes, peer_id: str, name: str) -> str:
        role = super().admit(secret, peer_id, name)
        if role == "guest":
            bind_admitted(self.ws)
        return role


def revoke_guest(ws: Workspace, room_id: str, guest: str) -> dict[str, Any]:
    """Take ``guest`` (peer id, short id or name) out of the room; out of the workspace too
    when no other room lists them."""
    found = room(ws, room_id)
    require_manage(ws, found, "revoke a guest")
    guests = list(found.get("guests") or [])
    peer_id = guest if guest in guests else ws.find_member(guest)
    if peer_id not in guests:
        raise ValidationError(f"{guest!r} is not a guest of the room {found['title']!r}")
    used = ws.membership().used_invites
    struck = {h: "" for h in (found.get("invites") or {}) if used.get(h) == peer_id}
    ws.update(found["id"], {"guests": [g for g in guests if g != peer_id],
                            **({"invites": struck} if struck else {})})
    elsewhere = [s["id"] for s in ws.list("space") if peer_id in (s.get("guests") or [])]
    removed = not elsewhere and ws.role(peer_id) == "guest"
    if removed:
        ws.remove_member(peer_id)
    return {"room": found["id"], "guest": peer_id, "removed_from_workspace": removed,
            "other_rooms": elsewhere}


def guest_activity(ws: Workspace, room_id: str) -> list[dict[str, Any]]:
    """Each guest of the room and invited contact, with when they were last seen by this
    member's node and last wrote in the room (its records' times, as their authors' own
    clocks stamped them), from what this member already holds."""
    found = room(ws, room_id)
    state = ws.membership()
    names, seen = ws.member_names(), _last_seen(ws)
    writes = _last_writes(ws, found["id"])
    emails = {state.used_invites.get(h): e for h, e in (found.get("invites") or {}).items()}
    rows = []
    for peer_id in found.get("guests") or []:
        last, count = writes.get(peer_id, (None, 0))
        rows.append({"peer_id": peer_id, "name": names.get(peer_id, ""),
                     "email": emails.get(peer_id, ""), "member": state.role_of(peer_id)
                     is not None, "last_sync": seen.get(peer_id), "last_write": last,
                     "writes": count})
    for invite_hash, email in (found.get("invites") or {}).items():
        if email and invite_hash not in state.used_invites:
            rows.append({"peer_id": None, "name": "", "email": email, "member": False,
                         "last_sync": None, "last_write": None, "writes": 0,
                         "invited": True})
    return rows


def _last_seen(ws: Workspace) -> dict[str, str | None]:
    from bullpen.app.network.peer_book import peer_status

    return {p["peer_id"]: p.get("last_seen") for p in peer_status(ws)}


def _last_writes(ws: Workspace, room_id: str) -> dict[str, tuple[str | None, int]]:
    """Peer id -> (newest ``_updated_at`` of a change it made to the room's records, how
    many changes it made to the room and its texts), read from their documents' changes
    (a text's edits carry no time of their own)."""
    out: dict[str, tuple[str | None, int]] = {}
    texts = [text_doc_id(d["id"]) for d in contents(ws, room_id)["document"]]
    with ws.lock:
        for doc_id in (space_doc_id(room_id), *texts):
            doc = ws.doc(doc_id)
            records = rec.container(doc, rec.RECORDS) if doc_id not in texts else None
            touched = rec.container(doc, rec.TOUCHED)
            for change in doc.get_changes([]):
                author = author_of(change.actor_id)
                if author is None:
                    continue
                last, count = out.get(author, (None, 0))
                for rid in (rec.touched_by(doc, touched, change) or []) if records else []:
                    at = (rec.read_record(doc, records, rid, [change.hash]) or {}).get(
                        "_updated_at")
                    if isinstance(at, str) and (last is None or at > last):
                        last = at
                out[author] = (last, count + 1)
    return out
