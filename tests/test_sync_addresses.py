"""Advertised addresses: never 0.0.0.0, and a wildcard listener keeps its port across runs.

Nothing here dials anyone: the nodes only listen (on every interface, as the app does)."""

from __future__ import annotations

import socket
from pathlib import Path

import trio

from bullpen.app.network.node_setup import make_node
from bullpen.app.network.peer_book import kept_addrs
from bullpen.app.workspace import Workspace
from bullpen.sync import addresses

PEER = "/p2p/12D3KooWScMY7dnJAeQtHA5SDwq314up5a6vieAE9R68AETtam5Y"


def test_wildcard_addresses_become_one_per_local_address_loopback_last() -> None:
    local = addresses.local_ipv4()
    assert "127.0.0.1" in local and local[-1].startswith("127.")
    assert "0.0.0.0" not in local
    out = addresses.dialable([f"/ip4/0.0.0.0/tcp/4001{PEER}", f"/ip4/127.0.0.1/tcp/5{PEER}"])
    assert out[:len(local)] == [f"/ip4/{ip}/tcp/4001{PEER}" for ip in local]
    assert out[-1] == f"/ip4/127.0.0.1/tcp/5{PEER}"
    assert not any("0.0.0.0" in a for a in out)


def test_a_saved_port_is_used_only_while_free() -> None:
    listen = ["/ip4/0.0.0.0/tcp/0", "/ip4/127.0.0.1/tcp/0"]
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert addresses.with_kept_port(listen, port) == listen  # busy: the OS picks
    assert addresses.with_kept_port(listen, port) == [f"/ip4/0.0.0.0/tcp/{port}", listen[1]]
    assert addresses.with_kept_port(listen, None) == listen
    assert addresses.with_kept_port(listen, "junk") == listen
    assert addresses.bound_port([f"/ip4/0.0.0.0/tcp/{port}{PEER}"]) == port


def _listen_once(home: Path) -> list[str]:
    ws = Workspace.open(home)
    node = make_node(ws, listen=["/ip4/0.0.0.0/tcp/0"], mdns=False, redial=False,
                     publish=False)
    found: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            started = await nursery.start(node.run)
            found.extend(started)
            assert node.advertised_addrs() == node.listen_addrs
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        ws.close()
    return found


def test_an_all_interfaces_node_advertises_dialable_addresses_on_a_kept_port(
        tmp_path: Path) -> None:
    home = tmp_path / "dana"
    Workspace.create(home, "Dana", "Acme Sales").close()
    first = _listen_once(home)
    assert first and not any("/0.0.0.0/" in a for a in first)
    assert any(a.startswith("/ip4/127.0.0.1/tcp/") for a in first)
    second = _listen_once(home)
    assert second == first  # same port after a restart: remembered addresses still work
    ws = Workspace.open(home)
    try:  # what `bullpen invite` puts in a code while no node runs
        assert kept_addrs(ws) == first
    finally:
        ws.close()
