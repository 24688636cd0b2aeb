"""Issue 12/13: a removed member's ``bullpen sync --once`` says why the peer refused it.

It printed only "peer hung up": the refusing node reset the sync stream unanswered. Now it
tells a peer it does not admit that it is not a member (nothing else: not the workspace,
not a name), and the dialer says so in one line with a non-zero exit. Real processes on
loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_procs import Serve, cli, make_profiles

pytestmark = pytest.mark.slow


def test_a_removed_member_is_told_it_is_no_longer_a_member(tmp_path: Path):
    dana, eli = make_profiles(tmp_path, ["Dana", "Eli"])
    with Serve(dana) as node:
        cli(eli, "sync", "--peer", node.addr, "--once")  # they met: Eli knows her name
        cli(dana, "member", "remove", "Eli")
        proc = cli(eli, "sync", "--peer", node.addr, "--once", "--timeout", "30", check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "refused" in lines[0] and "not (or no longer) a member" in lines[0], lines[0]
    assert "peer Dana (" in lines[0]  # named, not only by a short id
    assert "hung up" not in lines[0] and "Traceback" not in proc.stderr

