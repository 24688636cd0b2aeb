"""``bullpen room``: deal rooms for customers (create, fill, invite, watch, revoke, close).

Every action is one use case of :mod:`bullpen.app.rooms`; each prints the id it made or a
short confirmation, or with ``--json`` the data, and a refusal is one line with a non-zero
exit (``main.run``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bullpen.app.fields import ValidationError

from .common import (
    add_json,
    emit,
    kept_addrs,
    listening_addrs,
    open_ws,
    read_text_file,
    table,
)


def _add(ws: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``room add``: exactly one kind of content per call, so scripts get one id back."""
    from bullpen.app.rooms import rooms

    chosen = {"doc": args.doc or args.copy, **{k: getattr(args, k) for k in (
        "file", "copy_file", "discussion", "task", "status", "next_steps", "from_deal")}}
    given = [k for k, v in chosen.items() if v]
    kinds = {"status", "next_steps", "from_deal"}
    if not given or (len(given) > 1 and not set(given) <= kinds):
        raise ValidationError("room add: give one of --doc, --file, --copy-file, "
                              "--discussion, --task, or --status/--next-steps/--from-deal")
    what = given[0]
    if what == "doc":
        made = rooms.share_document(ws, args.room, title=args.doc or None, copy_of=args.copy,
                                    text=read_text_file(args.text_file) if args.text_file else "")
    elif what in ("file", "copy_file"):
        made = rooms.share_file(ws, args.room, args.file, copy_of=args.copy_file)
    elif what == "discussion":
        made = rooms.start_discussion(ws, args.room, args.discussion, args.text)
    elif what == "task":
        made = rooms.add_task(ws, args.room, args.task, side=args.side,
                              assignee=args.assignee, due=args.due)
    else:
        found = rooms.set_status(ws, args.room, status=args.status,
                                 next_steps=args.next_steps, from_deal=args.from_deal)
        return {"id": found["id"], "status": found.get("status"),
                "next_steps": found.get("next_steps")}
    return {"id": made}


def _email(ws: Any, args: argparse.Namespace) -> str:
    """``--email``, or the first address of the ``--contact`` record."""
    if (args.email is None) == (args.contact is None):
        raise ValidationError("room invite: give --email or --contact")
    if args.email is not None:
        return args.email
    contact = ws.get(args.contact)
    if contact["kind"] != "contact" or not contact.get("emails"):
        raise ValidationError(f"{args.contact} is not a contact with an email address")
    return contact["emails"][0]


def _show(ws: Any, room_id: str) -> dict[str, Any]:
    from bullpen.app.rooms import guests, rooms

    found = rooms.room(ws, room_id)
    names = ws.member_names()
    inside = rooms.contents(ws, found["id"])
    data = {key: found.get(key) for key in ("id", "title", "account", "opportunity_id",
                                           "status", "next_steps", "closed_at")}
    data.update(owner=names.get(rooms.owner(found) or "", rooms.owner(found)),
                state="closed" if found.get("closed") is True else "open",
                documents=[{"id": d["id"], "title": d["title"]} for d in inside["document"]],
                files=[{"id": r["id"], "name": r["name"], "size": r.get("size")}
                       for r in inside["resource"]],
                discussions=[{"id": t["id"], "title": t["title"]} for t in inside["topic"]],
                tasks=[{k: t.get(k) for k in ("id", "title", "side", "assignee", "due", "done")}
                       for t in inside["plan_task"]])
    if ws.role() in ("manager", "rep"):
        data["guests"] = guests.guest_activity(ws, found["id"])
    return data


def _show_text(data: dict[str, Any]) -> str:
    lines = [f"{data['title']} ({data['state']}, owner {data['owner']})"]
    for key, label in (("account", "account"), ("status", "status"),
                       ("next_steps", "next steps")):
        if data.get(key):
            lines.append(f"{label}: {data[key]}")
    for key, label, column in (("documents", "DOCUMENTS", "title"), ("files", "FILES", "name"),
                               ("discussions", "DISCUSSIONS", "title")):
        lines.append(f"{label}: " + (", ".join(f"{i[column]} ({i['id'][:6]})"
                                                 for i in data[key]) or "(none)"))
    tasks = [{**t, "id": t["id"][:6], "done": "yes" if t["done"] else ""} for t in data["tasks"]]
    lines += ["ACTION PLAN:", table(tasks, [("id", "ID"), ("title", "TASK"), ("side", "SIDE"),
                                            ("assignee", "WHO"), ("due", "DUE"),
                                            ("done", "DONE")])]
    if "guests" in data:
        lines += ["GUESTS:", table(data["guests"], [
            ("name", "NAME"), ("email", "EMAIL"), ("last_sync", "LAST SYNC"),
            ("last_write", "LAST WRITE"), ("writes", "WRITES")])]
    return "\n".join(lines)


