"""Local workspace benchmark (issue: local workspace core).

Creates a workspace of 10,000 opportunities, 2,000 contacts, 500 posts and 50 documents, then
prints: time to create, cold reopen (a new process), filtered ``opp list`` by stage, a full-text
search, one field edit persisted, bytes on disk, and peak RSS. Each timing is the median of
several runs; the reopen and the queries run in fresh processes so nothing is warm.

    python bench/local.py [--opportunities N] [--quick]
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

# the profiles this bench makes and its child process open are unlocked this way
os.environ.setdefault("BULLPEN_PASSPHRASE", "bench passphrase")

TARGETS = {"reopen_s": 2.0, "list_ms": 50, "search_ms": 50, "edit_ms": 5, "peak_rss_mb": 400}

CHILD = r"""
import json, resource, statistics, sys, time
from pathlib import Path
t0 = time.perf_counter()
from bullpen.app.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
ws.doc("pipeline")
reopen = time.perf_counter() - t0
def median_ms(fn, n=15):
    times = []
    for _ in range(n):
        s = time.perf_counter(); fn(); times.append((time.perf_counter() - s) * 1000)
    return statistics.median(times)
listed = len(ws.list("opportunity", stage="negotiation"))
list_ms = median_ms(lambda: ws.list("opportunity", stage="negotiation"))
search_ms = median_ms(lambda: ws.search("globex renewal"))
target = ws.list("opportunity", stage="proposal", limit=1)[0]["id"]
edits = []
for i in range(30):
    s = time.perf_counter(); ws.update(target, {"amount": 1000 + i})
    edits.append((time.perf_counter() - s) * 1000)
ws.close()
print(json.dumps({"reopen_s": reopen, "listed": listed, "list_ms": list_ms,
                  "search_ms": search_ms, "edit_ms": statistics.median(edits),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def create(home: Path, n_opps: int, n_contacts: int, n_posts: int, n_docs: int) -> float:
    from bullpen.app.demo.team import ACCOUNTS, DEAL_KINDS, FIRST, LAST, NEXT_STEPS
    from bullpen.app.workspace import Workspace

    rng = random.Random(1)
    started = time.perf_counter()
    ws = Workspace.create(home, "Dana", "Bench Sales")
    stages = [s.id for s in ws.stages()]
    owners = [f"Rep {i}" for i in range(20)]
    opps = [
        {
            "account": f"{rng.choice(ACCOUNTS)} {i % 500}",
            "title": f"{rng.choice(DEAL_KINDS)} {i}",
            "amount": rng.randint(1, 500) * 1000,
            "stage": rng.choice(stages),
            "close_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "owner": rng.choice(owners),
            "next_step": rng.choice(NEXT_STEPS),
        }
        for i in range(n_opps)
    ]
    for chunk in range(0, n_opps, 2500):
        ws.add_many("opportunity", opps[chunk : chunk + 2500])
    ws.add_many("contact", [
        {"name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "company": rng.choice(ACCOUNTS),
         "emails": [f"c{i}@example.com"]}
        for i in range(n_contacts)
    ])
    topics = ws.add_many("topic", [{"title": f"Topic {i}"} for i in range(10)])
    ws.add_many("post", [
        {"topic_id": topics[i % 10], "text": f"Insight {i}: lead with TCO against Globex"}
        for i in range(n_posts)
    ])
    body = ("Proposal text with pricing, scope and terms. " * 110)[:5000]
    for i in range(n_docs):
        ws.new_document(f"Proposal {i}", body)
    ws.close()
    return time.perf_counter() - started


def disk_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opportunities", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 opportunities, fewer runs")
    args = parser.parse_args()
    n = 1000 if args.quick else args.opportunities
    scale = n / 10_000
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "bench"
        created = create(home, n, int(2000 * scale), int(500 * scale), max(5, int(50 * scale)))
        runs = [
            json.loads(subprocess.run([sys.executable, "-c", CHILD, str(home)],
                                      capture_output=True, text=True, check=True).stdout)
            for _ in range(1 if args.quick else 3)
        ]
        size = disk_bytes(home)
    figures = {key: statistics.median(r[key] for r in runs)
               for key in ("reopen_s", "list_ms", "search_ms", "edit_ms")}
    figures["peak_rss_mb"] = max(r["rss_mb"] for r in runs)
    print(f"workspace: {n} opportunities, {int(2000 * scale)} contacts, "
          f"{int(500 * scale)} posts, {max(5, int(50 * scale))} documents")
    print(f"create:            {created:8.2f} s")
    print(f"reopen (cold):     {figures['reopen_s']:8.3f} s    target < {TARGETS['reopen_s']} s")
    print(f"opp list --stage:  {figures['list_ms']:8.2f} ms   target < {TARGETS['list_ms']} ms "
          f"({runs[0]['listed']} rows)")
    print(f"search:            {figures['search_ms']:8.2f} ms   target < {TARGETS['search_ms']} ms")
    print(f"one field edit:    {figures['edit_ms']:8.2f} ms   target < {TARGETS['edit_ms']} ms "
          f"(persisted, fsync)")
    print(f"bytes on disk:     {size / 1e6:8.2f} MB")
    print(f"peak RSS:          {figures['peak_rss_mb']:8.1f} MB   "
          f"target < {TARGETS['peak_rss_mb']} MB")
    print("JSON " + json.dumps({"created_s": created, "disk_bytes": size, **figures}))


if __name__ == "__main__":
    main()
