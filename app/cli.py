"""The ``bullpen`` command line: thin argument parsing over the Workspace use cases.

Every command that prints data has ``--json``; every failure is one line on stderr naming the
problem and a non-zero exit, with nothing half-written (validation happens before the write,
and each write is one transaction).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bullpen import __version__
from bullpen.crdt.checks import currency
from bullpen.crdt.schema import ValidationError

from .joining import first_of
from .terminal import escape_json, safe_terminal
from .workspace import Workspace, WorkspaceError

EXIT_USAGE = 2
EXIT_SOFTWARE = 70  # sysexits' EX_SOFTWARE: a fault of Bullpen's, not of the input
DEBUG_ENV = "BULLPEN_DEBUG"


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (its default prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def default_home() -> Path:
    env = os.environ.get("BULLPEN_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Bullpen", appauthor=False))


def emit(args: argparse.Namespace, data: Any, human: Callable[[Any], str] | str) -> None:
    if getattr(args, "json", False):
        print(escape_json(json.dumps(data, indent=2, ensure_ascii=False, default=str)))
    else:
        text = human if isinstance(human, str) else human(data)
        if text:
            print(text)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return " ".join(str(value).split())


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A plain aligned text table (header, rows); long cells are cut to keep lines short."""
    cells = [[h for _, h in columns]]
    for row in rows:
        line = []
        for key, _ in columns:
            text = cell(row.get(key))
            line.append(text if len(text) <= 40 else text[:39] + "…")
        cells.append(line)
    if len(cells) == 1:
        return "(none)"
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def ask_passphrase(home: str) -> str | None:
    """Ask on the terminal when there is one (scripts and CI use BULLPEN_PASSPHRASE)."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return getpass.getpass(f"Passphrase for {home}: ") or None


def ask_new_passphrase(home: str) -> str | None:
    first = ask_passphrase(home)
    if first is not None and getpass_confirm(first) is False:
        raise ValidationError("the two passphrases differ")
    return first


def getpass_confirm(first: str) -> bool:
    import getpass

    return getpass.getpass("Repeat the passphrase: ") == first


def open_ws(args: argparse.Namespace) -> Workspace:
    return Workspace.open(args.home, ask=ask_passphrase)


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


# ----- init / status / search / history ---------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    ws = Workspace.create(args.home, args.name, args.workspace,
                          currency=currency(args.currency, "--currency"), ask=ask_new_passphrase)
    data = ws.status()
    ws.close()
    emit(args, data, lambda d: f"created workspace {d['title']!r} ({d['workspace_id']})\n"
                               f"you are {d['name']}, peer id {d['peer_id']}\nhome: {d['home']}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    data = ws.status()
    data["peers"] = _peer_status(ws)
    data["listening"] = listening_addrs(ws)
    ws.close()

    def human(d: dict[str, Any]) -> str:
        lines = [f"{d['title']} ({d['workspace_id']})", f"you: {d['name']} {d['peer_id']}",
                 f"digest: {d['digest']}"]
        lines += [f"listening on {addr}" for addr in d["listening"]]
        for p in d["peers"]:
            seen = p.get("last_seen") or "never"
            state = "connected" if p.get("connected") else f"last seen {seen}"
            refused = p.get("refused") or {}
            state += "".join(f"; holding back {d}: {why}" for d, why in sorted(refused.items()))
            theirs = p.get("held_by_peer") or {}
            state += "".join(f"; it refuses our {d}: {why}" for d, why in sorted(theirs.items()))
            lines.append(f"peer {p.get('name') or p.get('short_id') or p.get('peer_id')}: {state}")
        return "\n".join(lines)

    emit(args, data, human)
    return 0


def _peer_status(ws: Workspace) -> list[dict[str, Any]]:
    try:
        from .peer_book import peer_status
    except ImportError:
        return []
    return peer_status(ws)


def listening_addrs(ws: Workspace) -> list[str]:
    """Addresses of the node running on this profile (serve or the app), if any."""
    try:
        from .peer_book import node_info
    except ImportError:
        return []
    return list((node_info(ws) or {}).get("listen", []))


def kept_addrs(ws: Workspace) -> list[str]:
    """Where this profile's node will listen when it next runs (the port it keeps), as
    addresses others can dial; empty before its first run."""
    try:
        from bullpen.sync import addresses
    except ImportError:
        return []
    port = ws.store.get_meta(addresses.PORT_KEY)
    if not port:
        return []
    return addresses.dialable([f"{addresses.WILDCARD}tcp/{port}/p2p/{ws.peer_id}"])


def cmd_search(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    hits = ws.search(" ".join(args.query), limit=args.limit)
    ws.close()
    emit(args, hits, lambda h: table(h, [("id", "ID"), ("kind", "KIND"), ("title", "TITLE"),
                                         ("snippet", "MATCH")]))
    return 0


def history_rows(ws: Workspace, record_id: str) -> list[dict[str, Any]]:
    from .sales import author_names

    names = author_names(ws)  # members who left keep their names
    rows = []
    for entry in ws.history(record_id):
        row = entry.to_json()
        row["by_name"] = names.get(entry.by or "", entry.by)
        rows.append(row)
    return rows


def format_history(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        changes = ", ".join(
            f"{k}: {_short(v['old'])} → {_short(v['new'])}" for k, v in r["fields"].items()
        )
        race = " (concurrent)" if r["concurrent"] else ""
        lines.append(f"{r['at']}  {r['by_name']}  {r['action']}{race}  {changes}")
    return "\n".join(lines) or "(no history)"


def _short(value: Any) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= 30 else text[:29] + "…"


def cmd_history(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    rows = history_rows(ws, args.id)
    ws.close()
    emit(args, rows, format_history)
    return 0


# ----- records ----------------------------------------------------------------------------

OPP_FLAGS: list[tuple[str, str, str]] = [
    ("--account", "account", "account (customer company)"),
    ("--title", "title", "opportunity title"),
    ("--amount", "amount", "amount, e.g. 50000"),
    ("--currency", "currency", "ISO currency, default the workspace's"),
    ("--stage", "stage", "stage id, e.g. proposal"),
    ("--close", "close_date", "expected close date YYYY-MM-DD"),
    ("--probability", "probability", "0-100, default from stage"),
    ("--category", "category", "pipeline|best_case|commit|closed|omitted"),
    ("--owner", "owner", "owner name, default you"),
    ("--next-step", "next_step", "next step"),
    ("--notes", "notes", "notes"),
    ("--contacts", "contact_ids", "linked contact ids, comma-separated"),
    ("--external-id", "external_id", "id in another tool"),
]


def fields_from(args: argparse.Namespace, flags: list[tuple[str, str, str]]) -> dict[str, Any]:
    out = {}
    for flag, name, _ in flags:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            out[name] = value
    return out


def add_flags(p: argparse.ArgumentParser, flags: list[tuple[str, str, str]]) -> None:
    for flag, _, help_text in flags:
        p.add_argument(flag, help=help_text)


OPP_COLUMNS = [("id", "ID"), ("account", "ACCOUNT"), ("title", "TITLE"), ("amount", "AMOUNT"),
               ("currency", "CUR"), ("stage", "STAGE"), ("probability", "%"),
               ("close_date", "CLOSE"), ("owner", "OWNER")]


def show_record(ws: Workspace, args: argparse.Namespace) -> int:
    record = ws.get(args.id)
    record["history"] = history_rows(ws, record["id"])
    ws.close()

    def human(r: dict[str, Any]) -> str:
        skip = {"history", "deleted"}
        lines = [f"{k}: {v}" for k, v in r.items() if k not in skip and v not in (None, "", [])]
        return "\n".join(lines) + "\n\nhistory:\n" + format_history(r["history"])

    emit(args, record, human)
    return 0


CONTACT_FLAGS = [
    ("--name", "name", "full name"), ("--company", "company", "company"),
    ("--title", "title", "job title"), ("--emails", "emails", "emails, comma-separated"),
    ("--phones", "phones", "phones, comma-separated"), ("--notes", "notes", "notes"),
]
EVENT_FLAGS = [
    ("--title", "title", "event title"), ("--start", "start", "start YYYY-MM-DDTHH:MM or date"),
    ("--end", "end", "end"), ("--all-day", "all_day", "yes/no"),
    ("--location", "location", "location"), ("--attendees", "attendees", "emails, comma-separated"),
    ("--opportunity", "opportunity_id", "linked opportunity id"),
    ("--description", "description", "description"), ("--timezone", "timezone", "IANA zone"),
]


def simple_kind(
    kind: str,
    flags: list[tuple[str, str, str]],
    columns: list[tuple[str, str]],
    list_filters: tuple[str, ...] = (),
    order: str = "title",
):
    """Handler for a record kind with add / list / show / update / delete."""

    def handler(args: argparse.Namespace) -> int:
        ws = open_ws(args)
        if args.action == "add":
            print(ws.add(kind, fields_from(args, flags)))
        elif args.action == "update":
            record = ws.update(args.id, fields_from(args, flags))
            emit(args, record, record["id"])
        elif args.action == "list":
            filters = {name: getattr(args, name) for name in list_filters}
            rows = ws.list(kind, order=order, **filters)
            emit(args, rows, lambda r: table(r, columns))
        elif args.action == "show":
            return show_record(ws, args)
        elif args.action == "delete":
            ws.delete(args.id)
            print(f"deleted {args.id}")
        ws.close()
        return 0

    return handler


def register_kind(
    sub: Any, name: str, kind: str, flags: list[tuple[str, str, str]],
    columns: list[tuple[str, str]], help_text: str, *, list_filters: tuple[str, ...] = (),
    order: str = "title",
) -> None:
    """``bullpen NAME add|update|list|show|delete`` for one record kind; ``list_filters`` are
    ``--FIELD`` options of ``list``."""
    p = sub.add_parser(name, help=help_text)
    actions = p.add_subparsers(dest="action", required=True)
    for action in ("add", "update"):
        a = actions.add_parser(action)
        if action == "update":
            a.add_argument("id")
        add_flags(a, flags)
        add_json(a)
    a = actions.add_parser("list")
    for field_name in list_filters:
        a.add_argument(f"--{field_name}")
    add_json(a)
    for action in ("show", "delete"):
        a = actions.add_parser(action)
        a.add_argument("id")
        add_json(a)
    p.set_defaults(func=simple_kind(kind, flags, columns, list_filters, order))


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
        topic = ws.get(args.id)
        posts = [p for p in ws.list("post", topic_id=topic["id"], order="updated_at")]
        posts.sort(key=lambda p: p["created_at"])
        topic["posts"] = posts
        from .sales import author_names

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
        text = ""
        if args.file:
            try:
                text = Path(args.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationError(f"{args.file}: cannot read ({exc})") from None
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


def cmd_stage(args: argparse.Namespace) -> int:
    from bullpen.crdt.schema import FORECAST_CATEGORIES, Stage, normalise_choice

    ws = open_ws(args)
    if args.action == "set":
        stages = []
        for spec in args.stages:
            parts = spec.split(":")
            if len(parts) != 3 or parts[2] not in FORECAST_CATEGORIES:
                raise ValidationError(
                    f"stage {spec!r}: use LABEL:PROBABILITY:CATEGORY, category one of "
                    f"{', '.join(FORECAST_CATEGORIES)}"
                )
            label, probability, category = parts
            if not probability.isdigit() or int(probability) > 100:
                raise ValidationError(f"stage {spec!r}: probability must be 0-100")
            stages.append(Stage(normalise_choice(label), label, int(probability), category))
        ws.set_stages(stages)
    rows = [s.__dict__ for s in ws.stages()]
    ws.close()
    emit(args, rows, lambda r: table(r, [("id", "ID"), ("label", "LABEL"),
                                         ("probability", "%"), ("category", "CATEGORY")]))
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from .recover import recover

    report = recover(args.home, ask=ask_passphrase)
    emit(args, report, lambda r: "\n".join(r["messages"]))
    return 0 if report["ok"] else 1


def cmd_gui(args: argparse.Namespace) -> int:
    if (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM")):
        # Qt would abort with a core dump; say what to do instead.
        print("bullpen: no display for the desktop app here; use the commands (bullpen --help) "
              "or run it in a desktop session (or under xvfb-run)", file=sys.stderr)
        return 1
    try:
        from bullpen.ui.app import run
    except ImportError as exc:
        print(f"bullpen: the desktop app is not available ({exc})", file=sys.stderr)
        return 1
    code = run(args.home, demo=getattr(args, "demo", False))
    # Everything is closed and durable by now. PySide6 can crash while the interpreter tears
    # down Qt objects at exit (seen as an abort in garbage collection), which would turn a
    # clean quit into a crash report: leave without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_demo(args: argparse.Namespace) -> int:
    args.demo = True
    return cmd_gui(args)


def cmd_demo_peer(args: argparse.Namespace) -> int:
    from bullpen.app.cli_sync import configure_logging

    from .demo_runner import run_demo_peer

    configure_logging()
    return run_demo_peer(args.home, args.interval)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bullpen", description="Bullpen: a peer-to-peer, offline-first virtual sales office."
    )
    parser.add_argument("--version", action="version", version=f"bullpen {__version__}")
    parser.add_argument("--home", type=Path, default=None,
                        help="profile folder (default: $BULLPEN_HOME or the platform data dir)")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("init", help="create your identity and a new workspace")
    p.add_argument("--name", required=True, help="your name as teammates see it")
    p.add_argument("--workspace", required=True, help="workspace title")
    p.add_argument("--currency", default="EUR", help="base currency (default EUR)")
    add_json(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("status", help="identity, workspace and sync state")
    add_json(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("search", help="full-text search over everything")
    p.add_argument("query", nargs="+")
    p.add_argument("--limit", type=int, default=50)
    add_json(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("history", help="every change of a record: who, when, what")
    p.add_argument("id")
    add_json(p)
    p.set_defaults(func=cmd_history)

    register_kind(sub, "opp", "opportunity", OPP_FLAGS, OPP_COLUMNS, "opportunities (pipeline)",
                  list_filters=("stage", "owner"), order="updated_at DESC")
    register_kind(sub, "contact", "contact", CONTACT_FLAGS,
                  [("id", "ID"), ("name", "NAME"), ("company", "COMPANY"), ("title", "TITLE"),
                   ("emails", "EMAILS")], "team contacts")
    register_kind(sub, "event", "event", EVENT_FLAGS,
                  [("id", "ID"), ("start", "START"), ("end", "END"), ("title", "TITLE"),
                   ("location", "WHERE")], "team calendar")

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

    p = sub.add_parser("stage", help="the workspace's pipeline stages")
    actions = p.add_subparsers(dest="action", required=True)
    add_json(actions.add_parser("list"))
    a = actions.add_parser("set", help="replace the stage list")
    a.add_argument("stages", nargs="+", metavar="LABEL:PROBABILITY:CATEGORY",
                   help='e.g. "Discovery:10:pipeline" "Closed Won:100:closed"')
    add_json(a)
    p.set_defaults(func=cmd_stage)

    p = sub.add_parser("recover", help="check the store; salvage a damaged one into a fresh one")
    add_json(p)
    p.set_defaults(func=cmd_recover)

    p = sub.add_parser("gui", help="open the desktop app (the default)")
    p.set_defaults(func=cmd_gui)
    p = sub.add_parser("demo", help="open the desktop app on a live demo workspace")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("demo-peer", help="(internal) a simulated teammate for `bullpen demo`")
    p.add_argument("--interval", type=float, default=4.0, help="seconds between changes")
    p.set_defaults(func=cmd_demo_peer)

    for module in ("cli_sync", "cli_features", "cli_members"):
        try:
            extension = __import__(f"bullpen.app.{module}", fromlist=["register"])
        except ImportError:
            continue
        extension.register(sub)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input or the data's state, shown as one line."""
    from .blobs import BlobDamaged, BlobMissing
    from .keys import ProfileLocked
    from .store import StoreError

    errors: list[type[BaseException]] = [
        ValidationError, WorkspaceError, StoreError, BlobMissing, BlobDamaged, ProfileLocked
    ]
    from .interop_errors import InteropError
    from .invites import InviteError

    errors += [InteropError, InviteError]
    try:
        from multiaddr.exceptions import ParseError as AddressError

        from bullpen.sync.join import JoinRefused
        from bullpen.sync.node import DialError

        errors += [JoinRefused, DialError, AddressError]
    except ImportError:  # libp2p missing: the sync commands say so themselves
        pass
    return tuple(errors)


