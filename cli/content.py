"""The team's content: discussion topics and posts, announcements, shared files (``resource``)
and co-edited documents (``doc``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_json, emit, of_kind, open_ws, read_text_file, table


def cmd_topic(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    if args.action == "add":
        fields = {"title": args.title, "category": args.category}
        if args.body:
            fields["body"] = args.body
        print(ws.add("topic", fields))
    elif args.action == "list":
        emit(args, ws.list("topic"), lambda r: table(r, [("id", "ID"), ("title", "TITLE"),
                                                         ("category", "CATEGORY")]))
    elif args.action == "show":
        topic = ws.get(of_kind(ws, args.id, "topic"))
        posts = [p for p in ws.list("post", topic_id=topic["id"], order="updated_at")]
        posts.sort(key=lambda p: p["created_at"])
        topic["posts"] = posts
        from bullpen.app.sales.use_cases import author_names

        names = author_names(ws)
        emit(args, topic, lambda t: "\n".join(
            [f"{t['title']} [{t.get('category')}]"]
            + [f"  {p['id']} {names.get(p['created_by'], '?')}"
               f"{' ↳ ' + p['reply_to'] if p.get('reply_to') else ''}: {p['text']}"
               for p in t["posts"]]))
    ws.close()
    return 0


def add_one(args: argparse.Namespace, kind: str, fields: dict[str, Any]) -> int:
    """Create one record from the given fields (those left out are None) and print its id."""
    ws = open_ws(args)
    print(ws.add(kind, {k: v for k, v in fields.items() if v is not None}))
    ws.close()
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    return add_one(args, "post",
                   {"topic_id": args.topic_id, "text": args.text, "reply_to": args.reply_to})


def cmd_announce(args: argparse.Namespace) -> int:
    return add_one(args, "announcement",
                   {"text": args.text, "pinned": args.pinned, "title": args.title})


def cmd_announcements(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    rows = ws.list("announcement")
    ws.close()
    emit(args, rows, lambda r: table(r, [("id", "ID"), ("created_at", "AT"), ("pinned", "PIN"),
                                         ("text", "TEXT")]))
    return 0


def cmd_resource(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    if args.action == "add":
        print(ws.add_resource(Path(args.file), description=args.description or ""))
    elif args.action == "get":
        out = ws.export_resource(args.id, Path(args.output))
        print(f"saved {out}")
    elif args.action == "list":
        emit(args, ws.list("resource", order="title"),
             lambda r: table(r, [("id", "ID"), ("name", "NAME"), ("size", "BYTES"),
                                 ("mime", "TYPE"), ("created_at", "ADDED")]))
    ws.close()
    return 0


def cmd_doc(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    if args.action == "new":
        text = read_text_file(args.file) if args.file else ""
        print(ws.new_document(args.title, text))
    elif args.action == "show":
        document = ws.document(args.id)
        emit(args, document, lambda d: f"# {d['title']}\n\n{d['text']}")
    elif args.action == "list":
        emit(args, ws.list("document", order="title"),
             lambda r: table(r, [("id", "ID"), ("title", "TITLE"), ("updated_at", "UPDATED")]))
    elif args.action == "append":
        length = len(ws.document(args.id)["text"])
        ws.edit_document(args.id, splice=(length, 0, args.text))
        print(args.id)
    ws.close()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("topic", help="discussion topics")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add")
    a.add_argument("title")
    a.add_argument("--category", default="general",
                   help="general|competitive|product|ideas")
    a.add_argument("--body")
    add_json(actions.add_parser("list"))
    a = actions.add_parser("show")
    a.add_argument("id")
    add_json(a)
    p.set_defaults(func=cmd_topic)

    p = sub.add_parser("post", help="post in a discussion topic")
    p.add_argument("topic_id")
    p.add_argument("text")
    p.add_argument("--reply-to")
    p.set_defaults(func=cmd_post)

    p = sub.add_parser("announce", help="post a team announcement (Message Center)")
    p.add_argument("text")
    p.add_argument("--title")
    p.add_argument("--pinned", action="store_true")
    p.set_defaults(func=cmd_announce)

    p = sub.add_parser("announcements", help="list announcements")
    add_json(p)
    p.set_defaults(func=cmd_announcements)

    p = sub.add_parser("resource", help="shared files (Resource Center)")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add")
    a.add_argument("file")
    a.add_argument("--description")
    a = actions.add_parser("get")
    a.add_argument("id")
    a.add_argument("-o", "--output", required=True)
    add_json(actions.add_parser("list"))
    p.set_defaults(func=cmd_resource)

    p = sub.add_parser("doc", help="co-edited documents")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("new")
    a.add_argument("title")
    a.add_argument("--file", help="initial text from a UTF-8 file")
    a = actions.add_parser("show")
    a.add_argument("id")
    add_json(a)
    add_json(actions.add_parser("list"))
    a = actions.add_parser("append")
    a.add_argument("id")
    a.add_argument("text")
    p.set_defaults(func=cmd_doc)
