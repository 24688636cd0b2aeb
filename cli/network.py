"""``bullpen serve``, ``bullpen sync`` and ``bullpen peer``: the sync node from the command line.

libp2p and trio are imported inside the handlers only, so other commands stay quick.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from bullpen.app.errors import first_of
from bullpen.app.logs import configure_logging

from .common import open_ws

DEFAULT_LISTEN = "/ip4/0.0.0.0/tcp/0"


def _fail(message: str) -> int:
    print(f"bullpen: {message}", file=sys.stderr)
    return 1


def _loopback_only(addrs: list[str]) -> bool:
    return all(a.startswith(("/ip4/127.", "/ip6/::1/")) for a in addrs)


# ----- serve / sync ------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import trio

    from bullpen.app.network.node_setup import make_node
    from bullpen.app.notifications.inbox import NotificationInbox

    configure_logging(args.verbose)
    ws = open_ws(args)
    listen = args.listen or [DEFAULT_LISTEN]
    node = make_node(ws, listen=listen, mdns=not args.no_mdns and not _loopback_only(listen),
                     relay=True if args.relay else None)  # else as `bullpen relay` says
    stop_compaction = ws.start_background_compaction()
    inbox = NotificationInbox(ws)  # received changes become the user's notifications

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                addrs = await nursery.start(node.run)
                for addr in addrs:
                    print(f"listening on {addr}", flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except OSError as exc:
        return _fail(f"cannot listen on {' '.join(listen)}: {exc}")
    finally:
        stop_compaction.set()
        inbox.close()
        ws.close()
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    import trio

    from bullpen.app.network.node_setup import DialError, make_node
    from bullpen.app.network.peer_book import PeerAddrError, split_p2p_addr

    configure_logging(args.verbose, progress=not args.once)
    try:
        peer_id, addr = split_p2p_addr(args.peer)
    except PeerAddrError as exc:
        return _fail(str(exc))
    ws = open_ws(args)
    node = make_node(ws, listen=[], advertise=False, redial=False, publish=False)
    links: list[Any] = []

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                links.append(await node.dial(addr))
                if args.once:
                    await node.wait_in_sync(peer_id, timeout=args.timeout)
                else:
                    async for _ in signals:
                        break
                nursery.cancel_scope.cancel()

    try:
        try:
            trio.run(main)
        except BaseException as exc:
            found = first_of(exc, (DialError, trio.TooSlowError))
            if found is None:
                raise
            if isinstance(found, DialError):
                return _fail(str(found))
            left = sorted(links[0].unsynced()) if links else []
            return _fail(f"sync with {args.peer} did not complete within {args.timeout:g} s"
                         + (f"; not synced: {', '.join(left)}" if left else ""))
        return _report_sync(args, peer_id, links[0])
    finally:
        ws.close()


def _report_sync(args: argparse.Namespace, peer_id: str, link: Any) -> int:
    """What ``sync`` did; non-zero when a document was left unsynced because one side refuses
    the other's changes, naming the document, the peer and the reason."""
    held = link.held()
    if args.json:
        print(json.dumps({"peer_id": peer_id, "in_sync": not held, "held": held,
                          "bytes_in": link.bytes_in, "bytes_out": link.bytes_out}))
    for doc_id, why in sorted(held.items()):
        print(f"bullpen: document {doc_id} not synced with peer {peer_id}: {why}",
              file=sys.stderr)
    if held:
        return 1
    if args.once and not args.json:
        print(f"in sync with {peer_id}")
    return 0


# ----- relay on / off ------------------------------------------------------------------------


def cmd_relay(args: argparse.Namespace) -> int:
    from bullpen.app.network.node_setup import relaying, set_relaying

    ws = open_ws(args)
    try:
        if args.state is not None:
            set_relaying(ws, args.state == "on")
        on = relaying(ws)
    finally:
        ws.close()
    print("on: this machine relays for the team's managers and reps whenever bullpen runs"
          if on else "off: this machine relays only under `bullpen serve --relay`")
    return 0


# ----- peer add / list / remove ------------------------------------------------------------


def cmd_peer(args: argparse.Namespace) -> int:
    from bullpen.app.members.access import AccessPolicy
    from bullpen.app.network import peer_book as peers

    ws = open_ws(args)
    try:
        if args.action == "add":
            try:
                peer_id, _ = peers.split_p2p_addr(args.addr)
                if not AccessPolicy(ws).is_allowed(peer_id):
                    return _fail(f"{peer_id} is not a member of this workspace (a newcomer "
                                 f"joins with an invite; or sync with a teammate first)")
                peer_id = peers.add_peer(ws, args.addr, args.name or "")
            except peers.PeerAddrError as exc:
                return _fail(str(exc))
            print(peer_id)
        elif args.action == "remove":
            removed = peers.remove_peer(ws, args.peer)
            if removed is None:
                return _fail(f"no single known peer matches {args.peer!r}")
            print(removed)
        else:
            rows = peers.peer_status(ws)
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for r in rows:
                    seen = r["last_seen"] or "never"
                    state = "connected" if r["connected"] else f"last seen {seen}"
                    addr = r["addrs"][0] if r["addrs"] else "(no address)"
                    print(f"{r['short_id']}  {r['name'] or '-'}  {state}  {addr}")
                if not rows:
                    print("(no peers)")
    finally:
        ws.close()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the sync node in the foreground")
    p.add_argument("--listen", action="append", metavar="MULTIADDR",
                   help=f"address to listen on (repeatable; default {DEFAULT_LISTEN})")
    p.add_argument("--no-mdns", action="store_true", help="no LAN discovery")
    p.add_argument("--relay", action="store_true",
                   help="relay for the team's managers and reps who cannot reach each other "
                        "(run it where teammates can dial this machine)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("relay", help="relay for teammates who cannot reach each other, "
                                     "whenever this profile's node runs (serve or the app)")
    p.add_argument("state", nargs="?", choices=["on", "off"],
                   help="mark this machine (one teammates can dial); without it: show")
    p.set_defaults(func=cmd_relay)

    p = sub.add_parser("sync", help="sync with one peer")
    p.add_argument("--peer", required=True, metavar="MULTIADDR",
                   help="/ip4/HOST/tcp/PORT/p2p/PEERID")
    p.add_argument("--once", action="store_true",
                   help="exit when both hold the same state (else keep syncing until Ctrl-C)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after SECONDS")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("peer", help="known peers: add, list, remove")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add", help="remember a peer by its address")
    a.add_argument("addr", metavar="MULTIADDR", help="/ip4/HOST/tcp/PORT/p2p/PEERID")
    a.add_argument("--name")
    a = actions.add_parser("list")
    a.add_argument("--json", action="store_true", help="print JSON")
    a = actions.add_parser("remove")
    a.add_argument("peer", help="peer id or short id")
    p.set_defaults(func=cmd_peer)
