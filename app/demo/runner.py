"""``bullpen demo``: a live demo office with simulated teammates running as real peers.

:func:`prepare_office` builds a fresh demo workspace in a temporary folder (the user is Dana,
the sales manager) plus one profile per simulated teammate, each already holding the workspace.
:meth:`DemoOffice.start_teammates` starts each teammate as its own ``bullpen demo-peer`` process
on loopback: a real sync node that keeps making realistic changes (a deal moves stage, a post
arrives, a document is edited). The user's node (in the desktop app) dials them as known peers,
so what they do arrives over libp2p like a real teammate's work. :meth:`DemoOffice.stop` ends
them; the folder goes away with the office.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bullpen.app.demo.processes import read_listen_address
from bullpen.app.demo.team import TEAM, seed_demo
from bullpen.app.workspace import Workspace

PASSPHRASE_ENV = "BULLPEN_PASSPHRASE"


@dataclass
class DemoOffice:
    root: Path
    home: Path
    passphrase: str
    teammates: list[Path]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, PASSPHRASE_ENV: self.passphrase}

    def start_teammates(self, *, interval: float = 4.0, timeout: float = 30.0) -> list[str]:
        """Start every teammate's node; returns their addresses, already remembered as known
        peers of the user's profile (so the user's node dials them)."""
        from bullpen.app.network import peer_book as peers

        addrs = []
        for home in self.teammates:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bullpen.cli", "--home", str(home), "demo-peer",
                 "--interval", str(interval)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self.env(),
            )
            self.processes.append(proc)
            addrs.append(_read_address(proc, timeout))
        ws = Workspace.open(self.home, passphrase=self.passphrase)
        try:
            for addr, home in zip(addrs, self.teammates, strict=True):
                peers.add_peer(ws, addr, home.name.title())
        finally:
            ws.close()
        return addrs

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.processes.clear()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _read_address(proc: subprocess.Popen, timeout: float) -> str:
    addr = read_listen_address(proc, timeout)
    if addr is None:
        proc.kill()
        raise RuntimeError("a simulated teammate did not start")
    return addr


def prepare_office(root: Path | None = None, *, opportunities: int = 40) -> DemoOffice:
    """A fresh demo workspace for Dana and synced profiles for her three teammates."""
    root = root or Path(tempfile.mkdtemp(prefix="bullpen-demo-"))
    passphrase = secrets.token_urlsafe(16)
    home = root / "dana"
    ws = Workspace.create(home, "Dana Scott", "Northwind Sales", passphrase=passphrase)
    teammates: list[Path] = []
    try:
        joined = []
        for name, role in TEAM:
            mate_home = root / name.split()[0].lower()
            mate = Workspace.create_joining(mate_home, name, ws.workspace_id,
                                            passphrase=passphrase)
            joined.append((mate.peer_id, name, role))
            teammates.append(mate_home)
            mate.close()
        seed_demo(ws, teammates=joined, opportunities=opportunities, files_dir=root / "files")
        for mate_home in teammates:
            mate = Workspace.open(mate_home, passphrase=passphrase)
            try:
                for doc_id in ws.doc_ids():
                    mate.merge_saved(doc_id, ws.doc(doc_id).save())
                for resource in ws.list("resource"):
                    mate.blobs.put_bytes(ws.blobs.read(resource["sha256"]), resource["sha256"])
            finally:
                mate.close()
    finally:
        ws.close()
    return DemoOffice(root, home, passphrase, teammates)


def run_demo_peer(home: Path, interval: float) -> int:
    """A simulated teammate: a sync node on loopback that keeps changing things."""
    import random

    import trio

    from bullpen.app.demo.team import simulate_step
    from bullpen.app.network.node_setup import make_node

    ws = Workspace.open(home)
    parent = os.getppid()
    rng = random.Random(home.name)
    node = make_node(ws, listen=["/ip4/127.0.0.1/tcp/0"])

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for addr in await nursery.start(node.run):
                print(f"listening on {addr}", flush=True)
            while os.getppid() == parent:  # the demo app is gone: so is its teammate
                await trio.sleep(interval * rng.uniform(0.5, 1.5))
                await trio.to_thread.run_sync(simulate_step, ws, rng)
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except KeyboardInterrupt:
        pass
    finally:
        ws.close()
    return 0
