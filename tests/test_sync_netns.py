"""A network partition between four ``bullpen serve`` processes in their own network namespaces.

Each peer lives in a namespace with one veth into a private hub namespace holding two bridges
(left: A, B; right: C, D) joined by a veth "trunk". Setting the trunk down splits the peers 2|2;
setting it up heals the split. Addresses are in 10.99.0.0/24 and exist only inside these
namespaces, which are deleted at the end. Skipped where ``ip netns add`` is not permitted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers_procs import Serve, add_opp, cli, make_profiles, status, titles, wait_for  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.netns, pytest.mark.timeout(300)]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


class Lab:
    def __init__(self, tag: str) -> None:
        self.hub = f"bph{tag}"
        self.peers = [f"bp{n}{tag}" for n in "abcd"]
        self.created: list[str] = []

    def setup(self) -> None:
        for ns in [self.hub, *self.peers]:
            ip("netns", "add", ns)
            self.created.append(ns)
        hub = ("-n", self.hub)
        for bridge in ("brl", "brr"):
            ip(*hub, "link", "add", bridge, "type", "bridge")
            ip(*hub, "link", "set", bridge, "up")
        ip(*hub, "link", "add", "trl", "type", "veth", "peer", "name", "trr")
        ip(*hub, "link", "set", "trl", "master", "brl", "up")
        ip(*hub, "link", "set", "trr", "master", "brr", "up")
        for i, ns in enumerate(self.peers):
            side = "brl" if i < 2 else "brr"
            ip(*hub, "link", "add", f"h{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip(*hub, "link", "set", f"h{i}", "master", side, "up")
            ip("-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    @staticmethod
    def addr(i: int) -> str:
        return f"10.99.0.{i + 1}"

    def prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.peers[i]]

    def trunk(self, up: bool) -> None:
        ip("-n", self.hub, "link", "set", "trl", "up" if up else "down")

    def teardown(self) -> None:
        for ns in reversed(self.created):
            ip("netns", "del", ns, check=False)


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns add)")
    lab = Lab(uuid.uuid4().hex[:6])
    probe = ip("netns", "add", lab.hub, check=False)
    if probe.returncode != 0:
        pytest.skip(f"ip netns add is not permitted here: {probe.stderr.strip()}")
    ip("netns", "del", lab.hub, check=False)
    try:
        lab.setup()
        yield lab
    finally:
        lab.teardown()


def digests(homes: list[Path]) -> list[str]:
    return [status(h)["digest"] for h in homes]


def test_partition_2_2_then_heal_converges(tmp_path: Path, lab: Lab) -> None:
    homes = make_profiles(tmp_path, ["Ann", "Bob", "Cat", "Dan"])
    serves = []
    try:
        for i, home in enumerate(homes):
            serves.append(Serve(home, listen=f"/ip4/{lab.addr(i)}/tcp/4001",
                                prefix=lab.prefix(i)))
        for i, home in enumerate(homes):  # a full mesh of known peers
            for j, other in enumerate(serves):
                if i != j:
                    cli(home, "peer", "add", other.addr)
        add_opp(homes[0], "before split")
        wait_for(lambda: len(set(digests(homes))) == 1, 60, "all four to converge")

        lab.trunk(up=False)
        add_opp(homes[0], "left side")
        add_opp(homes[2], "right side")
        wait_for(lambda: "left side" in titles(homes[1]), 30, "left half to sync")
        wait_for(lambda: "right side" in titles(homes[3]), 30, "right half to sync")
        assert "right side" not in titles(homes[0]) and "left side" not in titles(homes[3])

        lab.trunk(up=True)
        wait_for(lambda: len(set(digests(homes))) == 1, 120, "all four to converge after heal")
        for home in homes:
            assert {"before split", "left side", "right side"} <= titles(home)
    finally:
        for s in serves:
            s.kill()


@pytest.mark.parametrize("wildcard", [False, True], ids=["bound", "all-interfaces"])
def test_mdns_discovery_inside_namespaces(tmp_path: Path, lab: Lab, wildcard: bool) -> None:
    """Two peers on one private segment find each other by mDNS, with no `peer add`; also
    when listening on every interface, as the app does (mDNS must not announce 0.0.0.0)."""
    homes = make_profiles(tmp_path, ["Ann", "Bob"])
    add_opp(homes[0], "found by mdns")
    serves = []
    try:
        for i, home in enumerate(homes):
            host = "0.0.0.0" if wildcard else lab.addr(i)
            serves.append(Serve(home, listen=f"/ip4/{host}/tcp/4001",
                                prefix=lab.prefix(i), mdns=True))
            assert "/0.0.0.0/" not in serves[-1].addr
        wait_for(lambda: "found by mdns" in titles(homes[1]), 60, "discovery and sync")
    finally:
        for s in serves:
            s.kill()
        print(*(s.log() for s in serves))
