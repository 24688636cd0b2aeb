"""Userspace netem: delay, loss and partitions between the torture suite's network namespaces
where the kernel has no ``sch_netem`` (``tc qdisc ... netem``: "Specified qdisc kind is
unknown").

One emulator process (this file, run as a script) owns one TUN device per node. The lab moves
each device into its node's namespace as ``eth0`` with the node's address (10.99.0.x/24), so
every IPv4 packet a node sends to another node comes out of the emulator's descriptor for that
device. The emulator routes it by destination address and

- drops it when source and destination are on different sides of the partition;
- else drops it with probability ``loss``;
- else writes it to the destination's device ``delay`` seconds after reading it, never before
  a packet queued earlier for that destination (order per flow is kept, also when the delay
  changes);

so each direction sees the delay and the loss once (a round trip takes twice the delay).
Anything else (IPv6 router solicitations, unknown addresses) is dropped.

The lab (``TunLinks``) talks to it over stdin/stdout, one line per command, one reply line
(``ok ...`` or ``error ...``): ``add DEV ADDR``, ``del DEV``, ``netem DELAY_S LOSS``,
``cut ADDR...`` (the partition's side B; none: healed), ``stats``. It exits when its stdin
closes, so it never outlives the lab; closing a device's descriptor deletes the device. It
imports nothing from the project: it is started with ``python tunnetem.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
BURST = 64  # packets read from one device per wake-up, so that no device starves the others
COUNTS = ("forwarded", "lost", "cut", "unroutable")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``ip ARGS`` (iproute2); a RuntimeError with its message when it fails and ``check``."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def tun_available() -> str:
    """'' when TUN devices can be made here, else why not."""
    try:
        os.close(os.open("/dev/net/tun", os.O_RDWR))
    except OSError as exc:
        return f"/dev/net/tun: {exc.strerror}"
    return ""


# ----- the emulator process ------------------------------------------------------------------

@dataclass
class Tun:
    name: str
    addr: bytes
    fd: int
    queue: deque = field(default_factory=deque)  # (due, packet), due never decreasing
    side_b: bool = False


class Emulator:
    """Every node's TUN device, the packets on their way and the link settings."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tuns: dict[int, Tun] = {}  # by descriptor
        self.by_addr: dict[bytes, Tun] = {}
        self.delay = 0.0
        self.loss = 0.0
        self.counts = dict.fromkeys(COUNTS, 0)
        self.poller = select.epoll()

    def command(self, line: str) -> str:
        verb, *args = line.split()
        if verb == "add":
            self.add(*args)
        elif verb == "del":
            self.drop(next(t for t in self.tuns.values() if t.name == args[0]))
        elif verb == "netem":
            self.delay, self.loss = float(args[0]), float(args[1])
        elif verb == "cut":
            side_b = {socket.inet_aton(a) for a in args}
            for tun in self.tuns.values():
                tun.side_b = tun.addr in side_b
        elif verb == "stats":
            return "ok " + " ".join(f"{k}={v}" for k, v in self.counts.items())
        else:
            raise ValueError(f"unknown command {verb!r}")
        return "ok"

    def add(self, name: str, addr: str) -> None:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
        except OSError:
            os.close(fd)
            raise
        tun = Tun(name, socket.inet_aton(addr), fd)
        self.tuns[fd] = self.by_addr[tun.addr] = tun
        self.poller.register(fd, select.EPOLLIN)

    def drop(self, tun: Tun) -> None:
        self.poller.unregister(tun.fd)
        os.close(tun.fd)
        del self.tuns[tun.fd]
        if self.by_addr.get(tun.addr) is tun:
            del self.by_addr[tun.addr]

    def receive(self, tun: Tun, now: float) -> None:
        for _ in range(BURST):
            try:
                packet = os.read(tun.fd, 65536)
            except BlockingIOError:
                return
            except OSError:  # the device is gone with its namespace
                self.drop(tun)
                return
            self.route(tun, packet, now)

    def route(self, src: Tun, packet: bytes, now: float) -> None:
        ipv4 = len(packet) >= 20 and packet[0] >> 4 == 4
        dst = self.by_addr.get(packet[16:20]) if ipv4 else None
        if dst is None:
            self.counts["unroutable"] += 1
        elif src.side_b != dst.side_b:
            self.counts["cut"] += 1
        elif self.loss and self.rng.random() < self.loss:
            self.counts["lost"] += 1
        else:
            due = now + self.delay
            if dst.queue:
                due = max(due, dst.queue[-1][0])
            dst.queue.append((due, packet))
            self.counts["forwarded"] += 1

    def deliver(self, now: float) -> float | None:
        """Write every packet that is due; seconds until the next one is (None: none left)."""
        wait = None
        for tun in list(self.tuns.values()):
            queue = tun.queue
            while queue and queue[0][0] <= now:
                with contextlib.suppress(OSError):  # device down or gone: lost, as on a wire
                    os.write(tun.fd, queue.popleft()[1])
            if queue:
                wait = min(wait, queue[0][0] - now) if wait is not None else queue[0][0] - now
        return wait


