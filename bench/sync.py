"""Sync benchmark (issues 3 and 8): real ``bullpen`` peer processes over libp2p on 127.0.0.1,
each figure printed beside the Automerge Repo anchor's (``../shared/peers/automerge-repo``,
Automerge Repo 2.5.6 on Node, both of its variants: plain and immutable strings) as a ratio,
ours / anchor (below 1 is better).

Every peer is its own process (``python bench/sync.py --peer HOME``): it opens its profile and
runs ``bullpen.app.network.node_setup.make_node`` (the members-only AccessPolicy, SQLCipher
store with synchronous=FULL, the same node as ``bullpen serve``), takes commands as JSON lines on
stdin and reports events with ``time.monotonic_ns()`` on stdout. CLOCK_MONOTONIC is one
system-wide clock on Linux, so a time taken in one peer process is subtracted from one taken in
another.

The workload has the anchor's shape: 10,000 opportunities of 10 fields + 50 documents of 5,000
characters; edits set ``amount`` or ``next_step`` of a random record to a new value. The
profiles are built once; every run starts from fresh copies of them (hub and spokes
restarted, the spokes' own first sync not measured), so each run measures the same workload.

1. Initial sync: peer A holds everything, B (a member with only the workspace index, as after
   ``bullpen join``) dials A: from just before the dial until B's heads equal A's for every
   document (each document persisted with fsync, indexed and announced on B). Bytes: the
   node's per-peer counters (both directions, our framing and payload, without Noise/yamux
   overhead). B's RSS (psutil) after the sync.
2. Edit-to-visible latency, A and B connected and in sync: from just before ``ws.update`` in A
   to B's change listener seeing the new value (persisted, indexed, announced), 200 edits, each
   started 150 ms after the previous one arrived; then 200 back-to-back edits (the next starts
   as soon as B has seen the previous one). 5 warm-up edits first.
3. Five peers in a star (P0 = A is the hub, P1-P4 dial it), all in sync; the spokes hang up,
   every peer makes 100 single-field edits (100 changes), the spokes dial the hub again at once:
   time until every peer's heads are equal, bytes through the hub.

    python bench/sync.py [--quick] [--runs N] [--no-anchor] [--profile DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("BULLPEN_PASSPHRASE", "bench passphrase")

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
HERE = Path(__file__).resolve().parent
ANCHOR_DIR = HERE.parent.parent / "shared" / "peers" / "automerge-repo"

# Targets of issue 8 (ours must be below each).
TARGETS = {
    "initial_sync_s": 2.0, "initial_wire_mb": 0.5, "latency_p50_ms": 15.0,
    "latency_p95_ms": 30.0, "latency_b2b_p50_ms": 30.0, "converge_s": 2.0,
    "converge_wire_mb": 1.0, "rss_mb": 250.0,
}


def now() -> int:
    return time.monotonic_ns()


# ===== the peer process ======================================================================


def peer_main(home: Path) -> None:
    import trio

    from bullpen.app.logs import configure_logging
    from bullpen.app.network.node_setup import make_node
    from bullpen.app.workspace import ChangeSet, Workspace

    configure_logging(False)
    out_lock = threading.Lock()

    def emit(**event: Any) -> None:
        line = json.dumps(event, separators=(",", ":"))
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    ws = Workspace.open(home)
    node = make_node(ws, listen=[LOOPBACK], redial=False, publish=False)
    watched: set[str] = set()

    def heads_of(doc_id: str) -> str:
        return hashlib.sha1(b"".join(sorted(ws.heads(doc_id)))).hexdigest()[:16]

    def on_change(change: ChangeSet) -> None:
        t = now()
        emit(ev="h", doc=change.doc_id, h=heads_of(change.doc_id), t=t)
        if change.remote and watched:
            for rid in watched & change.ids:
                emit(ev="seen", rid=rid, v=change.after.get(rid), t=t)

    ws.subscribe(on_change)

    def all_heads() -> dict[str, str]:
        with ws.lock:
            return {d: heads_of(d) for d in ws.doc_ids()}

    def peer_bytes() -> dict[str, int]:
        return {s.peer_id: s.bytes_in + s.bytes_out for s in node.peer_states()}

    async def handle(cmd: dict[str, Any]) -> None:
        try:
            await handle_one(cmd)
        except Exception as exc:
            emit(ev="error", op=cmd["op"], error=f"{type(exc).__name__}: {exc}")

    async def handle_one(cmd: dict[str, Any]) -> None:
        op = cmd["op"]
        if op == "dial":
            t0 = now()
            await node.dial(cmd["addr"])
            emit(ev="dialed", t0=t0, t=now())
        elif op == "update":
            t0 = now()
            await trio.to_thread.run_sync(ws.update, cmd["rid"], cmd["fields"])
            emit(ev="updated", t0=t0, t=now(), n=cmd.get("n"))
        elif op == "edits":
            rng = random.Random(cmd["seed"])
            for i in range(cmd["count"]):
                rid = rng.choice(cmd["rids"])
                fields = ({"amount": rng.randint(10**6, 10**9)} if i % 2 else
                          {"next_step": f"{cmd['tag']} step {i} {rng.random():.6f}"})
                await trio.to_thread.run_sync(ws.update, rid, fields)
            emit(ev="edited", heads=await trio.to_thread.run_sync(all_heads))
        elif op == "watch":
            watched.update(cmd["rids"])
        elif op == "heads":
            emit(ev="heads", heads=await trio.to_thread.run_sync(all_heads))
        elif op == "bytes":
            emit(ev="bytes", peers=peer_bytes())
        elif op == "hangup":
            for link in list(node.links.values()):
                link.drop("bench: going offline")
            while node.links:
                await trio.sleep(0.01)
            emit(ev="offline")
        elif op == "insync":
            while cmd["peer"] not in node.links:
                await trio.sleep(0.005)
            await node.wait_in_sync(cmd["peer"], timeout=600)
            emit(ev="insync", t=now())
        elif op == "quit":
            node.stop()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            addrs = await nursery.start(node.run)
            emit(ev="listening", addr=addrs[0], peer_id=ws.peer_id, heads=all_heads())
            while True:
                line = await trio.to_thread.run_sync(sys.stdin.readline)
                if not line:
                    break
                cmd = json.loads(line)
                if cmd["op"] == "quit":
                    break
                nursery.start_soon(handle, cmd)
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        ws.close()


# ===== driving peer processes ================================================================


class Peer:
    """A running peer process; events are read on a thread and kept for the waiter."""

    def __init__(self, home: Path, name: str, profile_dir: Path | None = None) -> None:
        self.name = name
        cmd = [sys.executable, str(Path(__file__).resolve()), "--peer", str(home)]
        if profile_dir is not None:
            cmd = ["py-spy", "record", "--format", "raw", "--rate", "250", "--threads",
                   "-o", str(profile_dir / f"{name}.txt"), "--", *cmd]
        self.stderr = open(home.parent / f"{name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.heads: dict[str, str] = {}
        self.head_times: dict[str, int] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        ev = self.expect("listening", timeout=120)
        self.addr, self.peer_id = ev["addr"], ev["peer_id"]
        self.heads.update(ev["heads"])

    @property
    def pid(self) -> int:
        import psutil

        proc = psutil.Process(self.proc.pid)
        # under py-spy the peer is its child
        children = proc.children()
        return children[0].pid if children and proc.name().startswith("py-spy") else proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("ev") == "h":
                with self.lock:
                    self.heads[ev["doc"]] = ev["h"]
                    self.head_times[ev["doc"]] = ev["t"]
            self.events.put(ev)
        self.events.put({"ev": "exit"})

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def expect(self, kind: str, timeout: float = 600,
               match: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.name}: no {kind!r} event within {timeout} s")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev["ev"] == "error":
                raise RuntimeError(f"{self.name}: {ev['op']} failed: {ev['error']}")
            if ev["ev"] == "exit":
                raise RuntimeError(f"{self.name} exited: see {self.stderr.name}")
            if ev["ev"] == kind and (match is None or match(ev)):
                return ev

    def snapshot(self) -> tuple[dict[str, str], int]:
        with self.lock:
            return dict(self.heads), max(self.head_times.values(), default=0)

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.pid).memory_info().rss / 1e6

    def bytes_with(self, peer_id: str | None = None) -> int:
        self.send(op="bytes")
        peers = self.expect("bytes", 30)["peers"]
        return peers.get(peer_id, 0) if peer_id else sum(peers.values())

    def quit(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="quit")
                self.proc.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self.stderr.close()


def wait_equal(peers: list[Peer], timeout: float = 600) -> int:
    """Until all peers hold the same heads for every document; returns the time at which the
    last of them reached that state."""
    deadline = time.monotonic() + timeout
    while True:
        snaps = [p.snapshot() for p in peers]
        if all(s[0] == snaps[0][0] for s in snaps):
            return max(s[1] for s in snaps)
        if time.monotonic() > deadline:
            raise RuntimeError("peers did not converge")
        time.sleep(0.002)


# ===== building the profiles =================================================================


ACCOUNTS = [f"{a} {b}" for a in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay",
                                 "Stark", "Wayne", "Tyrell", "Cyberdyne")
            for b in ("GmbH", "Ltd", "Inc", "SA", "AG", "BV", "Oy")]


def opp_fields(rng: random.Random, i: int) -> dict[str, Any]:
    return {"account": rng.choice(ACCOUNTS), "title": f"Deal {i} {rng.getrandbits(24):06x}",
            "amount": rng.randint(1000, 500_000), "currency": "EUR",
            "stage": rng.choice(["prospecting", "qualification", "proposal", "negotiation"]),
            "close_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "owner": rng.choice(["Ann", "Bob", "Cem", "Dee"]),
            "next_step": rng.choice(["call", "demo", "send quote", "follow up", "meeting"])}


def build_profiles(root: Path, opps: int, docs: int, chars: int, joiners: list[str]) -> None:
    from bullpen.app.workspace import Workspace

    rng = random.Random(42)
    src = Workspace.create(root / "ann", "Ann", "Bench")
    for start in range(0, opps, 1000):
        src.add_many("opportunity",
                     [opp_fields(rng, i) for i in range(start, min(opps, start + 1000))])
    words = ["pipeline", "forecast", "renewal", "upsell", "discount", "quarter", "target",
             "quota", "territory", "champion", "budget", "timeline", "decision"]
    for d in range(docs):
        text = ""
        while len(text) < chars:
            text += rng.choice(words) + " "
        src.new_document(f"Plan {d}", text[:chars])
    others = []
    for name in joiners:
        ws = Workspace.create_joining(root / name.lower(), name, src.workspace_id)
        src.add_member(ws.peer_id, "rep", name)
        others.append(ws)
    index = src.doc("index").save()
    for ws in others:  # what ``bullpen join`` gives a newcomer: the workspace index
        ws.merge_saved("index", index)
        ws.close()
    src.compact()
    src.close()


def opp_ids(home: Path, limit: int) -> list[str]:
    from bullpen.app.workspace import Workspace

    ws = Workspace.open(home)
    try:
        return [o["id"] for o in ws.list("opportunity")][:limit]
    finally:
        ws.close()


# ===== the anchor ============================================================================


# The anchor's two variants, as in issue 8's table: record strings as collaborative text (its
# default) and as ImmutableString (last-writer-wins values, like ours: the closer comparison).
ANCHOR_VARIANTS = {"plain strings": [], "immutable strings": ["--immutable-strings"]}


def run_anchor(quick: bool, runs: int) -> tuple[dict[str, dict[str, Any]], str]:
    """Automerge Repo's own benchmark (the anchor) per variant that ran, and the reason when
    it did not run at all."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        return None, "Node.js (node and npm) is not installed"
    if not (ANCHOR_DIR / "bench.mjs").exists():
        return None, f"{ANCHOR_DIR} is not there"
    lock = (ANCHOR_DIR / "package-lock.json").read_bytes()
    work = Path(tempfile.gettempdir()) / f"bullpen-amrepo-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (work / "node_modules").exists():
        print(f"anchor: npm ci in {work} ...", flush=True)
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(ANCHOR_DIR, work)  # shared/ is read-only: install in a copy
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=work,
                              capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            return None, f"npm ci failed: {done.stderr.strip()[-300:]}"
    shutil.copy2(ANCHOR_DIR / "bench.mjs", work / "bench.mjs")
    out: dict[str, dict[str, Any]] = {}
    failed = ""
    for variant, flags in ANCHOR_VARIANTS.items():
        args = [node, "bench.mjs", f"--runs={runs}", *flags] + (["--quick"] if quick else [])
        print(f"anchor: {' '.join(args[1:])} (Automerge Repo on Node {_node_version(node)}) "
              f"...", flush=True)
        done = subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            failed = f"bench.mjs {' '.join(flags)} failed: {done.stderr.strip()[-300:]}"
            print(f"anchor: {failed}", flush=True)
            continue
        out[variant] = json.loads(done.stdout)
    return out, failed


