"""Waiting helpers for the desktop app tests (not a test module): they wait on conditions, so a
test neither sleeps nor checks a screen before the work behind it is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def settle(qtbot: Any, timeout: int = 10000) -> None:
    """Wait until every worker has finished and its outcome has reached the GUI thread.

    A worker leaves the pending count before its result is posted to the GUI thread, and that
    result's callback may start more work; so the app is quiet only once no pool thread is
    running, the posted callbacks have run, and no new work came of them.
    """
    from PySide6.QtCore import QCoreApplication, QThreadPool

    from bullpen.ui import worker

    pool = QThreadPool.globalInstance()

    def quiet() -> bool:
        if worker.busy() or pool.activeThreadCount():
            return False
        QCoreApplication.sendPostedEvents()  # the finished workers' callbacks
        return not worker.busy() and not pool.activeThreadCount()

    qtbot.waitUntil(quiet, timeout=timeout)


def wait(qtbot: Any, predicate: Callable[[], Any], timeout: int = 10000) -> None:
    """Wait until ``predicate()`` is truthy (``qtbot.waitUntil`` wants a real bool)."""
    qtbot.waitUntil(lambda: bool(predicate()), timeout=timeout)
