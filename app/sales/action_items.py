"""Action items: what someone on the team agreed to do, by when, in its owner's tasks.

An action item has a text, an owner (a member), an optional due date and a status (open or
done), and may name the deal or the meeting (a calendar event) it came from. Anyone on the team
creates one for anyone (a manager after a 1:1, a rep for a colleague in a deal review); only
its owner or a manager edits, completes, reopens or deletes it. Every peer judges that on
receipt (app/members/office_rules.py), so a modified client cannot tick off a colleague's item.
Guests have no tasks here: the ``tasks`` document is the team's, never sent to a guest (a deal
room's mutual action plan is where a customer's tasks live). The owner is told of a new item
assigned to them by the notification rules (app/notifications/rules.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bullpen.app.members.authz import NotAllowed
from bullpen.app.members.lookup import member_named
from bullpen.app.notifications.rules import Notification
from bullpen.app.sales.use_cases import author_names, with_names
from bullpen.app.workspace import Workspace, WorkspaceError
from bullpen.crdt.schema import ACTION_ITEM, TASK_STATUSES, ValidationError

KIND = ACTION_ITEM.name
LINKS = {"deal": ("opportunity_id", "opportunity"), "meeting": ("event_id", "event")}


def _team_member(ws: Workspace) -> str:
    role = ws.role()
    if role not in ("rep", "manager"):
        raise NotAllowed(f"action items are the team's: a {role or 'non-member'} has none")
    return role


def _owner(ws: Workspace, who: str | None) -> str:
    """The peer id of the member ``who`` names (this user when None): a rep or a manager."""
    if who is None:
        return ws.peer_id
    member = member_named(ws, who)
    if member["role"] not in ("rep", "manager"):
        raise ValidationError(f"{member['name']} is a {member['role']}: action items are for "
                              f"reps and managers")
    return member["peer_id"]


def _link(ws: Workspace, what: str, record_id: str | None) -> dict[str, str]:
    """The field naming the linked deal or meeting, checked to exist (a dangling link would
    show as an unknown id on every peer)."""
    if not record_id:
        return {}
    field, kind = LINKS[what]
    try:
        found = ws.get(record_id)
    except WorkspaceError:
        found = None
    if found is None or found["kind"] != kind:
        raise ValidationError(f"{record_id!r} is not a {kind} in this workspace")
    return {field: found["id"]}


def add_item(ws: Workspace, text: str, owner: str | None = None, due: str | None = None, *,
             deal: str | None = None, meeting: str | None = None) -> dict[str, Any]:
    """Create an open action item for ``owner`` (a member's name or id; default: me)."""
    _team_member(ws)
    fields: dict[str, Any] = {"text": text, "owner": _owner(ws, owner), "status": "open",
                              **_link(ws, "deal", deal), **_link(ws, "meeting", meeting)}
    if due:
        fields["due"] = due
    return present(ws, ws.get(ws.add(KIND, fields)))


def _own_or_manage(ws: Workspace, item_id: str) -> dict[str, Any]:
    """The item, when this user may change it (its owner or a manager)."""
    role = _team_member(ws)
    item = ws.get(item_id)
    if item["kind"] != KIND:
        raise ValidationError(f"{item_id} is not an action item (it is: {item['kind']})")
    if role != "manager" and item.get("owner") != ws.peer_id:
        raise NotAllowed("only the item's owner or a manager can change an action item")
    return item


def set_status(ws: Workspace, item_id: str, status: str) -> dict[str, Any]:
    """Mark an item done (or open again)."""
    if status not in TASK_STATUSES:
        raise ValidationError(f"status {status!r}: one of {', '.join(TASK_STATUSES)}")
    item = _own_or_manage(ws, item_id)
    return present(ws, ws.update(item["id"], {"status": status}))


def edit(ws: Workspace, item_id: str, *, text: str | None = None, owner: str | None = None,
         due: str | None = None) -> dict[str, Any]:
    """Change an item's text, owner or due date (an empty due date keeps the old one: a
    field is never cleared, so no change to these records deletes a key)."""
    item = _own_or_manage(ws, item_id)
    fields: dict[str, Any] = {}
    if text is not None:
        fields["text"] = text
    if owner is not None:
        fields["owner"] = _owner(ws, owner)
    if due:
        fields["due"] = due
    return present(ws, ws.update(item["id"], fields))


def items(ws: Workspace, owner: str | None = None, *, everyone: bool = False,
          status: str | None = "open", today: dt.date | None = None) -> list[dict[str, Any]]:
    """Action items, overdue first then by due date: this user's (``owner`` names another
    member; ``everyone``: the whole team's), of one status (None: any)."""
    if status is not None and status not in TASK_STATUSES:
        raise ValidationError(f"--status {status!r}: one of {', '.join(TASK_STATUSES)}, or all")
    _team_member(ws)
    filters = {} if everyone else {"owner": _owner(ws, owner)}
    names = author_names(ws)
    found = [present(ws, r, today, names) for r in ws.list(KIND, **filters)
             if status is None or r.get("status") == status]
    return sorted(found, key=lambda r: (not r["overdue"], r.get("due") or "9999", r["id"]))


def present(ws: Workspace, item: dict[str, Any], today: dt.date | None = None,
            names: dict[str, str] | None = None) -> dict[str, Any]:
    """An item as shown: owner and authors as names (the owner's id kept as owner_id), and
    ``overdue`` when it is open and its due date has passed."""
    names = names if names is not None else author_names(ws)
    out = with_names(item, names)
    out["owner_id"] = item.get("owner")
    due = item.get("due")
    day = (today or dt.date.today()).isoformat()
    out["overdue"] = bool(item.get("status") == "open" and isinstance(due, str) and due < day)
    return out


def due_reminders(ws: Workspace, today: dt.date | None = None) -> list[Notification]:
    """A reminder for each of this user's open items due today or overdue. Each is dated
    its due date, so the inbox, which keeps one notification per kind, record and date,
    reminds once per item and due date (again only when the due date moves)."""
    if ws.role() not in ("rep", "manager"):
        return []
    day = (today or dt.date.today()).isoformat()
    out = []
    for item in items(ws, today=today):
        due = item.get("due")
        if not due or due > day:
            continue
        title = "Due today" if due == day else f"Overdue since {due}"
        out.append(Notification("task_due", item["id"], title, item.get("text") or "",
                                f"{due}T00:00:00+00:00", item.get("created_by") or ""))
    return out
