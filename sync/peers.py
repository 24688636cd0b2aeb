"""What the node knows of a peer (:class:`PeerState`), and how people read peer ids.

Peers are remembered across runs through a :class:`~.ports.PeerBook` (the app keeps them in
its store: ``bullpen.app.network.peer_book``), each address with the time it was last confirmed (see
``addresses.merge_times``). Nothing here imports libp2p: the CLI uses it for quick commands.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .addresses import newest_first

# The node publishes its state (PeerBook.publish) when it changes and at least this often,
# seconds: a state older than a few heartbeats is a node that is gone (see the peer book).
HEARTBEAT = 30.0


def short_id(peer_id: str) -> str:
    """A readable short form for people: the last 6 characters, like git's short hashes."""
    return peer_id[-6:]


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
