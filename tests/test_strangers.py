"""Strangers learn nothing and cost nothing: a raw libp2p client against a real ``bullpen serve``.

The stranger is a plain py-libp2p host with a fresh key (no Bullpen code on its side): it
opens every protocol the node speaks, sends what it likes, and reads everything it is sent.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers import until
from helpers_procs import Serve, add_opp, cli, make_profiles, status, titles, wait_for
from libp2p import new_host
from libp2p.crypto.ed25519 import Ed25519PublicKey, create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.custom_types import TProtocol
from libp2p.identity.identify.identify import ID as IDENTIFY
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.utils.varint import encode_uvarint
from multiaddr import Multiaddr

from bullpen.app.members.identity import public_from_peer_id
from bullpen.app.workspace import Workspace
from bullpen.sync import framing
from bullpen.sync.gate import HANDSHAKE_TIMEOUT
from bullpen.sync.join import NOT_ACCEPTED
from bullpen.sync.link import REFUSAL

pytestmark = pytest.mark.slow

SYNC = TProtocol("/bullpen/sync/1")
JOIN = TProtocol("/bullpen/join/1")
PING = TProtocol("/ipfs/ping/1.0.0")


@pytest.fixture
def office(tmp_path: Path) -> tuple[Path, Path]:
    dana, eli = make_profiles(tmp_path, ["Dana", "Eli"], title="Acme Sales")
    add_opp(dana, "Initech renewal")
    return dana, eli


def workspace_id_of(home: Path) -> str:
    ws = Workspace.open(home, passphrase="test passphrase")
    try:
        return ws.workspace_id
    finally:
        ws.close()


def secrets_of(home: Path, serve: Serve) -> list[bytes]:
    """What a stranger must never read: the workspace id, title, member names, addresses."""
    port = serve.addr.split("/tcp/")[1].split("/")[0]
    values = [workspace_id_of(home), "Acme Sales", "Dana", "Eli", f"/tcp/{port}"]
    return [v.encode() for v in values]


async def drain(stream: Any, limit: float = 10) -> bytes:
    """Everything the node sends on ``stream`` until it ends it."""
    got = bytearray()
    with trio.move_on_after(limit):
        while True:
            try:
                data = await stream.read(1 << 16)
            except Exception:  # EOF or reset: the node is done with us
                break
            if not data:
                break
            got += data
    return bytes(got)


def stranger_host(**options: Any) -> Any:
    return new_host(key_pair=create_new_key_pair(),
                    connection_config=ConnectionConfig(max_connections_per_peer=1), **options)


def connected(host: Any, peer: ID) -> bool:
    return bool(host.get_network().get_connections(peer))


def run_stranger(addr: str, script: Any, **options: Any) -> Any:
    """Connect a fresh stranger host to ``addr`` and run ``script(host, peer)`` under trio."""
    async def main() -> Any:
        host = stranger_host(**options)
        info = info_from_p2p_addr(Multiaddr(addr))
        async with host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            with trio.fail_after(20):
                await host.connect(info)
            return await script(host, info.peer_id)
    return trio.run(main)


def test_stranger_reads_nothing_of_the_workspace(office: tuple[Path, Path]) -> None:
    dana, _ = office
    workspace_id = workspace_id_of(dana)
    with Serve(dana) as node:
        async def probe(host: Any, peer: ID) -> dict[str, bytes]:
            read: dict[str, bytes] = {}
            for proto in (SYNC, IDENTIFY, PING):
                try:
                    stream = await host.new_stream(peer, [proto])
                except Exception:
                    read[proto] = b""
                    continue
                with trio.move_on_after(2), contextlib.suppress(Exception):
                    await stream.write(b"\x00" * 32)  # reset already, typically
                read[proto] = await drain(stream)
            for key, ws_id in ((JOIN, "0" * 32), ("join, right id", workspace_id)):
                # a made-up secret, with a wrong and with the right workspace id
                stream = await host.new_stream(peer, [JOIN])
                request = {"v": 1, "ws": ws_id, "name": "Mallory", "secret": "A" * 22 + "=="}
                for frame in framing.encode(json.dumps(request).encode()):
                    await stream.write(frame)
                read[key] = await drain(stream)
            return read

        read = run_stranger(node.addr, probe)
        everything = b"".join(read.values())
        for secret in secrets_of(dana, node):
            assert secret not in everything, secret
        assert read[IDENTIFY] == b"" and read[PING] == b""
        assert read[SYNC] == REFUSAL  # the one fixed "not a member" error, nothing else
        # the join answer is the one sentence every unproven request gets
        # (whether it guessed the workspace id or not: no oracle for it)
        for key in (JOIN, "join, right id"):
            (answer,) = framing.Decoder().feed(read[key])
            assert json.loads(answer) == {"ok": False, "error": NOT_ACCEPTED}
        assert "Mallory" not in {p.get("name") for p in status(dana).get("peers", [])}


def test_plaintext_impersonation_of_a_member_is_refused(office: tuple[Path, Path]) -> None:
    """py-libp2p offers plaintext by default, where a peer id is claimed, not proven: the
    node must speak Noise only, or anyone could pose as Eli."""
    dana, eli = office
    ws = Workspace.open(eli, passphrase="test passphrase")
    eli_id = ws.peer_id
    ws.close()
    posing = KeyPair(create_new_key_pair().private_key,
                     Ed25519PublicKey.from_bytes(public_from_peer_id(eli_id)))
    with Serve(dana) as node:
        async def attempt() -> str:
            host = new_host(key_pair=create_new_key_pair(), sec_opt={
                TProtocol(PLAINTEXT_PROTOCOL_ID): InsecureTransport(posing)})
            async with host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]):
                try:
                    with trio.fail_after(20):
                        await host.connect(info_from_p2p_addr(Multiaddr(node.addr)))
                except trio.TooSlowError:
                    raise
                except Exception as exc:
                    return type(exc).__name__
                stream = await host.new_stream(ID.from_base58(node.peer_id), [SYNC])
                return repr(await drain(stream))
        outcome = trio.run(attempt)
        assert "Error" in outcome, outcome  # no connection at all, let alone a hello


def test_silent_stranger_is_hung_up_on_at_the_deadline(office: tuple[Path, Path]) -> None:
    dana, _ = office
    with Serve(dana) as node:
        async def wait_out(host: Any, peer: ID) -> float:
            started = time.monotonic()
            await until(lambda: not connected(host, peer), HANDSHAKE_TIMEOUT + 20,
                        "the node to hang up on the silent stranger", interval=0.1)
            return time.monotonic() - started

        held = run_stranger(node.addr, wait_out)
        assert HANDSHAKE_TIMEOUT - 1 <= held < HANDSHAKE_TIMEOUT + 20
        assert "no proof of membership within" in node.log()


def test_oversize_frames_and_floods_are_refused(office: tuple[Path, Path]) -> None:
    dana, _ = office
    with Serve(dana) as node:
        async def oversize(host: Any, peer: ID) -> bytes:
            stream = await host.new_stream(peer, [JOIN])
            await stream.write(framing.HEADER.pack(1 << 20, 0) + b"x" * 100)
            return await drain(stream)

        assert run_stranger(node.addr, oversize) == b""  # cut off, unanswered
        assert "exceeds the 4096 limit" in node.log()

        async def flood(host: Any, peer: ID) -> None:
            """A raw muxer stream announcing a 1 MiB protocol name (py-libp2p 0.8.1 reads
            multistream names uncapped), then bytes that never finish it."""
            conn = host.get_network().get_connections(peer)[0]
            raw = await conn.muxed_conn.open_stream()
            with trio.move_on_after(HANDSHAKE_TIMEOUT / 2), contextlib.suppress(Exception):
                await raw.write(encode_uvarint(1 << 20))
                while True:
                    await raw.write(b"z" * 8192)

        run_stranger(node.addr, flood)
        wait_for(lambda: "bytes before proving membership" in node.log(), 10,
                 "the node to hang up on the flood")


def test_members_still_sync_beside_strangers(office: tuple[Path, Path]) -> None:
    dana, eli = office
    with Serve(dana) as node, Serve(eli):
        async def idle_streams(host: Any, peer: ID) -> None:
            conn = host.get_network().get_connections(peer)[0]
            with contextlib.suppress(Exception):
                for _ in range(50):  # opened, never negotiated, never used
                    await conn.muxed_conn.open_stream()
                for _ in range(10):  # refused one by one
                    await host.new_stream(peer, [SYNC])

        run_stranger(node.addr, idle_streams)
        add_opp(dana, "After the strangers")
        cli(eli, "peer", "add", node.addr)
        wait_for(lambda: "After the strangers" in titles(eli), 60, "Dana's edit to reach Eli")
        assert "syncing with peer" in node.log()
