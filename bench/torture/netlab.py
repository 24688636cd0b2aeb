"""Where the torture suite's nodes live on the network.

``Loopback``: every node on 127.0.0.1 (no partitions, no delay). ``NetnsLab``: every node in
its own network namespace with one interface, ``eth0``, holding its address in 10.99.0.0/24
(only inside these namespaces). What links the interfaces is one of two designs, chosen at the
start and named in the run's output:

- ``kernel netem`` (``Bridges``), where the kernel has ``sch_netem``: each ``eth0`` is a veth
  whose other end is on one of two bridges in a hub namespace; a partition moves some nodes'
  ends onto the second bridge; ``tc netem`` on each node's ``eth0`` delays and drops what it
  sends;
- ``userspace TUN netem`` (``tunnetem.TunLinks``), where it has not (the usual case here):
  each ``eth0`` is a TUN device of one emulator process, which forwards every packet to its
  destination's device after the delay, drops the lost ones and those crossing a partition.

Either way each direction gets 100 ms and 2% loss once while netem is on (round trip about
200 ms), and a partition cuts both ways. Without either (no ``sch_netem``, no /dev/net/tun),
bridges still partition and the run says that delay and loss were skipped. At the start a
self-check measures what the links do between two probe namespaces: UDP echoes, their median
round trip and loss with netem on, and that a partition cuts them all.

Clean-up: ``close`` stops the emulator (its devices go with it) and deletes every namespace;
the run calls it however it ends. Namespaces and devices are named after the creating
process's id (``bpt<pid hex>...``), so a lab also deletes those left by a process killed
before it could clean up.
"""

from __future__ import annotations

import ctypes
import os
import re
import select
import socket
import statistics
import struct
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .tunnetem import TunLinks, ip, tun_available

DELAY_MS, LOSS_PCT = 100, 2
NETEM = ("delay", f"{DELAY_MS}ms", "loss", f"{LOSS_PCT}%")
PROBES = (250, 251)  # node indices of the self-check's two namespaces
CLONE_NEWNET = 0x40000000


class NetUnavailable(RuntimeError):
    """Network namespaces cannot be used here (the reason is the message)."""


class Loopback:
    """All nodes on 127.0.0.1: kill and restart work, partitions do not."""

    partitions = False
    netem_on = False
    emulation = ""

    def add(self, index: int) -> None:
        """Nothing to set up for a node on loopback."""

    def host(self, index: int) -> str:
        return "127.0.0.1"

    def prefix(self, index: int) -> list[str]:
        return []

    def close(self) -> None:
        """Nothing to tear down."""


