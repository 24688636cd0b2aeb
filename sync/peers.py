"""Known peers and the running node's view of them, kept in the workspace store.

The ``peers`` table remembers whom to redial (``bullpen peer add``, or a member who synced with
us), each address with the time it was last confirmed (see ``addresses.merge_times``: every
writer merges, so an older address never overwrites a newer one, and a running node picks up
``peer add`` from the table within a heartbeat); the running node also publishes its live
per-peer state under the ``sync_node`` meta key with a heartbeat, so a separate
``bullpen status`` process can show it. Nothing here imports libp2p: these helpers serve quick
CLI commands.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bullpen.app.identity import public_from_peer_id, short_id
from bullpen.app.workspace import Workspace

from .addresses import merge_times, newest_first

NODE_META = "sync_node"
HEARTBEAT = 1.0  # the node publishes at least this often (seconds)
STALE_AFTER = 5.0  # older published state means the node is gone


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


@dataclass
class PeerState:
    """What the app shows about one peer (and ``status --json`` prints)."""

    peer_id: str
    name: str = ""
    addrs: list[str] = field(default_factory=list)  # newest first
    connected: bool = False
    last_seen: float | None = None  # unix time
    docs_behind: int | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    # documents whose changes from this peer are refused, with the reason (a removed
    # member's changes it relays): they stay out of sync with this peer
    refused: dict[str, str] = field(default_factory=dict)
    # documents this peer told us it refuses from us, with its reason
    held_by_peer: dict[str, str] = field(default_factory=dict)
    addr_times: dict[str, float] = field(default_factory=dict)  # address -> last confirmed
    dials: int = 0  # connection attempts this run (a peer that refuses us is not hammered)

    def set_times(self, times: dict[str, float]) -> None:
        self.addr_times = times
        self.addrs = newest_first(times)

    @property
    def short_id(self) -> str:
        return short_id(self.peer_id)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["short_id"] = self.short_id
        data["last_seen"] = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_seen))
            if self.last_seen else None
        )
        return data


# ----- the peers table -----------------------------------------------------------------------


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


def known_peers(ws: Workspace) -> dict[str, PeerState]:
    with ws.lock:
        rows = ws.store.db.execute(
            "SELECT peer_id, addrs, name, last_seen FROM peers ORDER BY peer_id"
        ).fetchall()
    out = {}
    for peer_id, addrs, name, last_seen in rows:
        seen = float(last_seen) if last_seen not in (None, "") else None
        state = out[peer_id] = PeerState(peer_id, name or "", last_seen=seen)
        state.set_times(_times(addrs))
    return out


def remember(ws: Workspace, peer_id: str, times: dict[str, float], name: str = "") -> None:
    """Insert or update a peer, merging ``times`` into its addresses (the newer time wins);
    keeps a known name when none is given."""
    with ws.lock, ws.store.transaction():
        row = ws.store.db.execute("SELECT addrs FROM peers WHERE peer_id = ?",
                                  [peer_id]).fetchone()
        merged = merge_times(_times(row[0]) if row else {}, times)
        ws.store.db.execute(
            "INSERT INTO peers (peer_id, addrs, name) VALUES (?, ?, ?) ON CONFLICT(peer_id) DO "
            "UPDATE SET addrs = excluded.addrs, "
            "name = CASE WHEN excluded.name = '' THEN name ELSE excluded.name END",
            [peer_id, json.dumps(merged), name],
        )


def add_peer(ws: Workspace, addr: str, name: str = "") -> str:
    """``bullpen peer add``: remember a peer by its full address (the newest one now, so a
    running node dials it first); returns its peer id."""
    peer_id, addr = split_p2p_addr(addr)
    if peer_id == ws.peer_id:
        raise PeerAddrError("that address is this profile itself")
    remember(ws, peer_id, {addr: time.time()}, name)
    return peer_id


def remove_peer(ws: Workspace, peer: str) -> str | None:
    """Forget a peer given by its id or short id; returns the full id removed."""
    matches = [p for p in known_peers(ws) if p == peer or p.endswith(peer)]
    if len(matches) != 1:
        return None
    forget(ws, matches)
    return matches[0]


def forget(ws: Workspace, peer_ids: list[str]) -> None:
    with ws.lock, ws.store.transaction():
        for peer_id in peer_ids:
            ws.store.db.execute("DELETE FROM peers WHERE peer_id = ?", [peer_id])


def save_seen(ws: Workspace, states: list[PeerState]) -> None:
    """Update last-seen and names of peers still in the table (a removed one stays gone).
    Addresses are not written here: they go through :func:`remember`, which merges."""
    with ws.lock, ws.store.transaction():
        for s in states:
            ws.store.db.execute(
                "UPDATE peers SET last_seen = ?, name = CASE WHEN ? = '' THEN name ELSE ? "
                "END WHERE peer_id = ?", [s.last_seen, s.name, s.name, s.peer_id],
            )


# ----- the running node's published state ---------------------------------------------------


def publish(ws: Workspace, listen: list[str], states: list[PeerState]) -> None:
    data = {"pid": os.getpid(), "at": time.time(), "listen": listen,
            "peers": [asdict(s) for s in states]}
    with ws.lock, ws.store.transaction():
        ws.store.set_meta(NODE_META, json.dumps(data))


def unpublish(ws: Workspace) -> None:
    with ws.lock, ws.store.transaction():
        ws.store.db.execute("DELETE FROM meta WHERE key = ?", [NODE_META])


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
    if time.time() - float(data.get("at", 0)) > STALE_AFTER:
        return None
    return data


def peer_status(ws: Workspace) -> list[dict[str, Any]]:
    """Every known or connected peer as JSON-ready dicts, for ``bullpen status``."""
    peers = known_peers(ws)
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