def cmd_room(args: argparse.Namespace) -> int:
    from bullpen.app.members.invites import parse_duration
    from bullpen.app.rooms import guests, rooms

    from .members import invite_addr

    ws = open_ws(args)
    try:
        if args.action in ("list", "show", "revoke", "close", "reopen", "invite"):
            guests.bind_admitted(ws)  # guests a teammate's node let in with this room's code
        action = args.action
        if action == "create":
            made = rooms.create_room(ws, args.title, account=args.account, deal=args.deal)
            emit(args, {"id": made}, made)
        elif action == "add":
            data = _add(ws, args)
            emit(args, data, data["id"])
        elif action == "invite":
            addrs = ([invite_addr(a, ws.peer_id) for a in args.addr or []]
                     or listening_addrs(ws) or kept_addrs(ws))
            data = guests.invite_guest(ws, args.room, _email(ws, args),
                                       parse_duration(args.expires), addrs)
            emit(args, data, data["code"] if addrs else data["code"] + (
                "\n(no address in the code: start `bullpen serve` first, or give --addr)"))
        elif action == "list":
            emit(args, rooms.list_rooms(ws), lambda rows: table(
                [{**r, "id": r["id"][:6]} for r in rows],
                [("id", "ID"), ("title", "ROOM"), ("account", "ACCOUNT"), ("owner", "OWNER"),
                 ("guests", "GUESTS"), ("state", "STATE")]))
        elif action == "show":
            emit(args, _show(ws, args.room), _show_text)
        elif action == "revoke":
            data = guests.revoke_guest(ws, args.room, args.guest)
            emit(args, data, "revoked" + (" and removed from the workspace: every peer refuses "
                                          "their later changes" if data[
                                              "removed_from_workspace"] else
                                          f"; still a guest of {len(data['other_rooms'])} "
                                          f"other room(s)"))
        elif action in ("close", "reopen"):
            found = (rooms.close_room if action == "close" else rooms.reopen_room)(ws, args.room)
            emit(args, {"id": found["id"], "state": "closed" if found.get("closed") else "open"},
                 f"{found['title']}: {'closed' if found.get('closed') else 'open'}")
        elif action == "done":
            found = rooms.set_task_done(ws, args.task, not args.undo)
            emit(args, {"id": found["id"], "done": found.get("done")},
                 f"{found['title']}: {'done' if found.get('done') else 'to do'}")
    finally:
        ws.close()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("room", help="deal rooms shared with customers (guests)")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("create", help="a deal room for an account or a deal")
    a.add_argument("title", nargs="?", help="default: from the account or deal")
    a.add_argument("--account", help="the customer's account")
    a.add_argument("--deal", help="the opportunity this room is for (id or prefix)")
    add_json(a)
    a = actions.add_parser("add", help="put a document, file, discussion, task or the "
                                       "deal's status in a room")
    a.add_argument("room", help="the room's id or a unique prefix")
    a.add_argument("--doc", metavar="TITLE", help="a co-edited document (with --text-file, "
                                                  "or --copy DOC for a team document's text)")
    a.add_argument("--copy", metavar="DOC", help="with --doc: copy this team document")
    a.add_argument("--text-file", dest="text_file", type=Path, help="with --doc: its text")
    a.add_argument("--file", type=Path, help="a file from disk")
    a.add_argument("--copy-file", dest="copy_file", metavar="RESOURCE",
                   help="a team file (resource) shared in the room")
    a.add_argument("--discussion", metavar="TITLE", help="a discussion topic")
    a.add_argument("--text", help="with --discussion: the first post")
    a.add_argument("--task", metavar="TITLE", help="an action-plan task")
    a.add_argument("--side", choices=["customer", "vendor"], default="vendor",
                   help="with --task: whose task (default vendor)")
    a.add_argument("--assignee", help="with --task: who does it")
    a.add_argument("--due", help="with --task: YYYY-MM-DD")
    a.add_argument("--status", help="the deal's status as the customer sees it")
    a.add_argument("--next-steps", dest="next_steps", help="the deal's next steps")
    a.add_argument("--from-deal", dest="from_deal", action="store_true",
                   help="status and next steps from the linked deal")
    add_json(a)
    a = actions.add_parser("invite", help="a one-time guest invite code for the room")
    a.add_argument("room", help="the room's id or a unique prefix")
    a.add_argument("--email", help="the customer contact's email address")
    a.add_argument("--contact", help="or a contact record (id or prefix): its first email")
    a.add_argument("--expires", default="7d", help="how long it stays valid (30m, 24h, 7d)")
    a.add_argument("--addr", action="append", help="an address to put in the code")
    add_json(a)
    add_json(actions.add_parser("list", help="the rooms you see"))
    a = actions.add_parser("show", help="a room's content, guests and their activity")
    a.add_argument("room", help="the room's id or a unique prefix")
    add_json(a)
    a = actions.add_parser("revoke", help="take a guest out of the room (owner or manager)")
    a.add_argument("room", help="the room's id or a unique prefix")
    a.add_argument("guest", help="peer id, short id or name")
    add_json(a)
    for name, what in (("close", "make the room read-only (owner or manager)"),
                       ("reopen", "make a closed room writable again (owner or manager)")):
        a = actions.add_parser(name, help=what)
        a.add_argument("room", help="the room's id or a unique prefix")
        add_json(a)
    a = actions.add_parser("done", help="tick off an action-plan task")
    a.add_argument("task", help="the task's id or a prefix (room show lists them)")
    a.add_argument("--undo", action="store_true", help="mark it not done")
    add_json(a)
    p.set_defaults(func=cmd_room)
