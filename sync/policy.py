"""Who may sync, and which documents they see: the one place membership plugs in later.

Every session asks this object before it accepts a peer and before it sends or accepts any
document, so guest access or member removal (a later issue) changes only this module.
For now, the workspace id check in the hello is the whole admission rule: every peer of the
same workspace is allowed and sees every document.
"""

from __future__ import annotations

from collections.abc import Iterable


class Policy:
    def is_allowed(self, peer_id: str) -> bool:
        """May ``peer_id`` (already proven by the Noise handshake) sync with us at all?"""
        return True

    def docs_visible_to(self, peer_id: str, doc_ids: Iterable[str]) -> set[str]:
        """The subset of ``doc_ids`` that ``peer_id`` may receive and write."""
        return set(doc_ids)