def main() -> None:
    """Serve the lab's commands on stdin and forward packets until stdin closes."""
    with contextlib.suppress(OSError):
        os.nice(-10)  # a busy machine then adds less to the delay emulated
    emulator = Emulator(random.Random())
    stdin = sys.stdin.fileno()
    emulator.poller.register(stdin, select.EPOLLIN)
    pending = b""
    while True:
        wait = emulator.deliver(time.monotonic())
        for fd, _ in emulator.poller.poll(-1 if wait is None else wait):
            if fd == stdin:
                data = os.read(stdin, 4096)
                if not data:
                    return  # the lab is gone: the devices go with this process
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    try:
                        reply = emulator.command(line.decode())
                    except (OSError, ValueError, StopIteration) as exc:
                        reply = f"error {exc!r}"
                    sys.stdout.write(reply + "\n")
                    sys.stdout.flush()
            elif fd in emulator.tuns:
                emulator.receive(emulator.tuns[fd], time.monotonic())


# ----- the lab's side ------------------------------------------------------------------------

class TunLinks:
    """Nodes linked through the emulator: one TUN device each, moved into its namespace."""

    emulation = "userspace TUN netem"

    def __init__(self, tag: str, delay_s: float, loss: float) -> None:
        self.tag = tag
        self.delay_s, self.loss = delay_s, loss
        self.addrs: dict[int, str] = {}
        self.proc: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)

    def ask(self, line: str) -> str:
        """Send one command; its reply after ``ok``, a RuntimeError for anything else."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("the netem emulator is not running")
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if not reply.startswith("ok"):
            raise RuntimeError(f"netem emulator: {line}: {reply or 'exited'}")
        return reply[2:].strip()

    def attach(self, index: int, ns: str, addr: str) -> None:
        """A device of the emulator's in ``ns``, named ``eth0``."""
        dev = f"bpt{self.tag}t{index}"
        self.ask(f"add {dev} {addr}")
        self.addrs[index] = addr
        ip("link", "set", dev, "netns", ns)
        ip("-n", ns, "link", "set", dev, "name", "eth0")

    def detach(self, index: int) -> None:
        self.ask(f"del bpt{self.tag}t{index}")
        del self.addrs[index]

    def partition(self, side_b: Sequence[int]) -> None:
        self.ask(" ".join(["cut", *(self.addrs[i] for i in side_b)]))

    def netem(self, on: bool) -> None:
        self.ask(f"netem {self.delay_s if on else 0} {self.loss if on else 0}")

    def counts(self) -> dict[str, int]:
        """Packets forwarded, lost, cut by a partition and unroutable, since the start."""
        return {k: int(v) for k, v in (pair.split("=") for pair in self.ask("stats").split())}

    def close(self) -> None:
        """Stop the emulator (its devices vanish with it)."""
        if self.proc is None:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        self.proc = None


if __name__ == "__main__":
    main()