def _node_version(node: str) -> str:
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def anchor_figures(res: dict[str, Any]) -> dict[str, float]:
    return {
        "initial_sync_s": res["initial_sync_s"], "initial_wire_mb": res["ws_wire_bytes"] / 1e6,
        "latency_p50_ms": res["latency_ms"]["p50"], "latency_p95_ms": res["latency_ms"]["p95"],
        "latency_b2b_p50_ms": res["latency_b2b_ms"]["p50"],
        "converge_s": res["converge_5peers_s"],
        "converge_wire_mb": res["converge_wire_bytes"] / 1e6, "rss_mb": res["b_rss_mb"],
    }


# ===== the benchmark =========================================================================


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency_run(a: Peer, b: Peer, rids: list[str], edits: int, gap: float, rng: random.Random,
                counter: list[int]) -> list[float]:
    out = []
    for _ in range(edits):
        counter[0] += 1
        n = counter[0]
        rid = rng.choice(rids)
        field, value = (("amount", 10**9 + n) if n % 2 else ("next_step", f"edit {n}"))
        b_seen = threading.Event()
        a.send(op="update", rid=rid, fields={field: value}, n=n)
        up = a.expect("updated", 60, lambda e, n=n: e["n"] == n)
        seen = b.expect("seen", 60, lambda e, rid=rid, f=field, v=value:
                        e["rid"] == rid and (e["v"] or {}).get(f) == v)
        b_seen.set()
        out.append((seen["t"] - up["t0"]) / 1e6)
        if gap:
            time.sleep(gap)
    return out


