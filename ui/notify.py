"""System tray notifications for the events this user subscribed to (and nothing else).

Which changes notify whom is ``app.notifications.rules`` through ``app.notifications.inbox``
(stored per profile); this module feeds the inbox the ChangeSets the app sees, off the GUI
thread and in order, and shows the fresh notifications as tray messages. Without a system
tray (offscreen, some desktops) the notifications are still stored and listed in the Message Center.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QSystemTrayIcon

from bullpen.app.workspace import ChangeSet

from .context import AppContext
from .worker import SerialQueue


def app_icon() -> QIcon:
    """A drawn icon (no image files to ship): a blue rounded square with a 'B'."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#2f6fde"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(4, 4, 56, 56, 12, 12)
    painter.setPen(QColor("white"))
    font = painter.font()
    font.setPixelSize(38)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "B")
    painter.end()
    return QIcon(pixmap)


class Notifier(QObject):
    notified = Signal(list)  # the fresh Notification objects

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from bullpen.app.notifications.inbox import NotificationInbox

        self.ctx = ctx
        self.inbox = NotificationInbox(ctx.ws, listen=False)
        self.queue = SerialQueue("bullpen-notifications")
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip(f"Bullpen — {ctx.ws.title}")
            self.tray.show()
        ctx.hub.batch.connect(self._on_batch)
        # my action items due today or overdue, once each (app/sales/action_items.py)
        self.queue.submit(self.inbox.remind_due, on_done=self._show, on_error=lambda _e: None)

    def _on_batch(self, changes: list[ChangeSet]) -> None:
        for change in changes:
            if change.doc_id.startswith("doc:") or not change.ids:
                continue
            self.queue.submit(lambda c=change: self.inbox.receive(c), on_done=self._show,
                              on_error=lambda _e: None)  # never let a rule break the app

    def _show(self, notes: list[Any]) -> None:
        if not notes:
            return
        self.notified.emit(notes)
        if self.tray is None:
            return
        if len(notes) == 1:
            self.tray.showMessage(notes[0].title, notes[0].text, app_icon(), 8000)
        else:
            self.tray.showMessage(f"{len(notes)} updates", "\n".join(n.title for n in notes[:4]),
                                  app_icon(), 8000)

    def close(self) -> None:
        self.queue.close()
        if self.tray is not None:
            self.tray.hide()
