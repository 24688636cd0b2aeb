"""Running workspace operations off the GUI thread (Anki's pattern).

Every call into the workspace may wait on ``ws.lock`` (the sync node holds it while it merges a
peer's changes) or on an fsync, so the GUI never calls it directly for anything that can take
long: it hands a function to :func:`run_async`, and the result (or the error, in plain words)
comes back as a queued signal on the GUI thread. Workers never touch widgets.

Writes that must keep their order (a document's keystrokes) go through a :class:`SerialQueue`:
one worker thread, first in first out.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Relay(QObject):
    """Lives on the GUI thread; its signals carry a worker's outcome back there."""

    done = Signal(object, object)  # (callback, result)
    failed = Signal(object, object)  # (callback, exception)

    def __init__(self) -> None:
        super().__init__()
        self.done.connect(self._call)
        self.failed.connect(self._call)

    @Slot(object, object)
    def _call(self, callback: Callable[[Any], None], value: Any) -> None:
        if not _gone(callback):  # else the screen that asked was closed: nobody to tell
            callback(value)


def _gone(callback: Callable[..., Any], depth: int = 2) -> bool:
    """Whether ``callback`` acts on a Qt object whose C++ side is deleted (its screen closed
    while the work ran): the object of a bound method, or a Qt object or callable its closure
    holds, ``depth`` wrappers deep (``AppContext.run`` wraps a screen's callbacks in its own).
    Asked of the objects themselves, so no error message is parsed to find out."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, QObject) and not shiboken6.isValid(owner):
        return True
    for cell in (getattr(callback, "__closure__", None) or ()) if depth else ():
        try:
            held = cell.cell_contents
        except ValueError:  # a closure variable not bound yet
            continue
        if isinstance(held, QObject):
            if not shiboken6.isValid(held):
                return True
        elif callable(held) and _gone(held, depth - 1):
            return True
    return False


_relay: _Relay | None = None
_errors: list[Failed] = []  # the app's default error sink (status bar / message box)


def _the_relay() -> _Relay:
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


def set_default_error_handler(handler: Failed) -> None:
    """Where errors go when a caller gives no ``on_error`` (the main window's message box)."""
    _errors[:] = [handler]


def report_error(exc: BaseException) -> None:
    if _errors:
        _errors[0](exc)
    else:  # no window yet (tests, start-up): keep the trace on stderr, never lose it
        traceback.print_exception(exc)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], on_done: Done | None, on_error: Failed | None):
        super().__init__()
        self.fn, self.on_done, self.on_error = fn, on_done, on_error

    def run(self) -> None:
        relay = _the_relay()
        try:
            result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI
            relay.failed.emit(self.on_error or report_error, exc)
            return
        if self.on_done is not None:
            relay.done.emit(self.on_done, result)


_pending = 0
_pending_lock = threading.Lock()


def run_async(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Done | None = None,
    on_error: Failed | None = None,
) -> None:
    """Run ``fn(*args)`` on the thread pool; ``on_done(result)`` / ``on_error(exc)`` run on the
    GUI thread afterwards."""
    _the_relay()  # created on the calling (GUI) thread, so its slots run there

    def call() -> Any:
        global _pending
        try:
            return fn(*args)
        finally:
            with _pending_lock:
                _pending -= 1

    global _pending
    with _pending_lock:
        _pending += 1
    QThreadPool.globalInstance().start(_Task(call, on_done, on_error))


def busy() -> bool:
    """Whether any worker is still running (tests and the bench wait for quiet)."""
    with _pending_lock:
        return _pending > 0


class SerialQueue:
    """One worker thread running calls in submission order (edits to one text document)."""

    def __init__(self, name: str = "bullpen-serial") -> None:
        _the_relay()
        self._queue: queue.Queue[tuple[Callable[[], Any], Done | None, Failed | None] | None]
        self._queue = queue.Queue()
        self._outstanding = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def outstanding(self) -> int:
        """Calls submitted and not finished yet."""
        with self._lock:
            return self._outstanding

    def submit(self, fn: Callable[[], Any], on_done: Done | None = None,
               on_error: Failed | None = None) -> None:
        with self._lock:
            self._outstanding += 1
        self._queue.put((fn, on_done, on_error))

    def close(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        relay = _the_relay()
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, on_done, on_error = item
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001
                with self._lock:
                    self._outstanding -= 1
                relay.failed.emit(on_error or report_error, exc)
                continue
            with self._lock:
                self._outstanding -= 1
            relay.done.emit(on_done or (lambda _r: None), result)
