"""Helpers for tests that run real ``bullpen`` processes (CLI commands and ``bullpen serve``).

Every process gets its own ``--home`` under the test's tmp_path and listens on 127.0.0.1 with
an OS-chosen port, so tests run in parallel (pytest-xdist) without clashing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bullpen.app.demo.processes import read_listen_address
from bullpen.app.workspace import Workspace

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
PASSPHRASE = "test passphrase"


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    out = {**os.environ, "BULLPEN_PASSPHRASE": os.environ.get("BULLPEN_PASSPHRASE", PASSPHRASE)}
    out.pop("LIBP2P_DEBUG", None)
    return {**out, **(extra or {})}


def command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bullpen.cli", "--home", str(home), *args]


def cli(home: Path, *args: str, check: bool = True, timeout: float = 120,
        prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    proc = subprocess.run([*prefix, *command(home, *args)], capture_output=True, text=True,
                          env=env(), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"bullpen {' '.join(args)} failed ({proc.returncode}): "
                             f"{proc.stderr.strip()}")
    return proc


def cli_json(home: Path, *args: str, prefix: Sequence[str] = ()) -> Any:
    return json.loads(cli(home, *args, "--json", prefix=prefix).stdout)


def add_opp(home: Path, title: str, *extra: str, prefix: Sequence[str] = ()) -> str:
    out = cli(home, "opp", "add", "--account", "Acme", "--title", title, "--amount", "1000",
              "--stage", "proposal", "--close", "2026-12-15", *extra, prefix=prefix).stdout
    return out.strip().split()[-1]


class Cli:
    """One profile driven through the console script, found by ``BULLPEN_HOME`` (as a user
    who set it once would), each command in its own process."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "bullpen.cli", *args], capture_output=True,
                              text=True, env=env({"BULLPEN_HOME": str(self.home)}), timeout=120)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def json(self, *args: str) -> Any:
        return json.loads(self.out(*args, "--json"))

    def fails(self, *args: str, needle: str) -> None:
        """The command fails with one line on stderr that contains ``needle``."""
        proc = self.run(*args, ok=False)
        assert proc.returncode != 0
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1

    def add_opp(self, **extra: str) -> str:
        """A valid deal (``extra`` adds or overrides options); returns what the command
        printed, its id."""
        args = ["opp", "add", "--account", "Acme", "--title", "Renewal", "--amount", "50000",
                "--stage", "proposal", "--close", "2026-12-15"]
        for key, value in extra.items():
            args += [f"--{key.replace('_', '-')}", value]
        return self.out(*args)


def make_profiles(root: Path, names: Sequence[str], title: str = "Acme Sales") -> list[Path]:
    """The first name founds the workspace; the others are added as members and receive the
    workspace index (as ``bullpen join`` gives them), so each knows who its teammates are;
    everything else they receive by sync."""
    homes = [root / n.lower() for n in names]
    phrase = env()["BULLPEN_PASSPHRASE"]
    founder = Workspace.create(homes[0], names[0], title, passphrase=phrase)
    try:
        joiners = []
        for home, name in zip(homes[1:], names[1:], strict=True):
            joiner = Workspace.create_joining(home, name, founder.workspace_id, passphrase=phrase)
            founder.add_member(joiner.peer_id, "rep", name)
            joiners.append(joiner)
        for joiner in joiners:
            joiner.merge_saved("index", founder.doc("index").save())
            joiner.close()
    finally:
        founder.close()
    return homes


class Serve:
    """A running ``bullpen serve`` process; ``addr`` is its printed full multiaddr."""

    def __init__(self, home: Path, *args: str, listen: str = LOOPBACK,
                 prefix: Sequence[str] = (), start_timeout: float = 60,
                 mdns: bool = False) -> None:
        self.home = home
        self.log_path = home.parent / f"{home.name}-serve-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [*prefix, *command(home, "serve", "--listen", listen, "-v",
                               *(() if mdns else ("--no-mdns",)), *args)],
            stdout=subprocess.PIPE, stderr=self._log, env=env(), text=True,
        )
        self.addr = self._read_addr(start_timeout)
        self.peer_id = self.addr.rsplit("/p2p/", 1)[1]

    def _read_addr(self, timeout: float) -> str:
        addr = read_listen_address(self.proc, timeout)
        if addr is None:
            self.kill()
            raise AssertionError(f"bullpen serve did not start: {self.log()}")
        return addr

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"serve ignored signal {sig}: {self.log()}") from None
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Serve:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self._log.close()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def status(home: Path, prefix: Sequence[str] = ()) -> dict[str, Any]:
    return cli_json(home, "status", prefix=prefix)


def wait_converged(homes: Sequence[Path], timeout: float = 60,
                   prefixes: Sequence[Sequence[str]] | None = None) -> str:
    """Until every profile shows the same digest; returns it."""
    prefixes = prefixes or [()] * len(homes)

    def same() -> str | None:
        digests = {status(h, p)["digest"] for h, p in zip(homes, prefixes, strict=True)}
        return digests.pop() if len(digests) == 1 else None

    return wait_for(same, timeout, "all peers to converge", interval=0.5)


def titles(home: Path, prefix: Sequence[str] = ()) -> set[str]:
    return {o["title"] for o in cli_json(home, "opp", "list", prefix=prefix)}
