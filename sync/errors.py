"""The error every sync-protocol module raises for bytes a peer should not have sent."""

from __future__ import annotations


class ProtocolError(ValueError):
    """A message that does not decode or breaks the protocol; the peer is disconnected."""
