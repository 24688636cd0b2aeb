"""Making the sync node for this workspace: the one place the app layer configures it.

The node reaches the workspace only through the ports sync/ defines (``bullpen.sync.ports``,
``bullpen.sync.session.DocPort``); this module plugs in the app's adapters: the workspace
itself (who we are, local changes), :class:`~.sync_docs.WorkspaceDocs` (documents and files),
:class:`~.peer_book.StorePeerBook` (remembered peers) and :class:`~.guests.RoomAdmission`
(invites; a guest invited to a deal room is let into it).
Every node (``bullpen serve``, ``bullpen sync``, the desktop app, demo teammates, a newcomer
joining) gets the members-only access policy unless the caller passes another, so no caller can
start a node that syncs with strangers by forgetting an argument. libp2p is imported only when
a node is made.
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


def make_node(
    ws: Workspace,
    *,
    listen: Sequence[str],
    mdns: bool = False,
    policy: Policy | None = None,
    **options: Any,
) -> Any:
    from bullpen.sync.node import Node

    policy = policy or AccessPolicy(ws)
    return Node(ws, WorkspaceDocs(ws, policy), StorePeerBook(ws), RoomAdmission(ws),
                policy=policy, listen=listen, mdns=mdns, **options)


def __getattr__(name: str) -> Any:
    """``DialError`` (a peer could not be reached) for the presentations, which never import
    sync/; looked up only when asked for, as libp2p is imported only when a node is made."""
    if name == "DialError":
        from bullpen.sync.dialer import DialError

        return DialError
    raise AttributeError(name)
