"""Two homes behind real NATs (iptables MASQUERADE in network namespaces) sync through a member
that relays on the "public" network, then directly where the NATs allow hole punching.

Five namespaces: the relay R and the two home routers' WAN sides share a public segment
(203.0.113.0/24, a bridge in R's namespace); each home router (NA, NB) masquerades its LAN
(192.168.1.0/24 with Ann, 192.168.2.0/24 with Bob) behind its WAN address and drops what comes
in unasked. Ann and Bob can dial out to R; neither can be dialled from outside, and each
advertises only its private address. Two NAT kinds: "cone" (MASQUERADE keeps a socket's port
whoever it talks to: DCUtR hole punching must move Ann and Bob onto a direct connection) and
"symmetric" (``--random-fully``: a new port per destination, so hole punching fails and they
must stay relayed, and still sync). The public segment adds 25 ms and 0.5% loss each way
(bench/torture's userspace emulator: this kernel has no ``sch_netem``), so Ann's round trip to
Bob through R is 100 ms. Skipped where namespaces or iptables' NAT are missing.

Figures (``-s``; README "Relays"): ``peer add`` to the relayed link, relayed to direct, and a
deal's time from Ann's store to Bob's over the link they end on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers_procs import PASSPHRASE, Serve, cli, make_profiles, status, wait_for  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from torture.tunnetem import TunLinks, tun_available  # noqa: E402

from bullpen.app.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.netns, pytest.mark.timeout(300)]

RELAY_IP = "203.0.113.1"
PORT = 4001
DELAY, LOSS = 0.025, 0.005  # each way on the public segment: 50 ms and ~1% per round trip


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


class NatLab:
    """R on the public segment; home h (a, b) behind router n{h} with WAN 203.0.113.{2,3}."""

    def __init__(self, tag: str, symmetric: bool) -> None:
        self.ns = {name: f"bpn{name}{tag}" for name in ("r", "na", "nb", "a", "b")}
        self.symmetric = symmetric
        self.tag = tag
        self.links: TunLinks | None = None  # the emulator of the public segment, if used
        self.created: list[str] = []

    def setup(self) -> None:
        for ns in self.ns.values():
            run("ip", "netns", "add", ns)
            self.created.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        self._public_segment()
        for n, home in ((2, "a"), (3, "b")):
            router, lan = self.ns[f"n{home}"], f"192.168.{n - 1}"
            run("ip", "-n", router, "link", "add", "lan", "type", "veth",
                "peer", "name", "eth0", "netns", self.ns[home])
            run("ip", "-n", router, "addr", "add", f"{lan}.1/24", "dev", "lan")
            run("ip", "-n", router, "link", "set", "lan", "up")
            run("ip", "-n", self.ns[home], "addr", "add", f"{lan}.2/24", "dev", "eth0")
            run("ip", "-n", self.ns[home], "link", "set", "eth0", "up")
            run("ip", "-n", self.ns[home], "route", "add", "default", "via", f"{lan}.1")
            run("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            run("ip", "netns", "exec", router, "iptables", "-t", "nat", "-A", "POSTROUTING",
                "-o", "wan", "-j", "MASQUERADE", *(["--random-fully"] if self.symmetric else []))
            # a home router drops what comes from outside unasked (no reset either)
            for chain in ("FORWARD", "INPUT"):
                run("ip", "netns", "exec", router, "iptables", "-A", chain, "-i", "wan", "-m",
                    "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", "DROP")

    def _public_segment(self) -> None:
        """R's ``eth0`` and the routers' ``wan`` on 203.0.113.0/24: through the userspace
        emulator with :data:`DELAY` and :data:`LOSS` each way where TUN devices can be made
        (this kernel has no ``sch_netem``), else a plain bridge in R's namespace."""
        ends = {"r": ("eth0", 1), "na": ("wan", 2), "nb": ("wan", 3)}
        if not tun_available():
            self.links = TunLinks(self.tag, DELAY, LOSS)
            for name, (dev, n) in ends.items():
                self.links.attach(n, self.ns[name], f"203.0.113.{n}")
                run("ip", "-n", self.ns[name], "link", "set", "eth0", "name", dev)
            self.links.netem(True)
        else:
            r = self.ns["r"]
            run("ip", "-n", r, "link", "add", "pub", "type", "bridge")
            run("ip", "-n", r, "link", "set", "pub", "up")
            for name, (dev, _) in ends.items():
                run("ip", "-n", r, "link", "add", f"to{name}", "type", "veth",
                    "peer", "name", dev, "netns", self.ns[name])
                run("ip", "-n", r, "link", "set", f"to{name}", "master", "pub", "up")
        for name, (dev, n) in ends.items():
            run("ip", "-n", self.ns[name], "addr", "add", f"203.0.113.{n}/24", "dev", dev)
            run("ip", "-n", self.ns[name], "link", "set", dev, "up")

    def prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[name]]

    def teardown(self) -> None:
        if self.links is not None:
            self.links.close()
        for ns in reversed(self.created):
            run("ip", "netns", "del", ns, check=False)


