"""`bullpen demo`'s office: simulated teammates are real peers whose changes arrive by sync."""

from __future__ import annotations

import pytest
import trio
from helpers import until

from bullpen.app.demo.runner import prepare_office
from bullpen.app.workspace import Workspace


@pytest.mark.slow
def test_simulated_teammates_change_things_over_libp2p(tmp_path):
    from bullpen.app.network.node_setup import make_node

    office = prepare_office(tmp_path / "office", opportunities=12)
    try:
        addrs = office.start_teammates(interval=0.3)
        assert len(addrs) == 3 and all("/p2p/" in a for a in addrs)
        ws = Workspace.open(office.home, passphrase=office.passphrase)
        assert len(ws.members()) == 4
        remote_changes = []
        ws.subscribe(lambda change: change.remote and remote_changes.append(change))
        node = make_node(ws, listen=["/ip4/127.0.0.1/tcp/0"], publish=False)

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                await until(lambda: len(remote_changes) >= 3, 30,
                            "three changes from the simulated teammates", interval=0.2)
                nursery.cancel_scope.cancel()

        trio.run(main)
        authors = {ws.get(rid, include_deleted=True)["updated_by"]
                   for c in remote_changes for rid in c.ids if not c.doc_id.startswith("doc:")}
        ws.close()
        assert len(remote_changes) >= 3
        assert authors - {ws.peer_id}, "changes should come from teammates"
    finally:
        office.remove()
    assert not office.root.exists()
