"""Deal rooms: a space a rep makes for one account or deal, and what goes in it.

A room is a ``space`` record in its own document (``space:<id>``), so its guests receive that
document, the texts catalogued in it and the files it names, and nothing else
(:mod:`bullpen.app.members.access`). What a room holds: co-edited documents (a copy of a team
document, never the team's own, so its history and later edits stay the team's), files, a
discussion (topics and their posts), the deal's status and next steps as the customer is
told them (fields of the room's record, which guests may not change), and a mutual action
plan (``plan_task`` records, each the customer's or the vendor's).

Every rule here is the local twin of one every peer applies on receipt
(:mod:`bullpen.app.members.authz`): a rep or manager arranges a room; only its owner (the
rep who made it, unless handed over) or a manager removes guests, closes it, reopens it; a
closed room is read-only; a guest adds and ticks off the customer side's tasks only. So an
honest user gets a one-line error instead of a change every peer would refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bullpen.app.members.authz import NotAllowed, room_owner
from bullpen.app.workspace import Workspace, now_iso
from bullpen.crdt.schema import ValidationError, space_doc_id

MEMBER_ROLES = ("manager", "rep")
CONTENT_KINDS = ("document", "resource", "topic", "plan_task")


def room(ws: Workspace, room_id: str) -> dict[str, Any]:
    """The room ``room_id`` (an id or unique prefix) names, or a one-line error."""
    found = ws.get(room_id)
    if found["kind"] != "space":
        raise ValidationError(f"{room_id} is not a deal room (see `bullpen room list`)")
    return found


def owner(found: dict[str, Any]) -> str | None:
    return room_owner({"owner": found.get("owner"), "_created_by": found.get("created_by")})


def may_manage(ws: Workspace, found: dict[str, Any]) -> bool:
    """May this user take away from the room (revoke, close, reopen)? Its owner or a
    manager (a rep who owns it is still a rep: authz checks the role too)."""
    role = ws.role()
    return role == "manager" or (role == "rep" and owner(found) == ws.peer_id)


def require_manage(ws: Workspace, found: dict[str, Any], what: str) -> None:
    if not may_manage(ws, found):
        raise NotAllowed(f"only the room's owner or a manager can {what}")


def require_member(ws: Workspace, what: str) -> None:
    role = ws.role()
    if role not in MEMBER_ROLES:
        raise NotAllowed(f"only managers and reps can {what} (you are a "
                         f"{role or 'non-member'})")


def require_open(found: dict[str, Any]) -> None:
    if found.get("closed") is True:
        raise NotAllowed(f"the room {found['title']!r} is closed: its owner or a manager can "
                         f"reopen it (`bullpen room reopen`)")


def create_room(ws: Workspace, title: str | None = None, *, account: str | None = None,
                deal: str | None = None) -> str:
    """A new room for an account or a deal (an opportunity id), owned by this user."""
    require_member(ws, "create deal rooms")
    fields: dict[str, Any] = {"owner": ws.peer_id, "guests": []}
    if deal is not None:
        opp = ws.get(deal)
        if opp["kind"] != "opportunity":
            raise ValidationError(f"{deal} is not a deal (an opportunity)")
        fields.update(opportunity_id=opp["id"], account=account or opp.get("account"))
        title = title or f"{opp.get('account')}: {opp.get('title')}"
    elif account is not None:
        fields["account"] = account
        title = title or f"{account} deal room"
    if not title:
        raise ValidationError("give a title, an --account or a --deal")
    return ws.add("space", {**fields, "title": title})


def set_status(ws: Workspace, room_id: str, *, status: str | None = None,
               next_steps: str | None = None, from_deal: bool = False) -> dict[str, Any]:
    """Publish the deal's status and next steps to the room (what its guests are told);
    ``from_deal``: the linked deal's stage and next step."""
    require_member(ws, "publish a deal's status")
    found = room(ws, room_id)
    require_open(found)
    if from_deal:
        if not found.get("opportunity_id"):
            raise ValidationError("this room is not linked to a deal (create it with --deal)")
        opp = ws.get(found["opportunity_id"])
        stages = {s.id: s.label for s in ws.stages()}
        status = status or stages.get(opp.get("stage") or "", opp.get("stage"))
        next_steps = next_steps or opp.get("next_step")
    values = {k: v for k, v in (("status", status), ("next_steps", next_steps)) if v}
    if not values:
        raise ValidationError("give --status, --next-steps or --from-deal")
    return ws.update(found["id"], values)


