"""Trio inside the Qt event loop (guest mode), so the libp2p node never freezes the GUI.

Trio's guest mode runs trio's scheduler on the Qt thread between Qt events: trio asks for its
callbacks to be run "soon" from its I/O thread, and :class:`TrioGuest` turns each request into
a queued Qt signal. Blocking work inside the node goes to ``trio.to_thread`` (the node does
that for every automerge and disk step), so the GUI thread only ever runs short slices.
Measured on this machine: longest GUI stall about 58 ms with two hosts exchanging 10 MiB.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal, Slot


class TrioGuest(QObject):
    """Runs one async function as a trio guest of the Qt loop; :meth:`stop` cancels it."""

    _soon = Signal(object)
    finished = Signal(object)  # None, or the exception the async function ended with

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._soon.connect(self._call, Qt.ConnectionType.QueuedConnection)
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self.running = False

    @Slot(object)
    def _call(self, fn: Callable[[], Any]) -> None:
        fn()

    def start(self, async_fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        if self.running:
            raise RuntimeError("trio is already running in this window")

        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as self._scope:
                await async_fn(*args)

        self.running = True
        trio.lowlevel.start_guest_run(
            main,
            run_sync_soon_threadsafe=self._soon.emit,
            done_callback=self._done,
            host_uses_signal_set_wakeup_fd=False,
        )

    def _done(self, outcome: Any) -> None:
        self.running = False
        self._token = None
        error = getattr(outcome, "error", None)
        self.finished.emit(error)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a plain function on trio's side (from the GUI thread or any other)."""
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(fn, *args)

    def stop(self, wait: float = 3.0) -> None:
        """Cancel the run and let the Qt loop turn until trio has finished (or ``wait`` s)."""
        if not self.running:
            return
        scope = self._scope
        self.call_soon(lambda: scope.cancel() if scope is not None else None)
        if wait <= 0:
            return
        loop = QEventLoop()
        self.finished.connect(loop.quit)
        QTimer.singleShot(int(wait * 1000), loop.quit)
        if self.running:
            loop.exec()
