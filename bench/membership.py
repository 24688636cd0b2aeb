"""Membership benchmark: verifying a 500-entry log, and the per-connection membership check.

Prints the time to verify (signatures + replay) a membership log of 500 entries (target
< 50 ms) and the cost of the check a node makes when a peer connects (target < 5 ms): the
cached verified state answering "is this peer id a current member, with which role".

    python bench/membership.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bullpen.app import membership
from bullpen.app.identity import Identity
from bullpen.app.membership import replay
from bullpen.app.workspace import Workspace


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.create(Path(tmp) / "p", "Dana", "Bench", passphrase="bench")
        peers = [Identity.generate().peer_id for _ in range(499)]
        for i, peer in enumerate(peers):
            ws.add_member(peer, "rep" if i % 10 else "guest", f"Member {i}")
        log = ws.membership_log()
        assert len(log) == 500
        verify = []
        for _ in range(7):
            membership._VERIFIED.clear()  # cold: every signature checked again
            started = time.perf_counter()
            state = replay(log, ws.workspace_id)
            verify.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        replay(log, ws.workspace_id)
        warm = (time.perf_counter() - started) * 1000
        assert len(state.members) == 500 and not state.rejected
        checks = []
        for peer in peers[:200]:
            started = time.perf_counter()
            allowed = ws.role(peer) is not None
            checks.append((time.perf_counter() - started) * 1000)
            assert allowed
        ws.close()
    print(f"verify a 500-entry membership log: {statistics.median(verify):7.2f} ms "
          f"(median of {len(verify)}, cold; target < 50 ms)")
    print(f"re-verify after one new entry:      {warm:7.2f} ms (verified entries remembered)")
    print(f"per-connection membership check:  {statistics.median(checks):7.3f} ms "
          f"(median of {len(checks)}; p95 {sorted(checks)[int(len(checks) * .95)]:.3f} ms; "
          f"target < 5 ms)")


if __name__ == "__main__":
    main()