def fail(message: object) -> None:
    """One line on stderr, whatever the message holds."""
    print("bullpen: " + " ".join(str(message).split()), file=sys.stderr)


def run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; every failure becomes one line on stderr and a non-zero exit.

    Errors of the input or the data's state say what to do. Anything else is a fault of
    Bullpen's: still one line (naming the error, and BULLPEN_DEBUG=1 for the traceback), since
    a traceback tells a user nothing and may print record data. The expected errors are
    gathered only on failure: naming the sync errors imports libp2p, a second of start-up
    that a command which succeeds must not pay."""
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        found = first_of(exc, user_errors())
        if found is not None:
            fail(found)
            return EXIT_USAGE if isinstance(found, ValidationError) else 1
        if first_of(exc, (KeyboardInterrupt,)) is not None:
            return 130
        if os.environ.get(DEBUG_ENV):
            raise
        while isinstance(exc, BaseExceptionGroup):  # name the error, not trio's wrapper
            exc = exc.exceptions[0]
        fail(f"unexpected error ({type(exc).__name__}: {exc}); run again with {DEBUG_ENV}=1 "
             f"for details, and please report it")
        return EXIT_SOFTWARE


# Arguments naming files may hold any bytes the file system allows; every other argument
# becomes record text, an id or a setting, which must be valid Unicode.
PATH_ARGS = frozenset({"home", "file", "output"})


def check_text_args(args: argparse.Namespace) -> None:
    """Refuse undecodable bytes (lone surrogates in Python's argv) in any non-path argument,
    before they reach SQLite or automerge, which cannot store them."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if name not in PATH_ARGS and isinstance(item, str) and not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValidationError(f"{name.replace('_', '-')}: not valid text "
                                          f"(undecodable bytes)") from None


def main(argv: Sequence[str] | None = None) -> int:
    with safe_terminal():
        parser = build_parser()
        args = parser.parse_args(argv)
        args.home = (args.home or default_home()).expanduser().resolve()

        def command(args: argparse.Namespace) -> int:
            check_text_args(args)
            return (getattr(args, "func", None) or cmd_gui)(args)

        return run(command, args)


if __name__ == "__main__":
    sys.exit(main())
