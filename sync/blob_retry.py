"""Asking peers again for shared files the workspace still lacks.

A shared file is asked for when its record arrives or a peer connects; a peer that did not have
it yet answers "missing" and nothing asked again, so the file never arrived (found by the
torture suite). :class:`BlobRetry` asks every connected peer again while files are missing,
with growing pauses (:data:`BLOB_RETRY`), back to the shortest once none is; and when one peer
says it lacks a file, it asks the others at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from .link import Link
    from .node import Node

log = logging.getLogger("bullpen.sync")

# Pauses between asking connected peers again for files the workspace still lacks (a peer that
# answered "missing" may have it by now, or another one does), growing while any is missing.
BLOB_RETRY = (2.0, 5.0, 15.0, 30.0, 60.0)


class BlobRetry:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._linked = trio.Event()  # set when a link opens

    def link_opened(self) -> None:
        self._linked.set()

    async def run(self) -> None:
        step = 0
        while True:
            if not self.node.links:  # nobody to ask: sleep until someone connects
                self._linked = trio.Event()
                await self._linked.wait()
                step = 0
            await trio.sleep(BLOB_RETRY[min(step, len(BLOB_RETRY) - 1)])
            if not self.node.links:
                continue
            try:
                missing = await trio.to_thread.run_sync(self.node.docs.missing_blobs)
            except Exception as exc:
                log.warning("listing missing files failed: %s", exc)
                continue
            if not missing:
                step = 0
                continue
            step += 1
            for link in list(self.node.links.values()):
                link.session.blobs.ask_again()
                link.poke(blobs=True)

    def ask_others(self, besides: Link) -> None:
        """A peer lacks a file we asked it for: ask the other connected peers now (each
        is asked once until the timed retry), not at the next pause of that retry."""
        for link in list(self.node.links.values()):
            if link is not besides:
                link.poke(blobs=True)
