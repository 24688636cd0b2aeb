"""Who may sync, and which documents they see: the one place membership plugs in later.

Every session asks this object before it accepts a peer and before it sends or accepts any
document, so guest access or member removal (a later issue) changes only this module.
This base class admits every peer of the same workspace to everything (the sans-I/O tests use
it); ``bullpen.app.members.access.AccessPolicy`` answers from the verified membership log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .messages import ProtocolError

ContentJudge = Callable[[Any, list[Any]], list[tuple[Any, str]]]


class RefusedChanges(ProtocolError):
    """A message carries changes whose author the policy refuses. Coming from a peer that is
    itself allowed, this is no attack: it relays what it accepted before it learned of a
    removal. The session leaves that document alone (nothing of the message is applied) and
    keeps syncing the others, instead of dropping the whole connection."""


class Policy:
    def is_allowed(self, peer_id: str) -> bool:
        """May ``peer_id`` (already proven by the Noise handshake) sync with us at all?"""
        return True

    def role(self, peer_id: str) -> str | None:
        """The peer's role ("manager", "rep", "guest"); None for a non-member. Teammates tell
        each other where they reached teammates; guests are told nothing of it."""
        return "rep" if self.is_allowed(peer_id) else None

    def docs_visible_to(self, peer_id: str, doc_ids: Iterable[str]) -> set[str]:
        """The subset of ``doc_ids`` that ``peer_id`` may receive and write."""
        return set(doc_ids)

    def refused_changes(self, doc_id: str, changes: Iterable[Any]) -> list[tuple[Any, str]]:
        """Received automerge changes that must not be applied, each with the reason."""
        return []

    def unsigned(self, doc_id: str, changes: list[Any],
                 offered: dict[tuple[bytes, bytes], bytes],
                 ) -> tuple[list[tuple[Any, str]], list[Any]]:
        """Of received ``changes`` (applied to the document, not yet stored), those no
        signature in ``offered`` ((change hash, signer) -> signature) proves were made by
        their author,
        each with the reason; and the valid signatures, stored with the changes so this peer
        can pass them on. This base class checks nothing."""
        return [], []

    def content_judge(self, doc_id: str) -> ContentJudge:
        """A judge of changes to ``doc_id`` by what they do (not only who made them), asked
        before a message is applied: it judges by the roles of that moment, so a change can
        never vouch for itself (a membership entry in the same message changes nobody's role
        for its own judgement). The judge gets the document with the changes applied but not
        yet stored, and the changes; it returns those refused, each with the reason."""
        return lambda doc, changes: []

    def blob_visible(self, peer_id: str, sha256: str) -> bool:
        """May ``peer_id`` receive the shared file with this content hash?"""
        return True
