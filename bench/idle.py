"""Idle CPU of a running node: what ``bullpen serve`` and the desktop app cost while nothing
happens.

    python bench/idle.py [--seconds 60] [--warmup 10] [--no-app] [--json]

A node that has nothing to do should do almost nothing: on a laptop every wake-up costs
battery. Each target is started on a demo profile (the demo team's records, 200 deals, no
teammates online), given ``--warmup`` seconds to finish starting (the index check, the first
compaction), then its process is measured over ``--seconds`` with psutil:

* ``cpu_s``: user + system CPU time used, and ``cpu_pct`` the same as a share of one core;
* ``wakeups_per_s``: voluntary context switches per second (each sleep that ends, each
  worker-thread hand-off), the count that keeps a core from its low-power states;
* ``write_kb``: bytes the process wrote to disk (read from /proc; the published node state
  and anything else it writes while idle).

The targets are ``bullpen serve`` (loopback only, no mDNS) and the desktop app
(``bullpen gui``, offscreen Qt), whose node runs as a trio guest of the Qt loop. Both are
ready once the node has published its state in the profile (``bullpen status`` reads it).

Sleeping must not make the node slow to notice a CLI command's write: ``notice_ms`` is the
time from another opener of the profile starting a write (``ws.add``, as ``bullpen opp add``
does) until the node's side announced it (median, 90th percentile and worst of 60, a random
pause between them), with the node's store watch as it runs (file notifications on Linux) and
with a look every 50 ms (its fallback elsewhere, and the cadence every node polled at before).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import trio

from bullpen.app.demo.processes import stop
from bullpen.app.demo.team import seed_demo
from bullpen.app.network.peer_book import node_info
from bullpen.app.workspace import Workspace
from bullpen.sync.store_watch import POLL_INTERVAL, StoreWatch

PASSPHRASE = "bench passphrase"
LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def make_profile(root: Path) -> Path:
    home = root / "dana"
    ws = Workspace.create(home, "Dana Scott", "Northwind Sales", passphrase=PASSPHRASE)
    try:
        seed_demo(ws, opportunities=200)
    finally:
        ws.close()
    return home


def wait_published(home: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until the node of ``proc`` has published its state in the profile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}")
        ws = Workspace.open(home, passphrase=PASSPHRASE)
        try:
            info = node_info(ws)
        finally:
            ws.close()
        if info and info.get("pid") == proc.pid:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{proc.args} did not start a node within {timeout:g} s")


def measure(proc: subprocess.Popen, seconds: float) -> dict[str, Any]:
    p = psutil.Process(proc.pid)
    cpu0, ctx0, io0 = p.cpu_times(), p.num_ctx_switches(), p.io_counters()
    started = time.monotonic()
    time.sleep(seconds)
    cpu1, ctx1, io1 = p.cpu_times(), p.num_ctx_switches(), p.io_counters()
    elapsed = time.monotonic() - started
    if proc.poll() is not None:
        raise RuntimeError(f"{proc.args} exited {proc.returncode} while measured")
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"seconds": round(elapsed, 1), "cpu_s": round(cpu, 3),
            "cpu_pct": round(100 * cpu / elapsed, 2),
            "wakeups_per_s": round((ctx1.voluntary - ctx0.voluntary) / elapsed, 1),
            "write_kb": round((io1.write_bytes - io0.write_bytes) / 1024, 1)}


def notice_ms(home: Path, *, polling: bool, writes: int = 60) -> dict[str, float]:
    node_side = Workspace.open(home, passphrase=PASSPHRASE)
    cli_side = Workspace.open(home, passphrase=PASSPHRASE)
    announced: list[float] = []
    node_side.subscribe(lambda change: announced.append(time.perf_counter()))
    watch = StoreWatch(node_side, lambda: None)
    samples: list[float] = []

    async def poll() -> None:
        while True:
            await watch.look()
            await trio.sleep(POLL_INTERVAL)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll if polling else watch.run)
            await trio.sleep(0.5)
            for _ in range(writes):
                announced.clear()
                started = time.perf_counter()
                await trio.to_thread.run_sync(cli_side.add, "contact", {"name": "Ann"})
                with trio.fail_after(30):
                    while not announced:
                        await trio.sleep(0.001)
                samples.append((announced[0] - started) * 1000)
                await trio.sleep(0.3 + random.random() * POLL_INTERVAL)
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        cli_side.close()
        node_side.close()
    return {"median": round(statistics.median(samples), 1),
            "p90": round(statistics.quantiles(samples, n=10)[-1], 1),
            "max": round(max(samples), 1)}


def run_target(name: str, args: list[str], home: Path, env: dict[str, str], seconds: float,
               warmup: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bullpen.cli", "--home", str(home), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_published(home, proc)
        time.sleep(warmup)
        return {"target": name, **measure(proc, seconds)}
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--no-app", action="store_true", help="measure bullpen serve only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "BULLPEN_PASSPHRASE": PASSPHRASE, "QT_QPA_PLATFORM": "offscreen"}
    targets = [("serve", ["serve", "--listen", LOOPBACK, "--no-mdns"])]
    if not args.no_app:
        targets.append(("app", ["gui"]))
    with tempfile.TemporaryDirectory(prefix="bullpen-idle-") as root:
        home = make_profile(Path(root))
        results = [run_target(name, cmd, home, env, args.seconds, args.warmup)
                   for name, cmd in targets]
        notice = {"watch": notice_ms(home, polling=False),
                  "poll_50ms": notice_ms(home, polling=True)}
    if args.json:
        print(json.dumps({"idle": results, "notice_ms": notice}, indent=2))
    else:
        for r in results:
            print(f"{r['target']:>5}: {r['cpu_s']:.3f} s CPU in {r['seconds']:g} s "
                  f"({r['cpu_pct']:.2f}% of a core), {r['wakeups_per_s']:g} wake-ups/s, "
                  f"{r['write_kb']:g} KB written")
        for how, r in notice.items():
            print(f"another process's write noticed ({how}): {r['median']:g} ms median, "
                  f"{r['p90']:g} ms 90th percentile, {r['max']:g} ms worst")
    return 0


if __name__ == "__main__":
    sys.exit(main())