def one_run(root: Path, run: int, cfg: dict[str, Any], rids: list[str], spoke_names: list[str],
            profile: Path | None) -> dict[str, float]:
    """One run on fresh copies of the profiles in ``root``: the hub A and the spokes start, the
    spokes take their own first sync (not measured), then the three measurements."""
    a = Peer(root / "ann", "ann", profile)
    spokes: list[Peer] = []
    try:
        spokes = [Peer(root / n.lower(), n.lower(), profile) for n in spoke_names]
        for s in spokes:
            s.send(op="dial", addr=a.addr)
        for s in spokes:
            s.send(op="insync", peer=a.peer_id)
            s.expect("insync", 600)
        for s in spokes:  # only A and B are connected during 1 and 2, as in the anchor
            s.send(op="hangup")
            s.expect("offline", 60)
        res = initial_and_latency(root, run, cfg, a, rids, profile)
        if spokes:
            res.update(star(cfg, run, a, spokes, rids))
        return res
    finally:
        for p in [a, *spokes]:
            p.quit()


def initial_and_latency(root: Path, run: int, cfg: dict[str, Any], a: Peer, rids: list[str],
                        profile: Path | None) -> dict[str, float]:
    """1. initial sync into a fresh member B, then 2. edit-to-visible latency from A to B."""
    res: dict[str, float] = {}
    hub_heads, _ = a.snapshot()
    b = Peer(root / "bob", "bob", profile)
    try:
        t0 = now()
        b.send(op="dial", addr=a.addr)
        while True:
            heads, last = b.snapshot()
            if all(heads.get(d) == h for d, h in hub_heads.items()):
                break
            time.sleep(0.002)
        res["initial_sync_s"] = (last - t0) / 1e9
        b.send(op="insync", peer=a.peer_id)
        b.expect("insync", 120)
        time.sleep(0.3)  # let the last acknowledgements cross before counting
        res["initial_wire_mb"] = b.bytes_with(a.peer_id) / 1e6
        res["rss_mb"] = b.rss_mb()

        rng = random.Random(7 + run)
        b.send(op="watch", rids=rids)
        counter = [run * 100_000]
        latency_run(a, b, rids, 5, 0.15, rng, counter)  # warm-up
        before = b.bytes_with(a.peer_id)
        lat = latency_run(a, b, rids, cfg["edits"], 0.15, rng, counter)
        res["latency_wire_bytes_per_edit"] = (b.bytes_with(a.peer_id) - before) / cfg["edits"]
        res["latency_p50_ms"], res["latency_p95_ms"] = pct(lat, 0.5), pct(lat, 0.95)
        b2b = latency_run(a, b, rids, cfg["edits"], 0.0, rng, counter)
        res["latency_b2b_p50_ms"], res["latency_b2b_p95_ms"] = pct(b2b, 0.5), pct(b2b, 0.95)
    finally:
        b.quit()
    return res


