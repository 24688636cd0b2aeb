"""Noticing what other processes on this profile write (the CLI beside ``bullpen serve``).

A ``bullpen opp add`` while the node runs writes to the same store from another process; the
node must offer that change to its peers as if it were its own. :class:`StoreWatch` makes the
workspace take in such writes (``LocalWorkspace.refresh``), which announces them to the node
like local writes.
"""

from __future__ import annotations

import logging

import trio

from .ports import LocalWorkspace

log = logging.getLogger("bullpen.sync")

POLL_INTERVAL = 0.05


class StoreWatch:
    def __init__(self, local: LocalWorkspace) -> None:
        self.local = local

    async def run(self) -> None:
        """Pick up writes of other processes on this profile, every :data:`POLL_INTERVAL`."""
        while True:
            await trio.sleep(POLL_INTERVAL)
            try:
                await trio.to_thread.run_sync(self.local.refresh)
            except Exception as exc:
                log.warning("reading the store failed: %s", exc)
