"""Known peers and the running node's view of them, kept in the workspace store.

:class:`StorePeerBook` is the sync node's :class:`~bullpen.sync.ports.PeerBook`. The ``peers``
table remembers whom to redial (``bullpen peer add``, or a member who synced with us), each
address with the time it was last confirmed (see ``addresses.merge_times``: every writer
merges, so an older address never overwrites a newer one, and a running node reads the table
again when another process writes to the store, so it picks up ``peer add`` at once); the
running node also publishes its live per-peer state under the ``sync_node`` meta key when it
changes, so a separate ``bullpen status`` process can show it. Whether that node still runs is
asked of the system by its process id where it can be (POSIX); the published state's age
(:data:`STALE_AFTER`, a few of the node's rare heartbeats) is the answer elsewhere, and the
backstop when a process id was reused. Nothing here imports libp2p: these helpers serve quick
CLI commands.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from typing import Any

from bullpen.app.members.identity import public_from_peer_id
from bullpen.app.workspace import Workspace
from bullpen.sync.addresses import PORT_KEY, WILDCARD, dialable, merge_times
from bullpen.sync.peers import HEARTBEAT, PeerState

NODE_META = "sync_node"
STALE_AFTER = 3 * HEARTBEAT  # older published state means the node is gone


class PeerAddrError(ValueError):
    """A peer address that is not ``/ip4|ip6|dns.../tcp/PORT/p2p/PEERID``."""


def split_p2p_addr(addr: str) -> tuple[str, str]:
    """(peer id, the whole address) of a multiaddr that ends in ``/p2p/PEERID``."""
    head, sep, peer_id = addr.strip().rpartition("/p2p/")
    if not sep or not head.startswith("/") or "/" in peer_id:
        raise PeerAddrError(
            f"{addr!r} is not a peer address: expected /ip4/HOST/tcp/PORT/p2p/PEERID"
        )
    try:
        public_from_peer_id(peer_id)
        from multiaddr import Multiaddr

        Multiaddr(addr.strip())
    except ValueError as exc:
        raise PeerAddrError(f"{addr!r} is not a peer address: {exc}") from None
    except Exception as exc:  # multiaddr raises its own error types
        raise PeerAddrError(f"{addr!r} is not a valid multiaddr: {exc}") from None
    return peer_id, addr.strip()


def _times(raw: str | None) -> dict[str, float]:
    """The stored address column: {addr: time}; a list (older stores) counts as never
    confirmed, so any dated address comes first."""
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {}
    if isinstance(parsed, list):
        return {a: 0.0 for a in parsed if isinstance(a, str)}
    if isinstance(parsed, dict):
        return {a: float(t) for a, t in parsed.items()
                if isinstance(a, str) and isinstance(t, int | float)}
    return {}


class StorePeerBook:
    """The peers table and the node's published state in ``ws``'s store."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def known(self) -> dict[str, PeerState]:
        with self.ws.lock:
            rows = self.ws.store.db.execute(
                "SELECT peer_id, addrs, name, last_seen FROM peers ORDER BY peer_id"
            ).fetchall()
        out = {}
        for peer_id, addrs, name, last_seen in rows:
            seen = float(last_seen) if last_seen not in (None, "") else None
            state = out[peer_id] = PeerState(peer_id, name or "", last_seen=seen)
            state.set_times(_times(addrs))
        return out

    def remember(self, peer_id: str, times: dict[str, float], name: str = "") -> None:
        """Insert or update a peer, merging ``times`` into its addresses (the newer time
        wins); keeps a known name when none is given."""
        db = self.ws.store.db
        with self.ws.lock, self.ws.store.transaction():
            row = db.execute("SELECT addrs FROM peers WHERE peer_id = ?", [peer_id]).fetchone()
            merged = merge_times(_times(row[0]) if row else {}, times)
            db.execute(
                "INSERT INTO peers (peer_id, addrs, name) VALUES (?, ?, ?) ON CONFLICT(peer_id) "
                "DO UPDATE SET addrs = excluded.addrs, "
                "name = CASE WHEN excluded.name = '' THEN name ELSE excluded.name END",
                [peer_id, json.dumps(merged), name],
            )

    def forget(self, peer_ids: list[str]) -> None:
        with self.ws.lock, self.ws.store.transaction():
            for peer_id in peer_ids:
                self.ws.store.db.execute("DELETE FROM peers WHERE peer_id = ?", [peer_id])

    def save_seen(self, states: list[PeerState]) -> None:
        """Update last-seen and names of peers still in the table (a removed one stays gone).
        Addresses are not written here: they go through :meth:`remember`, which merges."""
        with self.ws.lock, self.ws.store.transaction():
            for s in states:
                self.ws.store.db.execute(
                    "UPDATE peers SET last_seen = ?, name = CASE WHEN ? = '' THEN name ELSE ? "
                    "END WHERE peer_id = ?", [s.last_seen, s.name, s.name, s.peer_id],
                )

    def publish(self, listen: list[str], states: list[PeerState]) -> None:
        data = {"pid": os.getpid(), "at": time.time(), "listen": listen,
                "peers": [asdict(s) for s in states]}
        with self.ws.lock, self.ws.store.transaction():
            self.ws.store.set_meta(NODE_META, json.dumps(data))

    def unpublish(self) -> None:
        with self.ws.lock, self.ws.store.transaction():
            self.ws.store.db.execute("DELETE FROM meta WHERE key = ?", [NODE_META])

    def kept_port(self) -> str | None:
        with self.ws.lock:
            return self.ws.store.get_meta(PORT_KEY)

    def keep_port(self, port: str) -> None:
        with self.ws.lock, self.ws.store.transaction():
            self.ws.store.set_meta(PORT_KEY, port)


