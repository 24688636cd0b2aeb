"""``bullpen member`` and ``bullpen invite``: who is in the workspace, and letting people in."""

from __future__ import annotations

import argparse
from typing import Any

from bullpen.app.fields import ValidationError

from .common import add_json, ask_new_passphrase, emit, kept_addrs, listening_addrs, open_ws, table

NO_NODE = ("ONLINE: no node of this profile is running, so you are offline and whether "
           "teammates are is unknown (start the app or `bullpen serve`)")


def presence(ws: Any) -> dict[str, bool] | None:
    """Peer id -> online, from the state the node running on this profile (the app or
    ``serve``) publishes: you are online when it listens or is connected, a teammate when its
    link to them is up. None when no node runs (then you are not online, and whether a
    teammate is cannot be known from here)."""
    try:
        from bullpen.app.network.peer_book import node_info
    except ImportError:
        return None
    info = node_info(ws)
    if info is None:
        return None
    peers = [p for p in info.get("peers") or [] if isinstance(p, dict) and "peer_id" in p]
    online = {p["peer_id"]: bool(p.get("connected")) for p in peers}
    online[ws.peer_id] = bool(info.get("listen")) or any(online.values())
    return online


def member_rows(ws: Any, online: dict[str, bool] | None) -> list[dict[str, Any]]:
    """The member list with ``online`` from :func:`presence`; a teammate's is None (JSON
    null) when no node runs."""
    from bullpen.app.members.identity import short_id

    names = ws.member_names()
    rows = []
    for m in ws.members():
        you = m["peer_id"] == ws.peer_id
        rows.append({
            **m,
            "short_id": short_id(m["peer_id"]),
            "added_by_name": names.get(m["added_by"], short_id(m["added_by"])),
            "manager_name": names.get(m["manager"] or "", ""),
            "online": online.get(m["peer_id"], False) if online is not None
            else (False if you else None),
            "you": you,
        })
    return rows


def _member_table(rows: list[dict[str, Any]], node_runs: bool) -> str:
    shown = [{**r, "online": {True: "yes", False: "no", None: "?"}[r["online"]]} for r in rows]
    text = table(shown, [
        ("short_id", "ID"), ("name", "NAME"), ("role", "ROLE"), ("manager_name", "TEAM OF"),
        ("added_by_name", "ADDED BY"), ("added_at", "ADDED"), ("online", "ONLINE")])
    return text if node_runs else f"{text}\n{NO_NODE}"


def cmd_member(args: argparse.Namespace) -> int:
    ws = open_ws(args)
    if args.action in ("remove", "role"):
        from bullpen.app.members.identity import short_id
        from bullpen.app.sales.use_cases import member_named

        member = member_named(ws, args.peer)
        if args.action == "remove":
            ws.remove_member(member["peer_id"])
            print(f"removed {member['name']} ({short_id(member['peer_id'])}): every peer "
                  f"disconnects them and sends nothing newer")
        else:
            ws.set_role(member["peer_id"], args.role)
            print(f"{member['name']} is now {args.role}")
    else:
        online = presence(ws)
        emit(args, member_rows(ws, online), lambda rows: _member_table(rows, online is not None))
    ws.close()
    return 0


_HOSTS = {"ip4", "ip6", "dns", "dns4", "dns6"}


def invite_addr(text: str, peer_id: str) -> str:
    """An address a newcomer can dial to reach this peer (host and TCP port, and if it
    names a peer, this one), or ValidationError: a bad one would make an unusable code."""
    from multiaddr import Multiaddr
    from multiaddr.exceptions import Error as AddressError

    try:
        addr = Multiaddr(text)
        names = [p.name for p in addr.protocols()]
        named = addr.value_for_protocol("p2p") if "p2p" in names else peer_id
    except (AddressError, ValueError) as exc:
        raise ValidationError(f"--addr {text!r} is not a multiaddr ({exc})") from None
    if len(names) < 2 or names[0] not in _HOSTS or names[1] != "tcp":
        raise ValidationError(f"--addr {text!r}: give a host and TCP port, e.g. "
                              f"/ip4/192.0.2.7/tcp/4001")
    if named != peer_id:
        raise ValidationError(f"--addr {text!r} names another peer than this one ({peer_id})")
    return str(addr)


def cmd_invite(args: argparse.Namespace) -> int:
    from bullpen.app.members.invites import create_invite, parse_duration

    ws = open_ws(args)
    running = listening_addrs(ws)
    given = [invite_addr(a, ws.peer_id) for a in args.addr or []]
    addrs = given or running or kept_addrs(ws)
    code = create_invite(ws, args.role, parse_duration(args.expires), addrs)
    ws.close()
    data = {"code": code, "role": args.role, "expires_in": args.expires, "addrs": addrs}
    if not addrs:
        note = ("\n(no address in the code: start `bullpen serve` first, or give --addr, so "
                "the newcomer can reach you)")
    elif not running and not args.addr:
        note = ("\n(the code names the addresses Bullpen listens on when it runs: start the "
                "app or `bullpen serve` before the newcomer joins)")
    else:
        note = ""
    emit(args, data, code + note)
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from bullpen.app.logs import configure_logging
    from bullpen.app.members.joining import join_workspace

    configure_logging()
    result = join_workspace(args.home, args.code, args.name, listen=args.listen,
                            ask=ask_new_passphrase, timeout=args.timeout)
    emit(args, result, lambda r: f"joined {r['title']!r} as {r.get('role') or 'member'}; "
                                 f"run `bullpen serve` or the app to keep in sync")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("join", help="join a workspace with an invite code")
    p.add_argument("code", help="the BP1-... code from a teammate")
    p.add_argument("--name", required=True, help="your name as teammates will see it")
    p.add_argument("--listen", action="append", metavar="MULTIADDR",
                   help="address for this node (default /ip4/127.0.0.1/tcp/0)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after SECONDS")
    add_json(p)
    p.set_defaults(func=cmd_join)

    p = sub.add_parser("member", help="workspace members (list, remove, change role)")
    actions = p.add_subparsers(dest="action", required=True)
    add_json(actions.add_parser("list", help="names, roles, teams, who is online"))
    a = actions.add_parser("remove", help="remove a member (managers)")
    a.add_argument("peer", help="peer id, its short form, or the member's name")
    a = actions.add_parser("role", help="change a member's role (managers)")
    a.add_argument("peer")
    a.add_argument("role", choices=["manager", "rep", "guest"])
    p.set_defaults(func=cmd_member)

    p = sub.add_parser("invite", help="print a one-time invite code")
    p.add_argument("--role", required=True, choices=["manager", "rep", "guest"])
    p.add_argument("--expires", default="24h", help="how long it stays valid (e.g. 30m, 24h, 7d)")
    p.add_argument("--addr", action="append", help="an address to put in the code (repeatable)")
    add_json(p)
    p.set_defaults(func=cmd_invite)
