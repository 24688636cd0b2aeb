"""Logging for the processes that run a sync node (``bullpen serve``, ``join``, the app)."""

from __future__ import annotations

import logging
import os
import sys


def configure_logging(verbose: bool = False, progress: bool = True) -> None:
    """Our own messages at INFO (one line each) on stderr, or from WARNING without
    ``progress`` (a one-shot command that reports its outcome itself: a refusal is one line,
    not the same news twice); libp2p and friends only when they have something serious to
    say, since they log every failed dial of an offline peer."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    level = logging.DEBUG if verbose else logging.INFO if progress else logging.WARNING
    logging.getLogger("bullpen").setLevel(level)
    if not os.environ.get("LIBP2P_DEBUG"):
        # Importing libp2p resets its logger (level WARNING, no handler: Python's last-resort
        # handler then prints its errors raw, e.g. an identify stream a stranger never
        # answered): mute it after that import, not before.
        import libp2p  # noqa: F401

        for noisy in ("libp2p", "multiaddr", "zeroconf", "async_service", "trio-websocket"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
