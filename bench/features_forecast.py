"""Time ``rollup`` over 10,000 opportunities and 20 owners; the budget is 100 ms.

Run: ``python bench/features_forecast.py [--runs N]``. Prints the median of several runs so a
single slow run (GC, a busy laptop) does not decide the answer.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bullpen.app.sales.forecast import rollup
from bullpen.crdt.schema import DEFAULT_STAGES

OWNERS = [f"Rep{i:02d}" for i in range(20)]
TEAMS = {"Rep00": OWNERS[1:10], "Rep10": OWNERS[11:19]}
BUDGET_MS = 100.0


def make_opps(count: int = 10_000, seed: int = 7) -> list[dict]:
    """Opportunities spread over 2026 in three currencies, like a busy year's pipeline."""
    rng = random.Random(seed)
    opps = []
    for i in range(count):
        stage = rng.choice(DEFAULT_STAGES)
        opps.append(
            {
                "id": f"opp{i}",
                "account": f"Account {i % 500}",
                "title": f"Deal {i}",
                "amount": float(rng.randrange(1_000, 500_000)),
                "currency": rng.choice(("USD", "USD", "EUR", "GBP")),
                "stage": stage.id,
                "probability": stage.probability,
                "category": stage.category,
                "close_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "owner": rng.choice(OWNERS),
                "created_at": "2026-01-01T00:00:00+00:00",
                "created_by": "Dana",
                "updated_at": "2026-01-01T00:00:00+00:00",
                "updated_by": "Dana",
            }
        )
    return opps


def time_rollup(opps: list[dict], by: str, runs: int) -> float:
    quotas = {(owner, "2026"): 2_000_000.0 for owner in OWNERS}
    rates = {"EUR": 1.08, "GBP": 1.27}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rollup(opps, "2026", by=by, quotas=quotas, rates=rates, base_currency="USD", teams=TEAMS)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    opps = make_opps()
    for by in ("owner", "team", "stage"):
        median = time_rollup(opps, by, args.runs)
        verdict = "ok" if median < BUDGET_MS else "OVER BUDGET"
        print(f"rollup by={by:<5} 10,000 opps, 20 owners: median {median:.1f} ms ({verdict})")


if __name__ == "__main__":
    main()