def star(cfg: dict[str, Any], run: int, a: Peer, spokes: list[Peer],
         rids: list[str]) -> dict[str, float]:
    """3. the spokes are offline; every peer edits, then the spokes dial the hub at once."""
    res: dict[str, float] = {}
    for i, p in enumerate([a, *spokes]):
        p.send(op="edits", count=cfg["offline"], rids=rids, seed=run * 100 + i,
               tag=f"r{run}p{i}")
    for p in [a, *spokes]:
        p.expect("edited", 600)
    hub_before = a.bytes_with()
    t0 = now()
    for s in spokes:
        s.send(op="dial", addr=a.addr)
    last = wait_equal([a, *spokes])
    res["converge_s"] = (last - t0) / 1e9
    for s in spokes:
        s.send(op="insync", peer=a.peer_id)
        s.expect("insync", 120)
    time.sleep(0.3)
    res["converge_wire_mb"] = (a.bytes_with() - hub_before) / 1e6
    return res


def fmt(key: str, value: float) -> str:
    return f"{value:.3f}" if key.endswith("_mb") and value < 1 else (
        f"{value:.2f}" if key.endswith("_s") or key.endswith("_mb") else f"{value:.1f}")


LABELS = [
    ("initial_sync_s", "1. initial sync, time (s)"),
    ("initial_wire_mb", "1. initial sync, on the wire (MB)"),
    ("rss_mb", "1. receiving peer RSS after sync (MB)"),
    ("latency_p50_ms", "2. edit->visible p50 (ms)"),
    ("latency_p95_ms", "2. edit->visible p95 (ms)"),
    ("latency_b2b_p50_ms", "2. back-to-back edits p50 (ms)"),
    ("converge_s", "3. 5-peer star reconnect, time (s)"),
    ("converge_wire_mb", "3. 5-peer star, on the wire (MB)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 records, for a smoke run")
    parser.add_argument("--runs", type=int, default=None, help="runs (median); 3, or 1 quick")
    parser.add_argument("--no-anchor", action="store_true", help="skip the Automerge Repo run")
    parser.add_argument("--profile", type=Path, help="record py-spy profiles of each peer here")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--peer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer_main(args.peer)
        return
    runs = args.runs or (1 if args.quick else 3)
    cfg = (dict(opps=1000, docs=5, chars=1000, edits=20, peers=5, offline=20) if args.quick
           else dict(opps=10_000, docs=50, chars=5000, edits=200, peers=5, offline=100))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="bullpen-bench-",
                                     dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        anchors, reason = ({}, "--no-anchor") if args.no_anchor else run_anchor(
            args.quick, runs)
        print(f"building profiles: {cfg['opps']} opportunities, {cfg['docs']} documents of "
              f"{cfg['chars']} chars ...", flush=True)
        spoke_names = [f"Spoke{i}" for i in range(1, cfg["peers"])]
        t = time.perf_counter()
        pristine = root / "pristine"
        build_profiles(pristine, cfg["opps"], cfg["docs"], cfg["chars"], ["Bob", *spoke_names])
        rids = opp_ids(pristine / "ann", 10**9)
        print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
        results = []
        for run in range(runs):
            print(f"run {run + 1}/{runs} ...", flush=True)
            # every run starts from a copy of the same profiles, so each measures the same
            # workload (earlier runs' edits would otherwise grow the hub's documents)
            home = root / f"run{run}"
            shutil.copytree(pristine, home)
            res = one_run(home, run, cfg, rids, spoke_names, args.profile)
            print("  " + ", ".join(f"{k} {fmt(k, v)}" for k, v in res.items()), flush=True)
            results.append(res)
            shutil.rmtree(home, ignore_errors=True)

    ours = {k: statistics.median(r[k] for r in results) for k in results[0]}
    report(ours, anchors, reason, cfg, runs, args.quick)
    if args.json:
        args.json.write_text(json.dumps({"ours": ours, "runs": results, "anchor": anchors,
                                         "anchor_skipped": reason or None, "config": cfg},
                                        indent=1))


def versions() -> str:
    import importlib.metadata as md

    parts = [f"Python {sys.version.split()[0]}"]
    for pkg in ("automerge", "libp2p", "sqlcipher3-binary", "sqlcipher3"):
        try:
            parts.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            continue
    return ", ".join(parts)


def report(ours: dict[str, float], anchors: dict[str, dict[str, Any]], reason: str,
           cfg: dict[str, Any], runs: int, quick: bool) -> None:
    print(f"\nBullpen sync benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
          f"{versions()}; median of {runs} run(s){' (--quick)' if quick else ''}")
    if reason:
        print(f"anchor (Automerge Repo): {reason}")
    for variant, anchor in anchors.items():
        pk = anchor["env"]["packages"]
        print(f"anchor, {variant}: Automerge Repo {pk['@automerge/automerge-repo']} (automerge "
              f"{pk['@automerge/automerge']}) on Node {anchor['env']['node']}, median of "
              f"{anchor.get('median_of_runs')} run(s)")
    theirs = {variant: anchor_figures(anchor) for variant, anchor in anchors.items()}
    full = "" if not quick else " (full)"
    heads = "".join(f" AR {v} | ratio |" for v in theirs)
    print(f"\n| figure | Bullpen |{heads} target{full} |")
    print("| --- | ---: |" + " ---: | ---: |" * len(theirs) + " --- |")
    for key, label in LABELS:
        value = ours[key]
        cells = ""
        for figures in theirs.values():
            other = figures.get(key)
            ratio = f"{value / other:.2f}x" if other else "n/a"
            cells += f" {fmt(key, other) if other else '-'} | {ratio} |"
        target = TARGETS[key]
        verdict = ("met" if value < target else "MISSED") if not quick else "-"
        print(f"| {label} | {fmt(key, value)} |{cells} < {target:g} {verdict} |")
    idle = ", ".join(f"{v} {a['latency_wire_bytes_per_edit']}" for v, a in anchors.items())
    print(f"\nalso: latency p95 back-to-back {ours['latency_b2b_p95_ms']:.1f} ms, wire bytes per "
          f"idle edit {ours['latency_wire_bytes_per_edit']:.0f}"
          + (f" (anchor: {idle})" if idle else ""))


if __name__ == "__main__":
    main()
