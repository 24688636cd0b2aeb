"""Teammates who cannot reach each other sync through a member that relays, with real
``bullpen serve`` processes in network namespaces.

Three namespaces: Ann (A) and Bob (B) each have one veth to the relay's namespace (R), on two
subnets, and no route to each other (R does not forward). R runs ``bullpen serve --relay``; A
and B are told only R's address (``peer add``). Bob keeps a reservation on R, R tells Ann where
Bob is reachable (``/p2p/R/p2p-circuit/p2p/B``) and Ann dials Bob through R: a deal Ann adds
reaches Bob, over a Noise connection between Ann and Bob that R only forwards. Namespaces and
addresses (10.98.x.0/24) exist only for the test. Skipped where ``ip netns add`` is not
permitted.

Figures (printed with ``-s``; README "Relays"): from telling both where R is to their relayed
link, a deal's time from Ann's store to Bob's, and the bytes R relayed. Cat, on Ann's side,
syncs once with Bob at his relayed address given by hand (``bullpen sync --peer ... --once``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers_procs import PASSPHRASE, Serve, cli, make_profiles, status, wait_for  # noqa: E402

from bullpen.app.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.netns, pytest.mark.timeout(300)]

PORTS = {"a": 4001, "b": 4002, "r": 4003}


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


class Lab:
    """A -- R -- B: 10.98.1.0/24 between A and R, 10.98.2.0/24 between R and B."""

    def __init__(self, tag: str) -> None:
        self.ns = {side: f"bprl{side}{tag}" for side in "arb"}
        self.created: list[str] = []

    def setup(self) -> None:
        for ns in self.ns.values():
            ip("netns", "add", ns)
            self.created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for subnet, side in ((1, "a"), (2, "b")):
            ip("-n", self.ns["r"], "link", "add", f"eth{side}", "type", "veth",
               "peer", "name", "eth0", "netns", self.ns[side])
            ip("-n", self.ns["r"], "addr", "add", f"10.98.{subnet}.1/24", "dev", f"eth{side}")
            ip("-n", self.ns["r"], "link", "set", f"eth{side}", "up")
            ip("-n", self.ns[side], "addr", "add", f"10.98.{subnet}.2/24", "dev", "eth0")
            ip("-n", self.ns[side], "link", "set", "eth0", "up")

    def prefix(self, side: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[side]]

    def reaches(self, src: str, dst_ip: str) -> bool:
        """Can ``src`` open a TCP connection towards ``dst_ip`` (anything but "unreachable")?"""
        probe = subprocess.run(
            [*self.prefix(src), sys.executable, "-c",
             "import socket,sys\ns=socket.socket();s.settimeout(2)\n"
             f"try: s.connect(('{dst_ip}', 9))\n"
             "except ConnectionRefusedError: sys.exit(0)\n"
             "except OSError: sys.exit(1)"], capture_output=True, timeout=30)
        return probe.returncode == 0

    def teardown(self) -> None:
        for ns in reversed(self.created):
            ip("netns", "del", ns, check=False)


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns add)")
    lab = Lab(uuid.uuid4().hex[:6])
    probe = ip("netns", "add", lab.ns["r"], check=False)
    if probe.returncode != 0:
        pytest.skip(f"ip netns add is not permitted here: {probe.stderr.strip()}")
    ip("netns", "del", lab.ns["r"], check=False)
    try:
        lab.setup()
        yield lab
    finally:
        lab.teardown()


def connected(home: Path, peer_id: str) -> bool:
    return any(p["peer_id"] == peer_id and p["connected"] for p in status(home)["peers"])


def titles_of(home: Path) -> set[str]:
    ws = Workspace.open(home, passphrase=PASSPHRASE)
    try:
        return titles(ws)
    finally:
        ws.close()


def titles(ws: Workspace) -> set[str]:
    ws.refresh()
    return {o["title"] for o in ws.list("opportunity")}


def test_a_deal_reaches_a_teammate_through_a_relaying_member(tmp_path: Path, lab: Lab) -> None:
    assert lab.reaches("a", "10.98.1.1") and lab.reaches("b", "10.98.2.1")
    assert not lab.reaches("a", "10.98.2.2") and not lab.reaches("b", "10.98.1.2")
    ann, rel, bob, cat = make_profiles(tmp_path, ["Ann", "Rel", "Bob", "Cat"])
    serves: dict[str, Serve] = {}
    try:
        serves["r"] = Serve(rel, "--relay", listen=f"/ip4/0.0.0.0/tcp/{PORTS['r']}",
                            prefix=lab.prefix("r"))
        for side, home in (("a", ann), ("b", bob)):
            serves[side] = Serve(home, listen=f"/ip4/0.0.0.0/tcp/{PORTS[side]}",
                                 prefix=lab.prefix(side))
        relay_id = serves["r"].peer_id
        told = time.monotonic()
        cli(ann, "peer", "add", f"/ip4/10.98.1.1/tcp/{PORTS['r']}/p2p/{relay_id}")
        cli(bob, "peer", "add", f"/ip4/10.98.2.1/tcp/{PORTS['r']}/p2p/{relay_id}")
        bob_id = serves["b"].peer_id
        wait_for(lambda: connected(ann, bob_id), 60, "Ann and Bob to connect through the relay")
        first_sync = time.monotonic() - told
        relayed = [p for p in status(ann)["peers"] if p["peer_id"] == bob_id][0]["addrs"]
        assert f"/p2p/{relay_id}/p2p-circuit/p2p/{bob_id}" in relayed

        writer = Workspace.open(ann, passphrase=PASSPHRASE)
        reader = Workspace.open(bob, passphrase=PASSPHRASE)
        try:
            latencies = []
            for n in range(6):  # the first warms the reader up (not counted)
                writer.add("opportunity", {"account": "Acme", "title": f"relayed {n}",
                                           "amount": 1000, "stage": "proposal",
                                           "close_date": "2026-12-15"})
                written = time.monotonic()
                wait_for(lambda n=n: f"relayed {n}" in titles(reader), 30,
                         "the deal to reach Bob", interval=0.01)
                latencies.append(time.monotonic() - written)
            latencies = sorted(latencies[1:])
        finally:
            writer.close()
            reader.close()
        # Cat, on Ann's side and given Bob's relayed address by hand, syncs with him once
        relayed_addr = f"/ip4/10.98.1.1/tcp/{PORTS['r']}/p2p/{relay_id}/p2p-circuit/p2p/{bob_id}"
        once = cli(cat, "sync", "--peer", relayed_addr, "--once", "--timeout", "60",
                   prefix=lab.prefix("a"))
        assert f"in sync with {bob_id}" in once.stdout
        assert {"relayed 0", "relayed 5"} <= titles_of(cat)
        serves["b"].stop()  # R logs what each circuit carried when it closes
        wait_for(lambda: serves["r"].log().count("opening") == serves["r"].log().count(
            "bytes relayed"), 30, "every circuit to close")
        carried = [int(n) for n in re.findall(r"(\d+) bytes relayed", serves["r"].log())]
        assert "relay: reservation for" in serves["r"].log()
        assert sum(carried) > 0
        print(f"\nrelay netns: `peer add` of R to Ann and Bob connected through R "
              f"{first_sync:.2f} s; "
              f"deal to Bob median {latencies[2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f}"
              f" ms; R relayed {sum(carried)} bytes in {len(carried)} circuit(s)")
    finally:
        for serve in serves.values():
            serve.kill()
