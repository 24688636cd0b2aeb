"""The network as a pluggable object: the sync node running in the app, or nothing (offline).

The main window only knows :class:`Network`'s signals (online state, peers); which node runs is
decided by a *factory* ``factory(ws) -> node`` where a node has ``async run(task_status=...)``
(reporting its listen addresses), ``peer_states()`` and ``stop()``, the interface of
the app layer's ``make_node``. Tests pass no factory and the app shows "offline".

The ChangeSets the node produces reach the screens through the workspace listeners (the
ChangeHub), like every other change, so nothing here forwards data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio
from PySide6.QtCore import QObject, Signal

from .trio_bridge import TrioGuest

NodeFactory = Callable[[Any], Any]
STATE_INTERVAL = 1.0  # seconds between peer-state reports to the GUI
log = logging.getLogger("bullpen.ui")


def default_node_factory(*, listen: list[str] | None = None,
                         mdns: bool = True) -> NodeFactory | None:
    """The libp2p node (members only, as ``bullpen serve``), if this installation has it."""
    try:
        import libp2p  # noqa: F401

        from bullpen.app.logs import configure_logging
        from bullpen.app.network.node_setup import make_node
    except ImportError:
        return None
    configure_logging()
    addrs = listen or ["/ip4/0.0.0.0/tcp/0"]

    def make(ws: Any) -> Any:
        return make_node(ws, listen=addrs, mdns=mdns)

    return make


class Network(QObject):
    """Runs a node as a trio guest and reports its state to the GUI."""

    state_changed = Signal(dict)  # {"online", "listening", "peers", "error"}

    def __init__(self, ws: Any, factory: NodeFactory | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.factory = factory
        self.node: Any = None
        self.guest = TrioGuest(self)
        self.guest.finished.connect(self._finished)
        self.state: dict[str, Any] = {"online": False, "listening": [], "peers": [],
                                      "error": "" if factory else "network not started"}

    @property
    def online(self) -> bool:
        return bool(self.state["online"])

    def start(self) -> None:
        if self.factory is None:
            self.state_changed.emit(self.state)
            return
        try:
            self.node = self.factory(self.ws)
        except Exception as exc:  # noqa: BLE001 - no network is a state, not a crash
            self._set(online=False, error=str(exc))
            return
        self.guest.start(self._main)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            addrs = await nursery.start(self._run_node)
            self._set(online=True, listening=list(addrs or []), error="")
            while True:
                self._report()
                await trio.sleep(STATE_INTERVAL)

    async def _run_node(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await self.node.run(task_status=task_status)

    def _report(self) -> None:
        try:
            peers = [p.to_json() if hasattr(p, "to_json") else dict(p)
                     for p in self.node.peer_states()]
        except Exception:  # noqa: BLE001 - a snapshot read mid-update: next round
            return
        if peers != self.state["peers"]:
            self._set(peers=peers)

    def _set(self, **changes: Any) -> None:
        self.state = {**self.state, **changes}
        self.state_changed.emit(self.state)

    def _finished(self, error: BaseException | None) -> None:
        reason = ""
        if error is not None and not isinstance(error, trio.Cancelled):
            reason = _one_line(error)
            log.warning("sync node stopped: %s", reason)
        self._set(online=False, peers=[], error=reason or "stopped")

    def stop(self) -> None:
        self.guest.stop()


def _one_line(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
