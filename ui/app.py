"""``bullpen`` / ``bullpen gui`` / ``bullpen demo``: the desktop app's entry point.

Start-up order, and why: the profile is opened first (the passphrase dialog, if any, comes
before any window), then the main window is built and painted with the pipeline loading in a
worker, and only then does the sync node start as a trio guest of the Qt loop, so neither
loading nor networking delays the first paint. Long start-up work (preparing the demo office,
joining with an invite) runs in a worker behind a busy dialog.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

from bullpen.app.workspace import STORE_FILE, Workspace

from . import qt_check, worker
from .context import AppContext, plain_error
from .main_window import MainWindow
from .network import Network, NodeFactory, default_node_factory
from .notify import Notifier, app_icon

REFRESH_MS = 1000  # without a node, pick up other processes' writes (the CLI) this often


def application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Bullpen")
    app.setOrganizationName("Bullpen")
    app.setWindowIcon(app_icon())
    return app


def blocking(text: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a worker while the Qt loop keeps painting (a busy dialog after 0.3 s);
    returns its result or raises its error."""
    from .interop import busy

    outcome: dict[str, Any] = {}
    loop = QEventLoop()
    dialog = busy(None, text)  # type: ignore[arg-type]

    def done(result: Any) -> None:
        outcome["result"] = result
        loop.quit()

    def failed(exc: BaseException) -> None:
        outcome["error"] = exc
        loop.quit()

    worker.run_async(fn, *args, on_done=done, on_error=failed)
    loop.exec()
    dialog.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def ask_passphrase(home: str) -> str | None:
    text, ok = QInputDialog.getText(None, "Bullpen", f"Passphrase for {home}:",
                                    QLineEdit.EchoMode.Password)
    return text if ok and text else None


class Session:
    """A window over an open workspace, with its network, notifications and refresh."""

    def __init__(self, ws: Workspace, *, network_factory: NodeFactory | None = None,
                 notifications: bool = True) -> None:
        self.ws = ws
        self.ctx = AppContext(ws)
        self.window = MainWindow(self.ctx)
        self.notifier: Notifier | None = None
        if notifications:
            self.notifier = Notifier(self.ctx, self.window)
            self.ctx.notifier = self.notifier  # type: ignore[attr-defined]
        self.network = Network(ws, network_factory, self.window)
        self.ctx.network = self.network
        self.network.state_changed.connect(self.window.set_network_state)
        self._refreshing = False
        self.refresh_timer = QTimer(self.window)
        self.refresh_timer.setInterval(REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)
        self._stop_compaction = ws.start_background_compaction()

    def start(self) -> None:
        """Show the window; the network starts once the first frame is up."""
        self.window.show()
        QTimer.singleShot(0, self._start_network)

    def _start_network(self) -> None:
        self.network.start()
        if not self.network.guest.running:
            self.refresh_timer.start()  # the node polls the store itself when it runs

    def refresh(self) -> None:
        """Pick up changes another process (the CLI, a second app) wrote to this profile."""
        if self._refreshing:
            return
        self._refreshing = True

        def finished(_result: Any = None) -> None:
            self._refreshing = False

        worker.run_async(self.ws.refresh, on_done=finished, on_error=finished)

    def close(self) -> None:
        self.refresh_timer.stop()
        self.network.stop()
        if self.notifier is not None:
            self.notifier.close()
        for screen in self.window.screens.values():
            shutdown = getattr(screen, "shutdown", None)
            if shutdown is not None:
                shutdown()
        self._stop_compaction.set()
        self.ctx.close()


def _first_start(home: Path) -> tuple[str, dict[str, str]] | None:
    from .first_start import FirstStartDialog

    dialog = FirstStartDialog(str(home), needs_passphrase=False)
    if not dialog.exec():
        return None
    return dialog.choice(), {"name": dialog.name.text().strip(),
                             "title": dialog.title.text().strip(),
                             "code": dialog.code.toPlainText().strip(),
                             "passphrase": dialog.passphrase.text()}


