"""A reader of a command's output that goes away (``bullpen history ID --json | head``) ends
the command quietly, as SIGPIPE ends other commands: no "unexpected error" line."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers_procs import Cli, env


def test_a_closed_pipe_ends_a_listing_quietly(cli: Cli):
    deal = cli.add_opp()
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the command's first write meets a closed pipe
    try:
        proc = subprocess.run([sys.executable, "-m", "bullpen.cli", "history", deal, "--json"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True,
                              env=env({"BULLPEN_HOME": str(cli.home)}), timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 128 + 13