@pytest.fixture(params=["cone", "symmetric"])
def nat(request: pytest.FixtureRequest) -> Iterator[NatLab]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns add)")
    if shutil.which("iptables") is None:
        pytest.skip("iptables is not installed")
    lab = NatLab(uuid.uuid4().hex[:6], symmetric=request.param == "symmetric")
    try:
        lab.setup()
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        lab.teardown()
        pytest.skip(f"cannot build the NAT lab here: {getattr(exc, 'stderr', '') or exc}")
    try:
        yield lab
    finally:
        lab.teardown()


def connected(home: Path, peer_id: str) -> bool:
    return any(p["peer_id"] == peer_id and p["connected"] for p in status(home)["peers"])


def titles(ws: Workspace) -> set[str]:
    ws.refresh()
    return {o["title"] for o in ws.list("opportunity")}


def test_two_homes_behind_nats_sync_through_a_relay_then_directly_if_they_can(
        tmp_path: Path, nat: NatLab) -> None:
    ann, rel, bob = make_profiles(tmp_path, ["Ann", "Rel", "Bob"])
    serves: list[Serve] = []
    try:
        relay = Serve(rel, "--relay", listen=f"/ip4/0.0.0.0/tcp/{PORT}", prefix=nat.prefix("r"))
        serves.append(relay)
        for side, home in (("a", ann), ("b", bob)):
            serves.append(Serve(home, listen=f"/ip4/0.0.0.0/tcp/{PORT}", prefix=nat.prefix(side)))
        ann_serve, bob_serve = serves[1:]
        told = time.monotonic()
        for home in (ann, bob):
            cli(home, "peer", "add", f"/ip4/{RELAY_IP}/tcp/{PORT}/p2p/{relay.peer_id}")
        wait_for(lambda: connected(ann, bob_serve.peer_id), 60, "Ann and Bob to connect")
        linked = time.monotonic() - told
        assert "relay: circuit" in relay.log()
        bob_short, logs = bob_serve.peer_id[-6:], (ann_serve.log, bob_serve.log)
        if nat.symmetric:
            wait_for(lambda: any("hole punching" in log() and "failed" in log() for log in logs),
                     120, "hole punching to give up")
            assert not any("leaving the relay" in log() for log in logs)
            upgraded = None
        else:
            wait_for(lambda: f"link to {bob_short} is direct" in ann_serve.log(), 60,
                     "Ann's link to Bob to move onto a direct connection")
            assert "leaving the relay" in ann_serve.log() + bob_serve.log()
            upgraded = time.monotonic() - told - linked
        latency = deal_latency(ann, bob)
        print(f"\nrelay NAT {'symmetric' if nat.symmetric else 'cone'}: `peer add` to Ann-Bob "
              f"linked through R {linked:.2f} s"
              + (f", direct {upgraded:.2f} s later" if upgraded is not None else ", stays relayed")
              + f"; deal to Bob {latency * 1000:.0f} ms")
    finally:
        for serve in serves:
            serve.kill()


def deal_latency(writer_home: Path, reader_home: Path) -> float:
    """Median time of 5 deals from the writer's store to the reader's (after a warm-up)."""
    writer = Workspace.open(writer_home, passphrase=PASSPHRASE)
    reader = Workspace.open(reader_home, passphrase=PASSPHRASE)
    times = []
    try:
        for n in range(6):
            writer.add("opportunity", {"account": "Acme", "title": f"from a hotel {n}",
                                       "amount": 1000, "stage": "proposal",
                                       "close_date": "2026-12-15"})
            written = time.monotonic()
            wait_for(lambda n=n: f"from a hotel {n}" in titles(reader), 30,
                     "the deal to reach Bob", interval=0.01)
            times.append(time.monotonic() - written)
    finally:
        writer.close()
        reader.close()
    return sorted(times[1:])[2]