def share_document(ws: Workspace, room_id: str, *, title: str | None = None,
                   text: str = "", copy_of: str | None = None) -> str:
    """A co-edited document in the room: new, or a copy of a team document's current text."""
    require_member(ws, "share documents")
    found = room(ws, room_id)
    require_open(found)
    if copy_of is not None:
        source = ws.document(copy_of)
        title, text = title or source["title"], source["text"]
    if not title:
        raise ValidationError("give the document a title (or --copy DOC)")
    return ws.new_document(title, text, space=found["id"])


def share_file(ws: Workspace, room_id: str, path: Path | None = None, *,
               copy_of: str | None = None) -> str:
    """A file in the room: from disk, or a team resource (the same bytes, a new record)."""
    require_member(ws, "share files")
    found = room(ws, room_id)
    require_open(found)
    if path is not None:
        return ws.add_resource(path, space=found["id"])
    if copy_of is None:
        raise ValidationError("give a file or --copy RESOURCE")
    source = ws.get(copy_of)
    if source["kind"] != "resource":
        raise ValidationError(f"{copy_of} is not a shared file (a resource)")
    fields = {k: source[k] for k in ("name", "size", "mime", "sha256", "description")
              if source.get(k) is not None}
    return ws.add("resource", fields, space=found["id"])


def start_discussion(ws: Workspace, room_id: str, title: str, text: str | None = None) -> str:
    """A topic in the room (guests may post and reply in it), with a first post if given."""
    found = room(ws, room_id)
    require_open(found)
    if ws.role() is None:
        raise NotAllowed("you are not a member of this workspace")
    topic = ws.add("topic", {"title": title}, space=found["id"])
    if text:
        ws.add("post", {"topic_id": topic, "text": text})
    return topic


def add_task(ws: Workspace, room_id: str, title: str, *, side: str,
             assignee: str | None = None, due: str | None = None) -> str:
    """A task of the room's mutual action plan; a guest adds only the customer side's."""
    found = room(ws, room_id)
    require_open(found)
    role = ws.role()
    if role is None:
        raise NotAllowed("you are not a member of this workspace")
    if role == "guest" and side != "customer":
        raise NotAllowed("a guest adds only the customer side's tasks")
    fields = {"title": title, "side": side, "assignee": assignee, "due": due, "done": False}
    return ws.add("plan_task", {k: v for k, v in fields.items() if v is not None},
                  space=found["id"])


def set_task_done(ws: Workspace, task_id: str, done: bool = True) -> dict[str, Any]:
    """Tick off (or reopen) a task; a guest ticks off only the customer side's."""
    task = ws.get(task_id)
    if task["kind"] != "plan_task":
        raise ValidationError(f"{task_id} is not an action-plan task")
    require_open(room(ws, room_of(ws, task["id"])))
    if ws.role() == "guest" and task.get("side") != "customer":
        raise NotAllowed("a guest ticks off only the customer side's tasks")
    return ws.update(task["id"], {"done": done})


def room_of(ws: Workspace, record_id: str) -> str:
    """The id of the room a record is in."""
    doc_id = ws.resolve(record_id)[1]
    if not doc_id.startswith(space_doc_id("")):
        raise ValidationError(f"{record_id} is not in a deal room")
    return doc_id[len(space_doc_id("")):]


def close_room(ws: Workspace, room_id: str) -> dict[str, Any]:
    """Make the room read-only for its guests and the team, until its owner or a manager
    reopens it."""
    found = room(ws, room_id)
    require_manage(ws, found, "close the room")
    if found.get("closed") is True:
        raise ValidationError(f"the room {found['title']!r} is closed already")
    return ws.update(found["id"], {"closed": True, "closed_at": now_iso()})


def reopen_room(ws: Workspace, room_id: str) -> dict[str, Any]:
    found = room(ws, room_id)
    require_manage(ws, found, "reopen the room")
    if found.get("closed") is not True:
        raise ValidationError(f"the room {found['title']!r} is open")
    return ws.update(found["id"], {"closed": False, "closed_at": None})


def list_rooms(ws: Workspace) -> list[dict[str, Any]]:
    """The rooms this user sees (a guest: its own), with their guests' count and state."""
    names = ws.member_names()
    return [{"id": r["id"], "title": r["title"], "account": r.get("account"),
             "owner": names.get(owner(r) or "", owner(r)),
             "guests": len(r.get("guests") or []),
             "state": "closed" if r.get("closed") is True else "open"}
            for r in sorted(ws.list("space"), key=lambda r: r["title"].lower())]


def contents(ws: Workspace, room_id: str) -> dict[str, list[dict[str, Any]]]:
    """What is in the room, by kind (documents, files, discussion topics, tasks)."""
    doc_id = space_doc_id(room_id)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in CONTENT_KINDS:
        out[kind] = [r for r in ws.list(kind) if ws.index.doc_of(r["id"]) == (kind, doc_id)]
    return out
