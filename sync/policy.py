"""Who may sync, and which documents they see: the one place membership plugs in later.

Every session asks this object before it accepts a peer and before it sends or accepts any
document, so guest access or member removal (a later issue) changes only this module.
This base class admits every peer of the same workspace to everything (the sans-I/O tests use
it); ``bullpen.app.access.AccessPolicy`` answers from the verified membership log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .messages import ProtocolError


class RefusedChanges(ProtocolError):
    """A message carries changes whose author the policy refuses. Coming from a peer that is
    itself allowed, this is no attack: it relays what it accepted before it learned of a
    removal. The session leaves that document alone (nothing of the message is applied) and
    keeps syncing the others, instead of dropping the whole connection."""


class Policy:
    def is_allowed(self, peer_id: str) -> bool:
        """May ``peer_id`` (already proven by the Noise handshake) sync with us at all?"""
        return True

    def docs_visible_to(self, peer_id: str, doc_ids: Iterable[str]) -> set[str]:
        """The subset of ``doc_ids`` that ``peer_id`` may receive and write."""
        return set(doc_ids)

    def refused_changes(self, doc_id: str, changes: Iterable[Any]) -> list[tuple[Any, str]]:
        """Received automerge changes that must not be applied, each with the reason."""
        return []

    def refused_content(
        self, doc_id: str, doc: Any, changes: Iterable[Any]
    ) -> list[tuple[Any, str]]:
        """Of ``changes``, already applied to ``doc`` but not yet stored, those whose effect
        (what they wrote, not only who wrote them) must be refused."""
        return []

    def blob_visible(self, peer_id: str, sha256: str) -> bool:
        """May ``peer_id`` receive the shared file with this content hash?"""
        return True
