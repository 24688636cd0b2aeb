"""Where the torture suite's nodes live on the network.

``Loopback``: every node on 127.0.0.1 (no partitions). ``NetnsLab``: every node in its own
network namespace with one veth into a hub namespace holding two bridges; a partition moves
some nodes' hub ends onto the second bridge, healing moves them back. ``tc netem`` adds
100 ms delay and 2% loss on both ends of every node's veth when the kernel has ``sch_netem``.
Addresses are 10.99.0.0/24 and exist only inside these namespaces, deleted at the end.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Sequence

NETEM = ("delay", "100ms", "loss", "2%")


class NetUnavailable(RuntimeError):
    """Network namespaces cannot be used here (the reason is the message)."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


class Loopback:
    """All nodes on 127.0.0.1: kill and restart work, partitions do not."""

    partitions = False
    netem_error = "not in netns mode"

    def add(self, index: int) -> None:
        """Nothing to set up for a node on loopback."""

    def host(self, index: int) -> str:
        return "127.0.0.1"

    def prefix(self, index: int) -> list[str]:
        return []

    def close(self) -> None:
        """Nothing to tear down."""


class NetnsLab:
    """One namespace per node around a hub of two bridges; see the module docstring."""

    partitions = True

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise NetUnavailable("network namespaces need root (ip netns add)")
        self.tag = uuid.uuid4().hex[:5]
        self.hub = f"bpth{self.tag}"
        probe = ip("netns", "add", self.hub, check=False)
        if probe.returncode != 0:
            raise NetUnavailable(f"ip netns add is not permitted here: {probe.stderr.strip()}")
        self.spaces = [self.hub]
        self.nodes: list[int] = []
        self.netem_on = False
        try:
            for bridge in ("bra", "brb"):
                self._hub("link", "add", bridge, "type", "bridge")
                self._hub("link", "set", bridge, "up")
            self.netem_error = self._probe_netem()
        except Exception:
            self.close()
            raise

    def _hub(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return ip("-n", self.hub, *args, check=check)

    def _probe_netem(self) -> str:
        """'' when ``tc netem`` works here, else why not (the kernel lacks sch_netem...)."""
        self._hub("link", "add", "nprobe", "type", "veth", "peer", "name", "nprobe2")
        try:
            proc = subprocess.run(["tc", "-n", self.hub, "qdisc", "add", "dev", "nprobe", "root",
                                   "netem", *NETEM], capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            return "tc is not installed"
        finally:
            self._hub("link", "del", "nprobe", check=False)
        return "" if proc.returncode == 0 else f"tc netem: {proc.stderr.strip()}"

    def space(self, index: int) -> str:
        return f"bpt{index}{self.tag}"

    def host(self, index: int) -> str:
        return f"10.99.0.{index + 1}"

    def prefix(self, index: int) -> list[str]:
        return ["ip", "netns", "exec", self.space(index)]

    def add(self, index: int) -> None:
        """A namespace for node ``index`` with its veth on bridge A (and netem if on)."""
        ns = self.space(index)
        ip("netns", "add", ns)
        self.spaces.append(ns)
        self._hub("link", "add", f"h{index}", "type", "veth", "peer", "name", "eth0",
                  "netns", ns)
        self._hub("link", "set", f"h{index}", "master", "bra", "up")
        ip("-n", ns, "addr", "add", f"{self.host(index)}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        self.nodes.append(index)
        if self.netem_on:
            self._netem_one(index, True)

    def partition(self, side_b: Sequence[int]) -> None:
        """Nodes in ``side_b`` reach only each other; the rest only each other."""
        for index in self.nodes:
            bridge = "brb" if index in side_b else "bra"
            self._hub("link", "set", f"h{index}", "master", bridge)

    def heal(self) -> None:
        self.partition(())

    def netem(self, on: bool) -> None:
        """100 ms delay and 2% loss each way on every node's link (no-op without netem)."""
        if self.netem_error or on == self.netem_on:
            return
        self.netem_on = on
        for index in self.nodes:
            self._netem_one(index, on)

    def _netem_one(self, index: int, on: bool) -> None:
        verb = ("replace", "root", "netem", *NETEM) if on else ("del", "root")
        for ns, dev in ((self.hub, f"h{index}"), (self.space(index), "eth0")):
            subprocess.run(["tc", "-n", ns, "qdisc", verb[0], "dev", dev, *verb[1:]],
                           capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        for ns in reversed(self.spaces):
            ip("netns", "del", ns, check=False)
        self.spaces = []
