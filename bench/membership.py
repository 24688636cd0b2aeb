"""Membership benchmark: verifying a 500-entry log, the per-connection membership check, and
what strangers cost a member's node (issue 13).

1. The time to verify (signatures + replay) a membership log of 500 entries (target < 50 ms)
   and the cost of the check a node makes when a peer connects (target < 5 ms): the cached
   verified state answering "is this peer id a current member, with which role".
2. Strangers: two members' ``bullpen serve`` processes (Dana, Eli) on 127.0.0.1 in sync, then
   a separate process runs 10 strangers flooding Dana at once for a while: raw libp2p hosts
   with fresh keys that open idle muxer streams, write 5,000 bare stream openings (raw yamux
   SYN frames), announce an 8 MiB multistream protocol name and send bytes that never finish
   it, announce an 8 MiB join frame, open sync streams, and reconnect under a new key
   whenever they are hung up on. Meanwhile Eli's edits are timed to
   Dana (from just before the write on Eli's profile until Dana's profile lists it). Dana's
   RSS is sampled every 20 ms: the peak rise over the settled level before the flood (target
   < 50 MB), the level after the strangers left, and the edit latency (target < 1 s). After
   the flood a third member (Fay), never connected before, syncs with Dana once.

    python bench/membership.py [--strangers-only] [--seconds S]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import trio

from bullpen.app.members import membership
from bullpen.app.members.identity import Identity
from bullpen.app.members.membership import replay
from bullpen.app.workspace import Workspace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from helpers_procs import PASSPHRASE, Serve, cli, make_profiles  # noqa: E402

from bullpen.sync.gate import HANDSHAKE_TIMEOUT  # noqa: E402

STRANGERS = 10
IDLE_STREAMS = 100
BIG = 8 << 20  # what each stranger announces (a multistream name, a join frame)
EDIT_EVERY = 0.5


def log_figures() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.create(Path(tmp) / "p", "Dana", "Bench", passphrase="bench")
        peers = [Identity.generate().peer_id for _ in range(499)]
        for i, peer in enumerate(peers):
            ws.add_member(peer, "rep" if i % 10 else "guest", f"Member {i}")
        log = ws.membership_log()
        assert len(log) == 500
        verify = []
        for _ in range(7):
            membership._VERIFIED.clear()  # cold: every signature checked again
            started = time.perf_counter()
            state = replay(log, ws.workspace_id)
            verify.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        replay(log, ws.workspace_id)
        warm = (time.perf_counter() - started) * 1000
        assert len(state.members) == 500 and not state.rejected
        checks = []
        for peer in peers[:200]:
            started = time.perf_counter()
            allowed = ws.role(peer) is not None
            checks.append((time.perf_counter() - started) * 1000)
            assert allowed
        ws.close()
    print(f"verify a 500-entry membership log: {statistics.median(verify):7.2f} ms "
          f"(median of {len(verify)}, cold; target < 50 ms)")
    print(f"re-verify after one new entry:      {warm:7.2f} ms (verified entries remembered)")
    print(f"per-connection membership check:  {statistics.median(checks):7.3f} ms "
          f"(median of {len(checks)}; p95 {sorted(checks)[int(len(checks) * .95)]:.3f} ms; "
          f"target < 5 ms)")


# ----- the strangers (run in their own process: ``--flood ADDR SECONDS``) ---------------------

async def flood(addr: str, seconds: float) -> dict[str, int]:
    """Run :data:`STRANGERS` strangers against ``addr`` for ``seconds``; what they achieved."""
    stats = {"connections": 0, "refused": 0, "idle_streams": 0, "bytes_sent": 0}
    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for _ in range(STRANGERS):
                nursery.start_soon(_stranger, addr, stats)
    return stats


async def _stranger(addr: str, stats: dict[str, int]) -> None:
    """One stranger: connect under a fresh key, attack, and again once hung up on."""
    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.network.config import ConnectionConfig
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from multiaddr import Multiaddr

    info = info_from_p2p_addr(Multiaddr(addr))
    while True:
        host = new_host(key_pair=create_new_key_pair(),
                        connection_config=ConnectionConfig(max_connections_per_peer=1))
        try:
            async with host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]):
                with trio.fail_after(10):
                    await host.connect(info)
                stats["connections"] += 1
                await _attack(host, info.peer_id, stats)
        except Exception:
            stats["refused"] += 1
            await trio.sleep(0.05)


async def _attack(host: Any, peer: Any, stats: dict[str, int]) -> None:
    from libp2p.custom_types import TProtocol
    from libp2p.utils.varint import encode_uvarint

    from bullpen.sync import framing

    conn = host.get_network().get_connections(peer)[0]

    async def unfinished_name() -> None:
        stream = await conn.muxed_conn.open_stream()
        await stream.write(encode_uvarint(BIG))
        while True:
            await stream.write(b"z" * 16384)
            stats["bytes_sent"] += 16384

    async def unfinished_frame(protocol: str) -> None:
        stream = await host.new_stream(peer, [TProtocol(protocol)])
        await stream.write(framing.HEADER.pack(BIG, 0))
        while True:
            await stream.write(b"y" * 16384)
            stats["bytes_sent"] += 16384

    async def idle() -> None:
        for _ in range(IDLE_STREAMS):
            await conn.muxed_conn.open_stream()
            stats["idle_streams"] += 1

    async def bare_openings() -> None:  # raw yamux SYN frames, 12 bytes a stream
        syn = b"".join(struct.pack(">BBHII", 0, 1, 1, 100001 + 2 * i, 0) for i in range(5000))
        await conn.muxed_conn.secured_conn.write(syn)
        stats["bytes_sent"] += len(syn)

    async def guarded(task: Any, *args: Any) -> None:
        with contextlib.suppress(Exception):
            await task(*args)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(guarded, idle)
        nursery.start_soon(guarded, bare_openings)
        nursery.start_soon(guarded, unfinished_name)
        nursery.start_soon(guarded, unfinished_frame, "/bullpen/join/1")
        nursery.start_soon(guarded, unfinished_frame, "/bullpen/sync/1")
        while host.get_network().get_connections(peer):
            await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


# ----- the member node under the flood ---------------------------------------------------------

def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler(threading.Thread):
    """Samples a process's RSS every 20 ms while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.running = pid, True
        self.samples: list[float] = []

    def run(self) -> None:
        while self.running:
            self.samples.append(rss_mb(self.pid))
            time.sleep(0.02)


