"""Small helpers for the child processes Bullpen starts (demo teammates) and that tests,
benchmarks and the bundle smoke test start: reading a node's address, stopping politely."""

from __future__ import annotations

import selectors
import subprocess
import time

LISTENING = "listening on "


def read_listen_address(proc: subprocess.Popen, timeout: float) -> str | None:
    """The multiaddr a ``serve``-like child prints first (``listening on ADDR``), or None when
    it exits or stays silent for ``timeout`` seconds."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = proc.stdout.readline()
                if line.startswith(LISTENING):
                    return line[len(LISTENING):].split()[-1]
                if not line and proc.poll() is not None:
                    return None
    finally:
        selector.close()
    return None


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it does not exit within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
