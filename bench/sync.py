"""Sync benchmark (issue 3): real libp2p nodes on 127.0.0.1, each figure beside an in-process
automerge baseline (the same documents synced with generate/receive_sync_message in memory,
no network, no persistence), printed as a ratio.

1. A fresh peer receives 10,000 opportunities + 50 documents of 5,000 characters: time, bytes
   on the wire, and the saved (automerge ``save()``) size of the same documents.
2. Edit-to-visible latency between two connected peers, p50/p95 over 200 edits (from the
   ``update`` call on one peer to the change being persisted, indexed and announced on the
   other).
3. Five peers make 100 offline edits each, then reconnect (full mesh): time to converge.

The nodes run in one process (one trio run, worker threads for CRDT work, as in the app), each
on its own workspace, store and libp2p host, talking over TCP on 127.0.0.1.

    python bench/sync.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("BULLPEN_PASSPHRASE", "bench passphrase")

import trio  # noqa: E402
from automerge.core import Document, SyncState  # noqa: E402

from bullpen.app.workspace import ChangeSet, Workspace  # noqa: E402
from bullpen.sync.node import Node  # noqa: E402


def opp_fields(i: int) -> dict[str, Any]:
    return {"account": f"Account {i % 700}", "title": f"Deal {i}", "amount": 1000 + i,
            "stage": "proposal", "close_date": "2026-12-15"}


def build_source(home: Path, opps: int, docs: int, chars: int) -> Workspace:
    ws = Workspace.create(home, "Ann", "Bench")
    for start in range(0, opps, 1000):
        ws.add_many("opportunity", [opp_fields(i) for i in range(start, min(opps, start + 1000))])
    words = ["pipeline", "forecast", "renewal", "upsell", "discount", "quarter", "target",
             "quota", "territory", "champion", "budget", "timeline", "decision"]
    rng = random.Random(1)
    for d in range(docs):
        text = ""
        while len(text) < chars:
            text += rng.choice(words) + " "
        ws.new_document(f"Plan {d}", text[:chars])
    return ws


def joiner(root: Path, src: Workspace, name: str) -> Workspace:
    ws = Workspace.create_joining(root / name.lower(), name, src.workspace_id)
    src.add_member(ws.peer_id, "rep", name)
    return ws


# ----- in-process automerge baselines --------------------------------------------------------


def baseline_sync(docs: list[Document]) -> tuple[float, int]:
    """Time and bytes to sync each document into an empty one, in memory."""
    start, total = time.perf_counter(), 0
    for src in docs:
        dst = Document()
        total += sync_pair(src, dst)
    return time.perf_counter() - start, total


def sync_pair(a: Document, b: Document, sa: SyncState | None = None,
              sb: SyncState | None = None) -> int:
    sa, sb = sa or SyncState(), sb or SyncState()
    total = 0
    while True:
        moved = False
        for src, dst, s_src, s_dst in ((a, b, sa, sb), (b, a, sb, sa)):
            msg = src.generate_sync_message(s_src)
            if msg is not None:
                data = msg.encode()
                total += len(data)
                dst.receive_sync_message(s_dst, msg)
                moved = True
        if not moved:
            return total


def baseline_latency(doc: Document, edits: int) -> list[float]:
    a, b = doc.fork(), doc.fork()
    sa, sb = SyncState(), SyncState()
    sync_pair(a, b, sa, sb)
    from bullpen.crdt import records as rec

    records = rec.container(a, rec.RECORDS)
    rid = rec.record_ids(a, records)[0]
    out = []
    for i in range(edits):
        start = time.perf_counter()
        with a.transaction() as tx:
            rec.write_record(tx, records, rid, {"amount": i})
        sync_pair(a, b, sa, sb)
        out.append(time.perf_counter() - start)
    return out


def baseline_mesh(docs: list[list[Document]]) -> float:
    """Sync every pair of peers' documents (one doc list per peer) until all are equal."""
    start = time.perf_counter()
    peers = len(docs)
    for i in range(peers):
        for j in range(i + 1, peers):
            for a, b in zip(docs[i], docs[j], strict=True):
                sync_pair(a, b)
    for i in range(peers):
        for j in range(i + 1, peers):
            for a, b in zip(docs[i], docs[j], strict=True):
                sync_pair(a, b)
    return time.perf_counter() - start


# ----- running nodes -------------------------------------------------------------------------


