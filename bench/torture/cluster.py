"""The torture suite's real processes: ``bullpen --home DIR ...`` commands and ``bullpen serve``
nodes that are started, killed with SIGKILL and restarted on the same or a new port.

Every command a node runs goes through ``Cluster.cli``, which writes it to the run's journal
(``journal.log``: round, node, command, exit status, time, first line of stderr), so a failure
can be replayed by reading what happened in order.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from helpers_procs import Serve, command, env  # noqa: E402

from .netlab import Loopback, NetnsLab  # noqa: E402

Net = Loopback | NetnsLab


def shown(args: tuple[str, ...]) -> str:
    """A command line for the journal, long arguments (invite codes) shortened."""
    return " ".join(a if len(a) <= 60 else f"{a[:16]}...{a[-8:]}" for a in args)


@dataclass(eq=False)
class Node:
    """One member's profile and, while it runs, its ``bullpen serve`` process."""

    index: int
    name: str
    home: Path
    peer_id: str = ""
    role: str = "rep"
    removed: bool = False
    serve: Serve | None = None
    port: int = 0  # the port it last listened on
    logs: list[Path] = field(default_factory=list)
    moved: int = 0  # restarts on a new port
    max_rss_mb: float = 0.0

    @property
    def running(self) -> bool:
        return self.serve is not None and self.serve.proc.poll() is None

    @property
    def addr(self) -> str:
        return self.serve.addr if self.serve else ""

    @property
    def short(self) -> str:
        return self.peer_id[-6:]

    def rss_mb(self) -> float:
        """Resident memory of the running node (and the peak seen), in MB."""
        if not self.running:
            return 0.0
        try:
            rss = psutil.Process(self.serve.proc.pid).memory_info().rss / 1e6
        except psutil.Error:
            return 0.0
        self.max_rss_mb = max(self.max_rss_mb, rss)
        return rss

    def __str__(self) -> str:
        return f"{self.name}#{self.index}"


class Cluster:
    """The nodes of one run, their network and the journal of every command."""

    def __init__(self, root: Path, net: Net) -> None:
        self.root = root
        self.net = net
        self.nodes: list[Node] = []
        self.round = 0
        self.journal = (root / "journal.log").open("a")

    def note(self, text: str) -> None:
        self.journal.write(f"[{self.round:4d}] {text}\n")
        self.journal.flush()

    def new_node(self, name: str) -> Node:
        node = Node(len(self.nodes), name, self.root / name.lower())
        self.net.add(node.index)
        self.nodes.append(node)
        return node

    def cli(self, node: Node, *args: str, network: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess:
        """``bullpen --home DIR args`` as the user would type it (inside the node's network
        namespace when it needs the network); journaled with its outcome."""
        prefix = self.net.prefix(node.index) if network else []
        start = time.monotonic()
        try:
            proc = subprocess.run([*prefix, *command(node.home, *args)], capture_output=True,
                                  text=True, env=env(), timeout=timeout)
        except subprocess.TimeoutExpired:
            proc = subprocess.CompletedProcess(args, 124, "", f"timed out after {timeout:g} s")
        err = proc.stderr.strip().splitlines()
        self.note(f"{node} $ bullpen {shown(args)} -> {proc.returncode} "
                  f"({time.monotonic() - start:.2f} s){': ' + err[-1] if err else ''}")
        return proc

    def start(self, node: Node, port: int = 0) -> bool:
        """Start ``bullpen serve`` on ``port`` (0: a new one); False when it did not start
        (the old port taken meanwhile, reported in the journal)."""
        listen = f"/ip4/{self.net.host(node.index)}/tcp/{port}"
        try:
            node.serve = Serve(node.home, listen=listen, prefix=self.net.prefix(node.index))
        except AssertionError as exc:
            node.serve = None
            self.note(f"{node} serve --listen {listen} failed: {str(exc)[-300:]}")
            return False
        node.logs.append(node.serve.log_path)
        new_port = int(node.addr.split("/tcp/")[1].split("/")[0])
        node.moved += bool(node.port and new_port != node.port)
        node.port = new_port
        node.peer_id = node.serve.peer_id
        self.note(f"{node} serve up at {node.addr}")
        return True

    def kill(self, node: Node) -> None:
        """SIGKILL: no goodbye, no final save."""
        if node.serve is not None:
            node.rss_mb()
            node.serve.kill()
            node.serve.stop()
            node.serve = None
            self.note(f"{node} killed -9")

    def members(self) -> list[Node]:
        """Nodes that are members now (joined, not removed)."""
        return [n for n in self.nodes if n.peer_id and not n.removed]

    def running_members(self) -> list[Node]:
        return [n for n in self.members() if n.running]

    def close(self) -> None:
        for node in self.nodes:
            self.kill(node)
        self.net.close()
        self.journal.close()
