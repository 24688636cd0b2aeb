"""An idle node does almost nothing, yet notices another process's write at once.

Real workspaces on disk (two openers of one profile stand for the CLI beside ``serve``), a real
node on loopback, real inotify. The idle checks measure a window of time (what a node does
while nothing happens cannot be waited for as a condition); everything else waits on
conditions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from bullpen.app.members.identity import Identity
from bullpen.app.network.node_setup import make_node
from bullpen.app.network.peer_book import NODE_META, StorePeerBook, add_peer, node_info
from bullpen.app.workspace import Workspace
from bullpen.sync.policy import Policy
from bullpen.sync.store_watch import SETTLE, FileNotifier, StoreWatch

pytestmark = pytest.mark.timeout(120)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")

OPP = {"account": "Acme", "title": "from the CLI", "amount": 10, "stage": "proposal",
       "close_date": "2026-12-15"}


@pytest.fixture
def two_openers(tmp_path: Path):
    """The profile as the node opens it, and as a CLI command beside it does."""
    node_side = Workspace.create(tmp_path / "ann", "Ann", "Acme")
    cli_side = Workspace.open(tmp_path / "ann")
    yield node_side, cli_side
    cli_side.close()
    node_side.close()


class CountedLooks:
    """The node's side of the profile, counting how often the store is asked for news."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.looks = 0

    def store_version(self) -> int:
        self.looks += 1
        return self.ws.store_version()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)


@linux_only
def test_store_watch_sleeps_while_idle_and_takes_in_a_write_at_once(two_openers) -> None:
    node_side, cli_side = two_openers
    local = CountedLooks(node_side)
    announced: list[float] = []
    node_side.subscribe(lambda change: announced.append(time.monotonic()))
    foreign: list[float] = []
    watch = StoreWatch(local, lambda: foreign.append(time.monotonic()))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            with trio.fail_after(10):
                while local.looks == 0:  # the first look, at start
                    await trio.sleep(0.01)
            looks = local.looks
            await trio.sleep(1.0)  # the idle window: polling 20 times a second would look 20
            assert local.looks - looks == 0
            # the later writes come while the watch still looks after the one before (its
            # pauses have grown to 0.5 s by then): each must be seen at once all the same
            for i in range(3):
                announced.clear()
                written = time.monotonic()
                await trio.to_thread.run_sync(cli_side.add, "opportunity", OPP)
                with trio.fail_after(10):
                    while not announced:
                        await trio.sleep(0.005)
                assert announced[0] - written < 0.25, f"write {i} was noticed late"
                await trio.sleep(1.5)
            assert foreign
            looks = local.looks
            await trio.sleep(1.0)  # after writes: a few looks while they settle, no polling
            assert local.looks - looks <= len(SETTLE)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert [o["title"] for o in node_side.list("opportunity")] == ["from the CLI"] * 3


@linux_only
def test_file_notifier_wakes_for_the_watched_files_only(tmp_path: Path) -> None:
    watched, other = tmp_path / "store.db-wal", tmp_path / "index.db-wal"

    async def main() -> None:
        notifier = FileNotifier.open([watched])
        assert notifier is not None
        with notifier:
            other.write_bytes(b"x")
            assert not notifier._written(notifier._read())
            watched.write_bytes(b"x")  # created and written
            with trio.fail_after(10):
                await notifier.wait()
            assert not notifier._written(notifier._read())  # nothing more since

    trio.run(main)


def test_idle_node_writes_nothing_and_takes_a_peer_add_at_once(two_openers) -> None:
    node_side, cli_side = two_openers
    node = make_node(node_side, listen=["/ip4/127.0.0.1/tcp/0"], policy=Policy())
    stranger = Identity.generate().peer_id

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            with trio.fail_after(10):
                while await trio.to_thread.run_sync(node_info, cli_side) is None:
                    await trio.sleep(0.02)
            version = await trio.to_thread.run_sync(cli_side.store_version)
            await trio.sleep(1.5)  # the idle window: a heartbeat every second would write
            assert await trio.to_thread.run_sync(cli_side.store_version) == version
            await trio.to_thread.run_sync(
                add_peer, cli_side, f"/ip4/127.0.0.1/tcp/9/p2p/{stranger}")
            with trio.fail_after(3):  # not at the next heartbeat (30 s)
                while stranger not in node.peers:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_published_state_of_a_process_that_is_gone_is_not_shown(two_openers) -> None:
    node_side, cli_side = two_openers
    StorePeerBook(node_side).publish(["/ip4/127.0.0.1/tcp/1"], [])
    assert node_info(cli_side)["listen"] == ["/ip4/127.0.0.1/tcp/1"]  # ours: alive
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    raw = node_side.store.get_meta(NODE_META)
    with node_side.store.transaction():
        node_side.store.set_meta(NODE_META, raw.replace(f'"pid": {os.getpid()}',
                                                        f'"pid": {int(gone.stdout)}'))
    assert node_info(cli_side) is None