# ----- the CLI's peer commands ------------------------------------------------------------------


def add_peer(ws: Workspace, addr: str, name: str = "") -> str:
    """``bullpen peer add``: remember a peer by its full address (the newest one now, so a
    running node dials it first); returns its peer id."""
    peer_id, addr = split_p2p_addr(addr)
    if peer_id == ws.peer_id:
        raise PeerAddrError("that address is this profile itself")
    StorePeerBook(ws).remember(peer_id, {addr: time.time()}, name)
    return peer_id


def remove_peer(ws: Workspace, peer: str) -> str | None:
    """Forget a peer given by its id or short id; returns the full id removed."""
    book = StorePeerBook(ws)
    matches = [p for p in book.known() if p == peer or p.endswith(peer)]
    if len(matches) != 1:
        return None
    book.forget(matches)
    return matches[0]


def node_info(ws: Workspace) -> dict[str, Any] | None:
    """The running node's published state, or None when no node runs on this profile."""
    with ws.lock:
        raw = ws.store.get_meta(NODE_META)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if time.time() - float(data.get("at", 0)) > STALE_AFTER or not _alive(data.get("pid")):
        return None
    return data


def _alive(pid: object) -> bool:
    """Does process ``pid`` run (on POSIX; elsewhere assumed, the state's age decides)? A node
    killed without stopping cannot unpublish its state."""
    if os.name != "posix" or not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process took the id: ours is gone
        return False
    return True


def peer_status(ws: Workspace) -> list[dict[str, Any]]:
    """Every known or connected peer as JSON-ready dicts, for ``bullpen status``."""
    peers = StorePeerBook(ws).known()
    info = node_info(ws)
    for raw in (info or {}).get("peers", []):
        try:
            live = PeerState(**raw)
        except TypeError:  # published by a node of another version
            continue
        known = peers.get(live.peer_id)
        if known is not None:
            live.name = live.name or known.name
            live.addrs = live.addrs or known.addrs
            live.last_seen = live.last_seen or known.last_seen
        peers[live.peer_id] = live
    return [p.to_json() for p in sorted(peers.values(), key=lambda p: (p.name, p.peer_id))]


def kept_addrs(ws: Workspace) -> list[str]:
    """Where this profile's node will listen when it next runs (the port it keeps), as
    addresses others can dial; empty before its first run."""
    port = ws.store.get_meta(PORT_KEY)
    if not port:
        return []
    return dialable([f"{WILDCARD}tcp/{port}/p2p/{ws.peer_id}"])