class Bridges:
    """Veths onto two bridges in a hub namespace; ``tc netem`` when ``emulation`` is set."""

    def __init__(self, hub: str, netem: bool) -> None:
        self.hub = hub
        self.emulation = "kernel netem" if netem else ""
        self.spaces: dict[int, str] = {}
        for bridge in ("bra", "brb"):
            ip("-n", hub, "link", "add", bridge, "type", "bridge")
            ip("-n", hub, "link", "set", bridge, "up")

    def attach(self, index: int, ns: str, addr: str) -> None:
        ip("-n", self.hub, "link", "add", f"h{index}", "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        ip("-n", self.hub, "link", "set", f"h{index}", "master", "bra", "up")
        self.spaces[index] = ns

    def detach(self, index: int) -> None:
        """Nothing: deleting the namespace deletes both ends of its veth."""
        del self.spaces[index]

    def partition(self, side_b: Sequence[int]) -> None:
        for index in self.spaces:
            bridge = "brb" if index in side_b else "bra"
            ip("-n", self.hub, "link", "set", f"h{index}", "master", bridge)

    def netem(self, on: bool) -> None:
        """Delay and loss on what each node sends (its ``eth0``): once per direction."""
        verb = ("replace", "root", "netem", *NETEM) if on else ("del", "root")
        for ns in self.spaces.values():
            subprocess.run(["tc", "-n", ns, "qdisc", verb[0], "dev", "eth0", *verb[1:]],
                           capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        """Nothing: the lab deletes the hub namespace with the others."""


def kernel_netem(ns: str) -> str:
    """'' when ``tc netem`` works in namespace ``ns``, else why not."""
    ip("-n", ns, "link", "add", "nprobe", "type", "veth", "peer", "name", "nprobe2")
    try:
        proc = subprocess.run(["tc", "-n", ns, "qdisc", "add", "dev", "nprobe", "root", "netem",
                               *NETEM], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "tc is not installed"
    finally:
        ip("-n", ns, "link", "del", "nprobe", check=False)
    return "" if proc.returncode == 0 else f"tc netem: {proc.stderr.strip()}"


def sweep_stale() -> None:
    """Delete namespaces a torture lab left behind when its process was killed."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        found = re.match(r"bpt([0-9a-f]+)[nh]\w*$", line.split(" ")[0])
        if found and not os.path.exists(f"/proc/{int(found.group(1), 16)}"):
            ip("netns", "del", found.group(0), check=False)


@dataclass
class Measured:
    """The self-check's findings (round trips in ms, loss per direction in %)."""

    base_ms: float
    rtt_ms: float | None = None  # with netem on; None without an emulation
    rtt_p95_ms: float | None = None
    loss_pct: float | None = None
    probes: int = 0
    leaked: int = 0  # echoes that crossed a partition (should be none)

    def text(self) -> str:
        on = (f"with netem on median {self.rtt_ms:.0f} ms (p95 {self.rtt_p95_ms:.0f} ms), "
              f"loss {self.loss_pct:.1f}% each way ({self.probes} probes); "
              if self.rtt_ms is not None else "")
        return (f"UDP echo round trip {self.base_ms:.1f} ms with netem off; {on}"
                f"{self.leaked} echoes crossed a partition")

    def problems(self) -> list[str]:
        """What is off by more than chance from the links promised."""
        out = [f"{self.leaked} echoes crossed a partition"] if self.leaked else []
        if self.rtt_ms is not None and not 1.9 * DELAY_MS <= self.rtt_ms <= 3 * DELAY_MS:
            out.append(f"round trip {self.rtt_ms:.0f} ms with netem on, not ~{2 * DELAY_MS}")
        if self.loss_pct is not None and not LOSS_PCT / 4 <= self.loss_pct <= LOSS_PCT * 2.5:
            out.append(f"loss {self.loss_pct:.1f}% each way with netem on, not ~{LOSS_PCT}%")
        return out


class NetnsLab:
    """One namespace per node, linked as the module docstring says."""

    partitions = True

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise NetUnavailable("network namespaces need root (ip netns add)")
        sweep_stale()
        self.tag = f"{os.getpid():x}"
        self.spaces: list[str] = []
        self.netem_on = False
        self.checked: dict[str, int] = {}  # the emulator's counts after the self-check
        hub = f"bpt{self.tag}hub"
        probe = ip("netns", "add", hub, check=False)
        if probe.returncode != 0:
            raise NetUnavailable(f"ip netns add is not permitted here: {probe.stderr.strip()}")
        self.spaces.append(hub)
        try:
            self.kernel_error = kernel_netem(hub)
            self.links: Bridges | TunLinks
            if self.kernel_error and not tun_available():
                self.links = TunLinks(self.tag, DELAY_MS / 1000, LOSS_PCT / 100)
                ip("netns", "del", self.spaces.pop())
            else:
                self.links = Bridges(hub, netem=not self.kernel_error)
            self.emulation = self.links.emulation
            self.netem_error = "" if self.emulation else \
                f"{self.kernel_error}; {tun_available()}"
            self.measured = self.self_check()
            self.checked = self.counts()
        except BaseException:
            self.close()
            raise

    def space(self, index: int) -> str:
        return f"bpt{self.tag}n{index}"

    def host(self, index: int) -> str:
        return f"10.99.0.{index + 1}"

    def prefix(self, index: int) -> list[str]:
        return ["ip", "netns", "exec", self.space(index)]

    def add(self, index: int) -> None:
        """A namespace for node ``index``, linked on the partition's side A."""
        ns = self.space(index)
        ip("netns", "add", ns)
        self.spaces.append(ns)
        self.links.attach(index, ns, self.host(index))
        ip("-n", ns, "addr", "add", f"{self.host(index)}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        if self.netem_on:
            self.links.netem(True)

    def remove(self, index: int) -> None:
        self.links.detach(index)
        ip("netns", "del", self.space(index))
        self.spaces.remove(self.space(index))

    def partition(self, side_b: Sequence[int]) -> None:
        """Nodes in ``side_b`` reach only each other; the rest only each other."""
        self.links.partition(side_b)

    def heal(self) -> None:
        self.partition(())

    def netem(self, on: bool) -> None:
        """100 ms delay and 2% loss each way between every two nodes (no-op without netem)."""
        if self.emulation and on != self.netem_on:
            self.netem_on = on
            self.links.netem(on)

    def self_check(self) -> Measured:
        """UDP echoes between two probe namespaces: netem off, on, and across a partition."""
        for index in PROBES:
            self.add(index)
        try:
            a, b = (socket_in(self.space(i), self.host(i)) for i in PROBES)
            try:
                measured = Measured(statistics.median(echo(a, b, 50, 0.002, 0.5)[0] or [0]))
                if self.emulation:
                    self.netem(True)
                    rtts, lost = echo(a, b, 1000, 0.001, 1.0)
                    self.netem(False)
                    measured.rtt_ms = statistics.median(rtts)
                    measured.rtt_p95_ms = statistics.quantiles(rtts, n=20)[-1]
                    measured.loss_pct = 100 * (1 - ((1000 - lost) / 1000) ** 0.5)
                    measured.probes = 1000
                self.partition(PROBES[1:])
                measured.leaked = len(echo(a, b, 20, 0.005, 0.3)[0])
                self.heal()
            finally:
                a.close()
                b.close()
        finally:
            for index in PROBES:
                self.remove(index)
        return measured

    def counts(self) -> dict[str, int]:
        """The emulator's packet counts since the self-check (empty with kernel links)."""
        if not isinstance(self.links, TunLinks):
            return {}
        return {k: v - self.checked.get(k, 0) for k, v in self.links.counts().items()}

    def close(self) -> None:
        if hasattr(self, "links"):
            self.links.close()
        for ns in reversed(self.spaces):
            ip("netns", "del", ns, check=False)
        self.spaces = []


def socket_in(ns: str, addr: str) -> socket.socket:
    """A UDP socket bound to ``addr`` in namespace ``ns``. It is made in a thread that enters
    the namespace (``setns`` moves only the calling thread); a socket stays in the namespace
    it was made in."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            with open(f"/var/run/netns/{ns}") as handle:
                if ctypes.CDLL(None, use_errno=True).setns(handle.fileno(), CLONE_NEWNET):
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((addr, 0))
            made.append(sock)
        except BaseException as exc:  # handed to the caller's thread
            made.append(exc)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def echo(a: socket.socket, b: socket.socket, count: int, interval: float,
         tail: float) -> tuple[list[float], int]:
    """``b`` sends ``count`` probes to ``a`` every ``interval`` s, ``a`` echoes them; the
    round trips in ms of those back within ``tail`` s after the last, and how many were not."""
    target, rtts = a.getsockname(), []
    sent, next_send, deadline = 0, time.monotonic(), None
    while len(rtts) < count:
        now = time.monotonic()
        if sent < count and now >= next_send:
            b.sendto(struct.pack("!d", now), target)
            sent, next_send = sent + 1, next_send + interval
            deadline = now + tail if sent == count else None
        if deadline is not None and now > deadline:
            break
        wake = next_send if sent < count else deadline
        for sock in select.select([a, b], [], [], max(0.0, wake - now))[0]:
            data, source = sock.recvfrom(64)
            if sock is a:
                a.sendto(data, source)
            else:
                rtts.append(1000 * (time.monotonic() - struct.unpack("!d", data)[0]))
    return rtts, count - len(rtts)