def _open_asking(home: Path, tries: int = 3) -> Workspace | None:
    """Open an existing profile, asking for its passphrase again when the one typed does not
    unlock the key (None after ``tries``). Which failure that was is decided by what was typed
    and whether the key unlocks with it (:func:`unlock`, ``ProfileLocked``), not by the error's
    words; only a failed try pays for the second unlock."""
    from bullpen.app.storage.keys import ProfileLocked, unlock

    typed: list[str] = []

    def ask(where: str) -> str | None:
        text = ask_passphrase(where)
        typed.append(text or "")
        return text

    for _attempt in range(tries):
        typed.clear()
        try:
            return Workspace.open(home, ask=ask)
        except ProfileLocked:
            if not typed or not typed[-1]:
                raise  # nobody was asked (the environment's passphrase), or nothing typed
            try:
                unlock(home, passphrase=typed[-1])
            except ProfileLocked:
                QMessageBox.warning(None, "Bullpen", "Wrong passphrase, please try again.")
                continue
            raise  # the key unlocks: something else is locked or damaged
    return None


def _open_profile(home: Path) -> tuple[Workspace, NodeFactory | None, Any] | None:
    """The workspace to show (creating or joining one on first start), its network, and a
    demo office to clean up (or None)."""
    if (home / STORE_FILE).exists():
        ws = _open_asking(home)
        return None if ws is None else (ws, default_node_factory(), None)
    answer = _first_start(home)
    if answer is None:
        return None
    choice, fields = answer
    if choice == "demo":
        return _open_demo()
    passphrase = fields["passphrase"] or None
    if choice == "create":
        ws = Workspace.create(home, fields["name"], fields["title"], passphrase=passphrase)
        return ws, default_node_factory(), None
    from bullpen.app.members.joining import join_workspace

    if passphrase:
        os.environ.setdefault("BULLPEN_PASSPHRASE", passphrase)
    blocking("Joining the workspace and receiving its data…", lambda: join_workspace(
        home, fields["code"], fields["name"], listen=["/ip4/0.0.0.0/tcp/0"],
        ask=lambda _h: passphrase))
    return Workspace.open(home, passphrase=passphrase), default_node_factory(), None


def _open_demo() -> tuple[Workspace, NodeFactory | None, Any]:
    from bullpen.app.demo.runner import prepare_office

    office = blocking("Preparing the demo office…", prepare_office)
    factory = default_node_factory(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False)
    try:
        blocking("Starting your simulated teammates…", office.start_teammates)
    except Exception as exc:  # noqa: BLE001 - the demo still works offline
        QMessageBox.information(None, "Bullpen", "The simulated teammates could not start "
                                f"({plain_error(exc)}); the demo runs offline.")
    return Workspace.open(office.home, passphrase=office.passphrase), factory, office


def _quit_on_signals(app: QApplication) -> None:
    """SIGTERM/SIGINT close the app like its window would (so the demo's teammates stop too).
    Python handles signals only between bytecodes, so a timer wakes the interpreter."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.quit())
    waker = QTimer(app)
    waker.timeout.connect(lambda: None)
    waker.start(250)


def run(home: Path, *, demo: bool = False) -> int:
    """Open the app on ``home`` (first start: create, join or demo); returns the exit code."""
    problem = qt_check.refusal()
    if problem:
        print(f"bullpen: {problem}", file=sys.stderr)
        return 1
    warning = qt_check.warning()
    if warning:
        print(f"bullpen: warning: {warning}", file=sys.stderr)
    app = application()
    office = None
    try:
        opened = _open_demo() if demo else _open_profile(home)
    except Exception as exc:  # noqa: BLE001 - plain words, never a traceback
        QMessageBox.critical(None, "Bullpen", plain_error(exc))
        return 1
    if opened is None:
        return 0
    ws, factory, office = opened
    session = Session(ws, network_factory=factory)
    session.start()
    _quit_on_signals(app)
    quit_after = os.environ.get("BULLPEN_QUIT_AFTER")  # seconds: smoke runs of the real app
    if quit_after:
        QTimer.singleShot(int(float(quit_after) * 1000), app.quit)
    try:
        return app.exec()
    finally:
        session.close()
        ws.close()
        if office is not None:
            office.remove()
