"""Making the sync node for this workspace: the one place the app layer configures it.

The node reaches the workspace only through the ports sync/ defines (``bullpen.sync.ports``,
``bullpen.sync.session.DocPort``); this module plugs in the app's adapters: the workspace
itself (who we are, local changes), :class:`~.sync_docs.WorkspaceDocs` (documents and files),
:class:`~.peer_book.StorePeerBook` (remembered peers) and
:class:`~bullpen.app.rooms.guests.RoomAdmission` (invites; a guest invited to a deal room is
let into it).
Every node (``bullpen serve``, ``bullpen sync``, the desktop app, demo teammates, a newcomer
joining) gets the members-only access policy unless the caller passes another, so no caller can
start a node that syncs with strangers by forgetting an argument. libp2p is imported only when
a node is made.

A profile marked to relay (``bullpen relay on``: a machine teammates can dial, such as an
office PC running the app) relays for the team's members whenever its node runs and advertises
itself, as ``bullpen serve --relay`` does (``bullpen.sync.relay``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bullpen.app.members.access import AccessPolicy
from bullpen.app.network.peer_book import StorePeerBook
from bullpen.app.network.sync_docs import WorkspaceDocs
from bullpen.app.rooms.guests import RoomAdmission
from bullpen.app.workspace import Workspace

if TYPE_CHECKING:
    from bullpen.sync.policy import Policy

RELAY_META = "relay"  # store meta: "on" when this profile's node relays for its teammates


def relaying(ws: Workspace) -> bool:
    """Is this profile marked to relay for its teammates (``bullpen relay on``)?"""
    with ws.lock:
        return ws.store.get_meta(RELAY_META) == "on"


def set_relaying(ws: Workspace, on: bool) -> None:
    with ws.lock, ws.store.transaction():
        ws.store.set_meta(RELAY_META, "on" if on else "off")


def make_node(
    ws: Workspace,
    *,
    listen: Sequence[str],
    mdns: bool = False,
    policy: Policy | None = None,
    relay: bool | None = None,
    **options: Any,
) -> Any:
    """The node; ``relay`` None: as the profile is marked, for a node that advertises itself."""
    from bullpen.sync.node import Node

    policy = policy or AccessPolicy(ws)
    if relay is None:
        relay = options.get("advertise", True) and relaying(ws)
    return Node(ws, WorkspaceDocs(ws, policy), StorePeerBook(ws), RoomAdmission(ws),
                policy=policy, listen=listen, mdns=mdns, relay=relay, **options)


def __getattr__(name: str) -> Any:
    """``DialError`` (a peer could not be reached) for the presentations, which never import
    sync/; looked up only when asked for, as libp2p is imported only when a node is made."""
    if name == "DialError":
        from bullpen.sync.dialer import DialError

        return DialError
    raise AttributeError(name)
