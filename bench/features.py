"""Time the sales features end to end on real (encrypted, on-disk) workspaces.

Run: ``python bench/features.py``. Prints: the forecast roll-up over 10,000 opportunities and
20 owners (pure and through the workspace; budget 100 ms), a CSV import of 10,000 rows
(budget 10 s) and its re-import (all unchanged), an XLSX export of 10,000 rows, and an .ics
import of 2,000 events. Opportunities come from ``features_forecast.make_opps``.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("BULLPEN_PASSPHRASE", "bench passphrase")

from features_forecast import OWNERS, make_opps  # noqa: E402

from bullpen.app import transfer  # noqa: E402
from bullpen.app.interop.ical import write_ical  # noqa: E402
from bullpen.app.interop.opportunities import write_opportunities  # noqa: E402
from bullpen.app.sales import use_cases as sales
from bullpen.app.sales.forecast import rollup  # noqa: E402
from bullpen.app.workspace import Workspace  # noqa: E402

FIELDS = ("account", "title", "amount", "currency", "stage", "probability", "category",
          "close_date", "owner")  # fmt: skip


def timed(fn: Callable[[], Any], runs: int = 1) -> tuple[float, Any]:
    """(median seconds, last result) over ``runs`` calls."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def report(label: str, seconds: float, budget: float | None = None) -> None:
    shown = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
    verdict = "" if budget is None else (" (ok)" if seconds < budget else " (OVER BUDGET)")
    print(f"{label:<52} {shown}{verdict}")


def file_rows(count: int) -> list[dict[str, Any]]:
    """Opportunities as a CRM export has them: an external id, no Bullpen id."""
    return [{**{k: o[k] for k in FIELDS}, "external_id": f"CRM-{i:06d}"}
            for i, o in enumerate(make_opps(count))]  # fmt: skip


def make_events(count: int) -> list[dict[str, Any]]:
    start = dt.datetime(2026, 9, 1, 9, 0)
    return [
        {
            "title": f"Call {i}",
            "start": (start + dt.timedelta(hours=7 * i)).isoformat(),
            "end": (start + dt.timedelta(hours=7 * i, minutes=30)).isoformat(),
            "timezone": "Europe/Berlin",
            "location": f"Room {i % 12}",
            "attendees": [f"rep{i % 20}@example.com", f"buyer{i}@customer.example"],
            "description": f"Agenda item {i}",
            "external_id": f"evt-{i}@bench",
        }
        for i in range(count)
    ]


def main() -> None:
    opps = make_opps()
    quotas = {(owner, "2026"): 2_000_000.0 for owner in OWNERS}
    seconds, _ = timed(lambda: rollup(opps, "2026", quotas=quotas, rates={"EUR": 1.08,
                                      "GBP": 1.27}, base_currency="USD"), runs=15)  # fmt: skip
    report("forecast rollup, 10,000 opps, 20 owners (pure)", seconds, 0.1)

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        ws = Workspace.create(home / "ws", "Dana", "Bench Sales", currency="USD")
        csv_path = home / "crm.csv"
        write_opportunities(csv_path, file_rows(10_000), "csv")

        seconds, result = timed(lambda: transfer.import_opportunities(ws, csv_path))
        report(f"CSV import, {len(result.created):,} rows (created)", seconds, 10.0)
        seconds, result = timed(lambda: transfer.import_opportunities(ws, csv_path))
        report(f"CSV re-import, {result.unchanged:,} rows (unchanged)", seconds, 10.0)

        sales.set_rate(ws, "EUR", 1.08)
        sales.set_rate(ws, "GBP", 1.27)
        for owner in OWNERS:
            sales.set_quota(ws, owner, "2026", 2_000_000)
        seconds, _ = timed(lambda: sales.forecast(ws, "2026", auto_snapshot=False), runs=7)
        report("forecast over the workspace, 10,000 opps, 20 owners", seconds, 0.1)

        xlsx = home / "pipeline.xlsx"
        seconds, count = timed(lambda: transfer.export_opportunities(ws, xlsx))
        report(f"XLSX export, {count:,} rows", seconds)

        ics = home / "calendar.ics"
        write_ical(ics, make_events(2_000))
        seconds, result = timed(lambda: transfer.import_calendar(ws, ics))
        report(f".ics import, {len(result.created):,} events", seconds)
        ws.close()


if __name__ == "__main__":
    main()
