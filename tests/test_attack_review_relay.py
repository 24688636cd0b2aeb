"""Attack review (relays): a relayed address names the relay, and whoever supplies it (a
teammate's address exchange, a modified client's, a user's paste) may name a stranger's
machine. Dialling a teammate through it must not tell the stranger anything: not whom we
want to reach (a hop CONNECT names the destination, a teammate). Ann is a real process
(``bullpen sync --peer ADDR --once``); the stranger is a raw libp2p host here that answers
every hop request and records what it was asked."""

from __future__ import annotations

import pytest
import trio
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.relay.circuit_v2.utils import read_delimited_msg, write_delimited_msg
from test_relay_hostile import LOOPBACK, cli, key_of, office

from bullpen.sync.relay import HOP_PROTOCOL

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_a_stranger_relay_is_not_told_whom_we_dial(tmp_path) -> None:
    homes = office(tmp_path)
    bob = str(ID.from_pubkey(key_of(homes["bob"]).public_key))
    asked: list[bytes] = []
    answered: list[str] = []

    async def hop(stream) -> None:
        msg = await read_delimited_msg(stream, HopMessage)
        asked.append(msg.peer.id)
        await write_delimited_msg(stream, HopMessage(type=HopMessage.STATUS,
                                                     status=StatusCode.NO_RESERVATION))
        await stream.close()

    async def main() -> None:
        from libp2p import new_host

        stranger = new_host(key_pair=key_of(None))
        async with stranger.run(listen_addrs=[LOOPBACK]):
            stranger.set_stream_handler(HOP_PROTOCOL, hop)
            addr = f"{stranger.get_addrs()[0]}/p2p-circuit/p2p/{bob}"
            done = await trio.to_thread.run_sync(lambda: cli(
                homes["ann"], "sync", "--peer", addr, "--once", "--timeout", "15",
                check=False))
            answered.append(done.stdout + done.stderr)

    trio.run(main)
    assert asked == [], asked  # the stranger never learnt that Ann looks for Bob
    assert answered and "is no teammate: no circuit through it" in answered[0], answered
    assert "Traceback" not in answered[0]
