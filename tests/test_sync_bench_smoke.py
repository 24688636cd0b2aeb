"""Regression guard for the sync benchmark: ``bench/sync.py --quick`` (1,000 records, real peer
processes) must stay within 5x of the figures committed in bench/RESULTS.md.

Only a gross regression fails: each limit is 5x the committed figure and at least that figure
plus a generous absolute slack, so a busy CI machine's noise never does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FACTOR = 5.0
SLACK = {"_s": 1.0, "_ms": 50.0, "_mb": 0.25, "rss_mb": 150.0}


def committed_quick() -> dict[str, float]:
    text = (ROOT / "bench" / "RESULTS.md").read_text()
    found = re.search(r"<!-- quick-figures -->\s*```json\n(.*?)```", text, re.S)
    assert found, "bench/RESULTS.md lacks the committed --quick figures block"
    return json.loads(found.group(1))


def limit(key: str, value: float) -> float:
    slack = SLACK["rss_mb"] if key == "rss_mb" else next(
        v for suffix, v in SLACK.items() if key.endswith(suffix))
    return max(FACTOR * value, value + slack)


@pytest.mark.slow
def test_quick_sync_bench_has_no_gross_regression(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sync.py"), "--quick", "--runs", "1",
         "--no-anchor", "--json", str(out)],
        capture_output=True, text=True, timeout=280, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ours = json.loads(out.read_text())["ours"]
    too_slow = {
        key: f"{ours[key]:.3g} > {limit(key, ref):.3g} (committed {ref:.3g})"
        for key, ref in committed_quick().items()
        if ours[key] > limit(key, ref)
    }
    assert not too_slow, f"sync benchmark regressed grossly: {too_slow}\n{proc.stdout}"
