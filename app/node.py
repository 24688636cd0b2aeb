"""Making the sync node for this workspace: the one place the app layer configures it.

Every node (``bullpen serve``, ``bullpen sync``, the desktop app, demo teammates, a newcomer
joining) gets the members-only access policy, so no caller can start a node that syncs with
strangers by forgetting an argument. libp2p is imported only when a node is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .access import AccessPolicy
from .workspace import Workspace


def make_node(
    ws: Workspace,
    *,
    listen: Sequence[str],
    mdns: bool = False,
    policy: AccessPolicy | None = None,
    **options: Any,
) -> Any:
    from bullpen.sync.node import Node

    return Node(ws, listen=listen, mdns=mdns, policy=policy or AccessPolicy(ws), **options)
