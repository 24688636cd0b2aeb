"""The main window: a sidebar of screens (Ctrl+1..9), search (Ctrl+K), the network state.

Screens load lazily the first time they are shown, so a cold start paints the pipeline
without reading documents, discussions or the calendar first.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from bullpen.app.members.identity import short_id

from . import interop, worker
from .base_view import BaseView
from .context import AppContext
from .notify_prefs import open_settings
from .search import SearchPopup
from .style import STYLE


def screen_classes() -> list[type[BaseView]]:
    """The screens in sidebar order; Ctrl+1 is the first."""
    from .calendar_view import CalendarView
    from .contacts_view import ContactsView
    from .discussions_view import DiscussionsView
    from .documents_view import DocumentsView
    from .forecast_view import ForecastView
    from .messages_view import MessagesView
    from .pipeline_view import PipelineView
    from .resources_view import ResourcesView
    from .team_view import TeamView

    return [PipelineView, ForecastView, DocumentsView, DiscussionsView, MessagesView,
            ResourcesView, CalendarView, ContactsView, TeamView]


SCREEN_OF_KIND = {
    "opportunity": "Pipeline", "document": "Documents", "topic": "Discussions",
    "post": "Discussions", "announcement": "Messages", "resource": "Resources",
    "event": "Calendar", "contact": "Contacts",
}


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(f"{ctx.ws.title or 'Bullpen'} — Bullpen")
        self.setStyleSheet(STYLE)
        self.resize(1280, 800)
        self.sidebar = QListWidget(self)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(170)
        self.sidebar.setIconSize(QSize(0, 0))
        self.stack = QStackedWidget(self)
        self.screens: dict[str, BaseView] = {}
        for number, cls in enumerate(screen_classes(), start=1):
            screen = cls(ctx, self.stack)
            self.screens[cls.title] = screen
            self.stack.addWidget(screen)
            item = QListWidgetItem(f"{cls.title}")
            item.setToolTip(f"Ctrl+{number}")
            self.sidebar.addItem(item)
            QShortcut(QKeySequence(f"Ctrl+{number}"), self,
                      lambda n=number - 1: self.go(n))
        self.sidebar.currentRowChanged.connect(self._show_screen)
        body = QWidget(self)
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)

        self.search = SearchPopup(ctx, self)
        self.search.chosen.connect(self.open_record)
        QShortcut(QKeySequence("Ctrl+K"), self, self.search.popup)
        self.network_label = QLabel(self)
        self.network_label.setObjectName("network")
        self.peer_label = QLabel(f"you: {short_id(ctx.ws.peer_id)}", self)
        self.peer_label.setToolTip(f"Your peer id: {ctx.ws.peer_id}")
        self.statusBar().addPermanentWidget(self.network_label)
        self.statusBar().addPermanentWidget(self.peer_label)
        self.set_network_state({"online": False, "peers": [], "error": ""})
        ctx.status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        ctx.error.connect(self.show_error)
        ctx.open_record.connect(lambda kind, rid: self.open_record(kind, rid))
        worker.set_default_error_handler(ctx.show_error)
        self._menus()
        self.sidebar.setCurrentRow(0)

    # --- navigation ---

    def go(self, number: int) -> None:
        if 0 <= number < self.sidebar.count():
            self.sidebar.setCurrentRow(number)

    def _show_screen(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        screen = self.stack.currentWidget()
        if isinstance(screen, BaseView):
            screen.ensure_loaded()

    def screen(self, title: str) -> BaseView:
        return self.screens[title]

    def open_record(self, kind: str, record_id: str) -> None:
        title = SCREEN_OF_KIND.get(kind)
        if title is None:
            return
        self.go(list(self.screens).index(title))
        self.screens[title].show_record(record_id)

    # --- menus ---

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for verb, run in (("Import", interop.import_file), ("Export", interop.export_file)):
            for what, fmt in interop.FORMATS.items():
                action = QAction(f"{verb} {fmt.label.lower()}…", self)
                action.triggered.connect(lambda _=False, w=what, r=run: r(self.ctx, self, w))
                file_menu.addAction(action)
            file_menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        go_menu = self.menuBar().addMenu("&Go")
        search = QAction("Search everything…", self)
        search.setShortcut(QKeySequence("Ctrl+K"))
        search.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the QShortcut owns it
        search.triggered.connect(self.search.popup)
        go_menu.addAction(search)
        go_menu.addSeparator()
        for number, title in enumerate(self.screens, start=1):
            action = QAction(f"{title}\tCtrl+{number}", self)
            action.triggered.connect(lambda _=False, n=number - 1: self.go(n))
            go_menu.addAction(action)
        settings_menu = self.menuBar().addMenu("&Settings")
        notifications = QAction("Notifications…", self)
        notifications.triggered.connect(lambda: open_settings(self.ctx, self))
        settings_menu.addAction(notifications)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("About Bullpen", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "Bullpen", "Bullpen: a peer-to-peer, offline-first sales office.\n"
            "Your data lives on your team's PCs and syncs directly between them."))
        help_menu.addAction(about)

    # --- state shown in the status bar ---

    def set_network_state(self, state: dict[str, Any]) -> None:
        peers = state.get("peers") or []
        connected = [p for p in peers if p.get("connected")]
        if state.get("online"):
            text = f"● Online · {len(connected)} of {len(peers)} peers connected"
            self.network_label.setProperty("state", "online")
        else:
            text = "● Offline"
            self.network_label.setProperty("state", "offline")
        reason = state.get("error") or ""
        self.network_label.setToolTip(
            "\n".join(state.get("listening") or []) or (reason or "Not connected"))
        self.network_label.setText(text)
        self.network_label.style().unpolish(self.network_label)
        self.network_label.style().polish(self.network_label)
        team = self.screens.get("Team")
        if team is not None and hasattr(team, "set_network_state"):
            team.set_network_state(state)

    def show_error(self, message: str) -> None:
        """Plain words in a window-modal box (never blocks the event loop) and the status
        bar."""
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Bullpen", message,
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_error = message

    last_error = ""

    def closeEvent(self, event: QCloseEvent) -> None:
        for screen in self.screens.values():
            close = getattr(screen, "shutdown", None)
            if close is not None:
                close()
        super().closeEvent(event)
