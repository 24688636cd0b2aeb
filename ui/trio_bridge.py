"""Trio inside the Qt event loop (guest mode), so the libp2p node never freezes the GUI.

Trio's guest mode runs trio's scheduler on the Qt thread between Qt events: trio asks for its
callbacks to be run "soon", mostly from its I/O thread, about 140 times a second while the node
is busy. Those requests go into a :class:`GuiMailbox`: a locked list drained on the GUI thread,
woken by one posted ``QEvent`` per batch. Never a signal ``emit`` per request: PySide6 6.12.0
drops a reference to ``True`` on every ``SignalInstance.emit()`` (and to ``None`` on every
void call), and on Python 3.11, where those objects are not immortal, the app aborted after
60-95 s with ``Fatal Python error: bool_dealloc``. Fewer Qt calls per trio tick is cheaper on
any version; the PySide6 versions the app accepts are checked in :mod:`bullpen.ui.qt_check`.

Blocking work inside the node goes to ``trio.to_thread`` (the node does that for every
automerge and disk step), so the GUI thread only ever runs short slices. Measured on this
machine: longest GUI stall about 58 ms with two hosts exchanging 10 MiB.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import trio
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QTimer, Signal

T = TypeVar("T")
_WAKEUP = QEvent.Type(QEvent.registerEventType())


class GuiMailbox(QObject, Generic[T]):
    """Items put from any thread reach ``handler(items)`` on this object's (GUI) thread.

    One wakeup event is posted when the box goes from empty to non-empty, so a burst of puts
    costs one Qt call and one handler call; puts made while the handler runs start a new batch
    in a later event-loop turn, so a producer that never stops cannot starve the GUI."""

    def __init__(self, handler: Callable[[list[T]], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._handler = handler
        self._items: list[T] = []
        self._lock = threading.Lock()

    def put(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            if len(self._items) > 1:
                return  # the wakeup for this batch is already posted
        QCoreApplication.postEvent(self, QEvent(_WAKEUP))

    def event(self, event: QEvent) -> bool:
        if event.type() != _WAKEUP:
            return super().event(event)
        with self._lock:
            items, self._items = self._items, []
        if items:
            self._handler(items)
        return True


def _run_each(calls: list[Callable[[], Any]]) -> None:
    for fn in calls:
        fn()


class TrioGuest(QObject):
    """Runs one async function as a trio guest of the Qt loop; :meth:`stop` cancels it."""

    finished = Signal(object)  # None, or the exception the async function ended with

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._soon: GuiMailbox[Callable[[], Any]] = GuiMailbox(_run_each, self)
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self.running = False

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
            run_sync_soon_threadsafe=self._soon.put,
            done_callback=self._done,
            host_uses_signal_set_wakeup_fd=False,
        )

    def _done(self, outcome: Any) -> None:
        self.running = False
        self._token = None
        error = getattr(outcome, "error", None)
        self.finished.emit(error)  # once per run

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
