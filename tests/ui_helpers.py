"""Waiting helpers for the desktop app tests (not a test module): they wait on conditions, so a
test neither sleeps nor checks a screen before the work behind it is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def settle(qtbot: Any, timeout: int = 10000) -> None:
    """Wait until every worker has finished and the app stayed quiet through a turn of the
    event loop.

    A worker leaves the pending count before its result is posted to the GUI thread, and that
    result's callback (or a zero-delay timer, or a deferred deletion, which only a running
    event loop delivers) may start more work; so the app is quiet only once no pool thread
    runs, twice in a row, with the event loop run in between (``waitUntil`` runs it between
    checks).
    """
    from PySide6.QtCore import QThreadPool

    from bullpen.ui import worker

    pool = QThreadPool.globalInstance()
    quiet_checks = 0

    def quiet_twice() -> bool:
        nonlocal quiet_checks
        idle = not worker.busy() and not pool.activeThreadCount()
        quiet_checks = quiet_checks + 1 if idle else 0
        return quiet_checks >= 2

    qtbot.waitUntil(quiet_twice, timeout=timeout)


def wait(qtbot: Any, predicate: Callable[[], Any], timeout: int = 10000) -> None:
    """Wait until ``predicate()`` is truthy (``qtbot.waitUntil`` wants a real bool)."""
    qtbot.waitUntil(lambda: bool(predicate()), timeout=timeout)