def edit_latency(eli: Workspace, dana: Workspace, title: str, timeout: float = 30) -> float:
    """From just before Eli's write until Dana's profile lists it (seconds)."""
    started = time.monotonic()
    eli.add("opportunity", {"account": "Acme", "title": title, "amount": 1000,
                            "stage": "proposal", "close_date": "2026-12-15"})
    while title not in {o["title"] for o in dana.list("opportunity")}:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{title!r} did not reach Dana in {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - started


def stranger_figures(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dana_home, eli_home, fay_home = make_profiles(Path(tmp), ["Dana", "Eli", "Fay"])
        with Serve(dana_home) as dana_node, Serve(eli_home):
            cli(eli_home, "peer", "add", dana_node.addr)
            dana = Workspace.open(dana_home, passphrase=PASSPHRASE)
            eli = Workspace.open(eli_home, passphrase=PASSPHRASE)
            try:
                quiet = [edit_latency(eli, dana, f"quiet {i}") for i in range(5)]
                time.sleep(2)  # settle
                pid = dana_node.proc.pid
                settled = Sampler(pid)
                settled.start()
                time.sleep(1)
                settled.running = False
                before = statistics.median(settled.samples)
                sampler = Sampler(pid)
                sampler.start()
                flooder = subprocess.Popen(  # libp2p logs every refusal: not shown
                    [sys.executable, __file__, "--flood", dana_node.addr, str(seconds)],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                latencies = []
                while flooder.poll() is None:
                    latencies.append(edit_latency(eli, dana, f"under flood {len(latencies)}"))
                    time.sleep(EDIT_EVERY)
                stats = json.loads(flooder.stdout.read() or "{}")
                sampler.running = False
                sampler.join()
                time.sleep(HANDSHAKE_TIMEOUT + 1)  # every stranger hung up on by now
                after = rss_mb(pid)
                hung_up = dana_node.log().count("hanging up on")
                started = time.monotonic()  # a member never connected before still gets in
                cli(fay_home, "sync", "--peer", dana_node.addr, "--once", "--timeout", "30")
                fay = time.monotonic() - started
            finally:
                dana.close()
                eli.close()
    peak = max(sampler.samples)
    print(f"strangers: {STRANGERS} at once for {seconds:g} s: {stats.get('connections', 0)} "
          f"connections under fresh keys, {stats.get('refused', 0)} refused at connect, "
          f"{stats.get('idle_streams', 0)} idle streams, "
          f"{stats.get('bytes_sent', 0) / 1e6:.1f} MB written; Dana hung up {hung_up} times")
    print(f"Dana's RSS: {before:.1f} MB before, peak {peak:.1f} MB during the flood "
          f"(+{peak - before:.1f} MB; target < 50 MB), {after:.1f} MB after "
          f"(+{after - before:.1f} MB)")
    print(f"after the flood a new member (Fay) synced with Dana in {fay:.2f} s "
          f"(a whole `bullpen sync --once` process)")
    ordered = sorted(latencies)
    print(f"Eli's edit -> visible on Dana: quiet median {statistics.median(quiet) * 1000:.0f} ms; "
          f"under the flood median {statistics.median(latencies) * 1000:.0f} ms, p90 "
          f"{ordered[int(len(ordered) * .9)] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms "
          f"over {len(latencies)} edits (target < 1 s); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strangers-only", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the flood")
    parser.add_argument("--flood", nargs=2, metavar=("ADDR", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        print(json.dumps(trio.run(flood, args.flood[0], float(args.flood[1]))), flush=True)
        return
    if not args.strangers_only:
        log_figures()
    stranger_figures(args.seconds)


if __name__ == "__main__":
    main()
