"""What every screen shares: the open workspace, live changes, member names, errors, network.

Screens never subscribe to the workspace themselves: the workspace calls its listeners on
whichever thread wrote (a worker, the sync node's threads), and a listener must not touch
widgets there. :class:`ChangeHub` is the one listener; it queues each ChangeSet to the GUI
thread and hands the screens one *batch* per wakeup, so a burst of 100 received
changes costs each open view one refresh of just those ids.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from bullpen.app.members.identity import short_id
from bullpen.app.workspace import ChangeSet, Workspace

from . import worker
from .trio_bridge import GuiMailbox


class ChangeHub(QObject):
    """Workspace ChangeSets (any thread) -> ``batch`` (GUI thread, one list per wakeup).

    The sync node's threads deliver ChangeSets at network speed, so they go through a
    :class:`GuiMailbox` (one posted event per batch), never a signal emit per ChangeSet."""

    batch = Signal(list)  # list[ChangeSet]

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self._mailbox: GuiMailbox[ChangeSet] = GuiMailbox(self.batch.emit, self)
        self._unsubscribe = ws.subscribe(self._mailbox.put)

    def close(self) -> None:
        self._unsubscribe()


def apply_updates(records: dict[str, Any], updates: dict[str, Any]) -> None:
    """Bring a screen's records by id up to date with ``updates`` (None: removed)."""
    for rid, record in updates.items():
        if record is None:
            records.pop(rid, None)
        else:
            records[rid] = record


def merged_after(changes: list[ChangeSet], kinds: set[str] | None = None) -> dict[str, Any]:
    """Latest known value per record id over a batch (None: deleted or gone).

    ``kinds`` keeps only records of those kinds (by their value after, else before)."""
    out: dict[str, Any] = {}
    for change in changes:
        for rid in change.ids:
            after = change.after.get(rid)
            before = change.before.get(rid)
            sample = after or before
            if kinds is not None and (sample is None or sample.get("kind") not in kinds):
                continue
            out[rid] = after if after and not after.get("deleted") else None
    return out


def expected_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the input's or the data's fault (its class says so: a user error,
    bad values, the file system), not Bullpen's: then its message alone is shown."""
    from bullpen.app.errors import user_error_types

    return isinstance(exc, (*user_error_types(), ValueError, OSError))


def plain_error(exc: BaseException) -> str:
    """One line a person can act on; unexpected errors say so without a traceback."""
    if expected_error(exc):
        return str(exc) or type(exc).__name__
    return f"Something unexpected went wrong ({type(exc).__name__}: {exc})"


class AppContext(QObject):
    """The open workspace plus what the screens share about it."""

    status = Signal(str)  # a short message for the status bar
    error = Signal(str)  # a plain-words error for a message box
    open_record = Signal(str, str)  # (kind, id): a screen asks the window to show a record
    names_changed = Signal()

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.hub = ChangeHub(ws)
        self.network: Any = None  # ui.network.Network once started
        self._names: dict[str, str] = {}
        self.reload_names()
        self.hub.batch.connect(self._on_batch)

    # --- names ---

    def reload_names(self) -> None:
        """Peer id -> member name, including members who left (their history keeps names)."""
        from bullpen.app.sales.use_cases import author_names

        try:
            self._names = author_names(self.ws)
        except Exception:  # noqa: BLE001 - names are a nicety; ids still show
            self._names = {}
        self._names.setdefault(self.ws.peer_id, self.ws.name)
        self.names_changed.emit()

    def name_of(self, peer_id: str | None) -> str:
        if not peer_id:
            return ""
        return self._names.get(peer_id) or short_id(peer_id)

    def _on_batch(self, changes: list[ChangeSet]) -> None:
        if any(c.doc_id == "index" for c in changes):
            self.reload_names()

    # --- running work ---

    def run(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None] | None = None,
            failed: Callable[[BaseException], None] | None = None, what: str = "") -> None:
        """Run a workspace call off the GUI thread; errors go to the window in plain words."""

        def on_error(exc: BaseException) -> None:
            if failed is not None:
                failed(exc)
            self.show_error(exc, what)

        worker.run_async(fn, *args, on_done=done, on_error=on_error)

    def show_error(self, exc: BaseException, what: str = "") -> None:
        if not expected_error(exc):
            traceback.print_exception(exc)  # for a bug report; the user sees one line
        message = plain_error(exc)
        self.error.emit(f"{what}: {message}" if what else message)

    def close(self) -> None:
        self.hub.close()