def run_nodes(nodes: list[Node], body: Callable[[list[list[str]]], Any]) -> Any:
    result: dict[str, Any] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            addrs = [await nursery.start(n.run) for n in nodes]
            result["value"] = await body(addrs)
            nursery.cancel_scope.cancel()

    trio.run(main)
    return result["value"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def fmt_ratio(ours: float, base: float) -> str:
    return f"{ours / base:.1f}x" if base > 0 else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    args = parser.parse_args()
    opps, docs, chars, edits, peers, offline = (
        (1000, 5, 1000, 30, 3, 20) if args.quick else (10_000, 50, 5000, 200, 5, 100))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"building source workspace: {opps} opportunities, {docs} documents of {chars} "
              f"chars ...", flush=True)
        src = build_source(root / "ann", opps, docs, chars)
        src_docs = {d: src.doc(d) for d in src.doc_ids()}
        saved = sum(len(doc.save()) for doc in src_docs.values())

        # 1. fresh peer
        fresh = joiner(root, src, "Bob")
        na, nb = Node(src, publish=False), Node(fresh, publish=False)

        async def first_sync(addrs: list[list[str]]) -> tuple[float, int]:
            start = time.perf_counter()
            link = await nb.dial(addrs[0][0])
            await nb.wait_in_sync(src.peer_id, timeout=600)
            return time.perf_counter() - start, link.bytes_in + link.bytes_out

        took, wire = run_nodes([na, nb], first_sync)
        assert fresh.digest() == src.digest(), "fresh peer did not converge"
        base_t, base_bytes = baseline_sync(list(src_docs.values()))
        print("\n1. fresh peer receives everything")
        print(f"   time            {took:8.2f} s     in-process automerge {base_t:6.2f} s  "
              f"({fmt_ratio(took, base_t)})")
        print(f"   bytes on wire   {wire / 1e6:8.2f} MB    in-process sync msgs "
              f"{base_bytes / 1e6:6.2f} MB ({fmt_ratio(wire, base_bytes)}); saved size "
              f"{saved / 1e6:.2f} MB (wire/saved {wire / saved:.2f})")

        # 2. edit-to-visible latency
        rid = src.list("opportunity", limit=1)[0]["id"]
        seen = threading.Event()

        def on_change(change: ChangeSet) -> None:
            if change.remote and rid in change.ids:
                seen.set()

        fresh.subscribe(on_change)
        na, nb = Node(src, publish=False), Node(fresh, publish=False)

        async def latency(addrs: list[list[str]]) -> list[float]:
            await nb.dial(addrs[0][0])
            await nb.wait_in_sync(src.peer_id, timeout=120)
            out = []
            for i in range(edits):
                seen.clear()
                start = time.perf_counter()
                await trio.to_thread.run_sync(src.update, rid, {"amount": 5000 + i})
                if not await trio.to_thread.run_sync(seen.wait, 30):
                    raise RuntimeError("an edit did not arrive within 30 s")
                out.append(time.perf_counter() - start)
            return out

        lat = run_nodes([na, nb], latency)
        base_lat = baseline_latency(src.doc("pipeline"), edits)
        print(f"\n2. edit-to-visible latency over {edits} edits (two connected peers)")
        for q in (0.5, 0.95):
            ours, base = pct(lat, q) * 1000, pct(base_lat, q) * 1000
            print(f"   p{int(q * 100):<2}            {ours:8.1f} ms    in-process automerge "
                  f"{base:6.2f} ms ({fmt_ratio(ours, base)})")

        # 3. offline edits on several peers, then reconnect
        replicas = [src, fresh] + [joiner(root, src, f"Peer{i}") for i in range(2, peers)]
        nodes = [Node(ws, publish=False) for ws in replicas]

        async def initial(addrs: list[list[str]]) -> None:
            for node in nodes[1:]:
                if node.ws is not fresh:
                    await node.dial(addrs[0][0])
                    await node.wait_in_sync(src.peer_id, timeout=600)

        run_nodes(nodes, initial)
        ids = [o["id"] for o in src.list("opportunity", limit=2000)]
        rng = random.Random(2)
        for ws in replicas:
            for i in range(offline):
                ws.update(rng.choice(ids), {"amount": rng.randint(1, 10**6), "title": f"t{i}"})
        base_docs = [[ws.doc(d).fork() for d in sorted(src_docs)] for ws in replicas]
        nodes = [Node(ws, publish=False) for ws in replicas]

        async def reconnect(addrs: list[list[str]]) -> float:
            start = time.perf_counter()
            for i, node in enumerate(nodes):
                for j in range(i + 1, len(nodes)):
                    await node.dial(addrs[j][0])
            while len({ws.digest() for ws in replicas}) > 1:
                await trio.sleep(0.05)
            return time.perf_counter() - start

        took = run_nodes(nodes, reconnect)
        base_t = baseline_mesh(base_docs)
        print(f"\n3. {peers} peers x {offline} offline edits, reconnect (mesh) until converged")
        print(f"   time            {took:8.2f} s     in-process automerge {base_t:6.2f} s  "
              f"({fmt_ratio(took, base_t)})")
        for ws in replicas:
            ws.close()


if __name__ == "__main__":
    main()
