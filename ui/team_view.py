"""Team: members with role and online state, sync state per peer, invites and removal.

Members come from the verified membership log (``ws.members``); online state and sync progress
from the running node's peer states (via :class:`~bullpen.ui.network.Network`). Inviting and
removing are managers' actions: the buttons are disabled for others with a tooltip saying why.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.members.identity import short_id
from bullpen.app.workspace import ChangeSet

from .base_view import BaseView, ok_cancel
from .context import AppContext

HEADERS = ["Name", "Role", "Online", "Sync", "Last seen", "Peer"]
ONLINE = "● online"


def sync_text(peer: dict[str, Any] | None) -> str:
    if peer is None:
        return "never connected"
    behind = peer.get("docs_behind")
    if not peer.get("connected"):
        return "offline"
    if behind is None:
        return "connecting…"
    text = "in sync" if behind == 0 else f"{behind} documents to sync"
    return text + held_back(peer)


def online_text(you: bool, running: bool, peer: dict[str, Any] | None) -> str:
    """The Online cell, from this app's node: you are online while it runs (listening), a
    teammate while its link is up; with the node stopped nobody's state is known (yours is
    offline), so it says that instead of guessing."""
    if you:
        return ONLINE if running else "offline"
    if not running:
        return "unknown (sync off)"
    return ONLINE if peer and peer.get("connected") else "offline"


def held_back(peer: dict[str, Any]) -> str:
    """What is not accepted from this peer (changes by a removed member it relays), and what
    it does not accept from us."""
    out = ""
    for key, words in (("refused", "holding back"), ("held_by_peer", "refuses ours:")):
        docs = peer.get(key) or {}
        if docs:
            reason = next(iter(docs.values())).split(": ", 1)[-1]
            out += f"; {words} {', '.join(sorted(docs))} ({reason})"
    return out


def ago(value: Any) -> str:
    if not value:
        return "never"
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return str(value)
    seconds = max(0, time.time() - moment)
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 129600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


class InviteDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Invite a teammate")
        self.role = QComboBox(self)
        self.role.addItems(["rep", "manager", "guest"])
        self.expires = QComboBox(self)
        self.expires.addItems(["24h", "7d", "1h"])
        form = QFormLayout(self)
        form.addRow("Role", self.role)
        form.addRow("Valid for", self.expires)
        ok_cancel(self, form)


class TeamView(BaseView):
    title = "Team"
    kinds = ()
    wants_raw_changes = True

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.members: list[dict[str, Any]] = []
        self.peers: dict[str, dict[str, Any]] = {}
        self.network_state: dict[str, Any] = {"online": False, "peers": []}
        heading = QLabel(ctx.ws.title or "Team", self)
        heading.setObjectName("title")
        self.me = QLineEdit(ctx.ws.peer_id, self)
        self.me.setReadOnly(True)
        copy = QPushButton("Copy", self)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(ctx.ws.peer_id))
        self.net = QLabel(self)
        self.net.setObjectName("muted")
        self.net.setWordWrap(True)
        self.invite_button = QPushButton("Invite…", self)
        self.invite_button.setObjectName("primary")
        self.invite_button.clicked.connect(self.invite)
        self.remove_button = QPushButton("Remove member", self)
        self.remove_button.clicked.connect(self.remove)
        top = QHBoxLayout()
        top.addWidget(QLabel("Your peer id:", self))
        top.addWidget(self.me, 1)
        top.addWidget(copy)
        actions = QHBoxLayout()
        actions.addWidget(heading, 1)
        actions.addWidget(self.remove_button)
        actions.addWidget(self.invite_button)
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((200, 90, 130, 170, 120)):
            self.table.setColumnWidth(col, width)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(actions)
        layout.addLayout(top)
        layout.addWidget(self.net)
        layout.addWidget(self.table, 1)

    def load(self) -> None:
        self.start_load(self.ws.members, what="Reading the member list")

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.members = records
        role = self.ws.role()
        manager = role == "manager"
        why = "" if manager else "Only managers can invite and remove members"
        for button in (self.invite_button, self.remove_button):
            button.setEnabled(manager)
            button.setToolTip(why)
        self._draw()

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        if any(c.doc_id == "index" for c in changes):
            self.load()

    def set_network_state(self, state: dict[str, Any]) -> None:
        self.network_state = state
        self.peers = {p["peer_id"]: p for p in state.get("peers") or []}
        if state.get("online"):
            addrs = ", ".join(state.get("listening") or []) or "no address"
            self.net.setText(f"Online. Listening on {addrs}")
        else:
            reason = state.get("error") or ""
            self.net.setText("Offline: changes are kept and sync when teammates are reachable."
                             + (f" ({reason})" if reason else ""))
        if self.loaded_once:
            self._draw()

    def _draw(self) -> None:
        me = self.ws.peer_id
        rows = list(self.members)
        # Known peers that are not (yet) members still show: a joiner syncing, a demo teammate.
        self.table.setRowCount(len(rows))
        running = bool(self.network_state.get("online"))
        for r, member in enumerate(rows):
            peer = self.peers.get(member["peer_id"])
            you = member["peer_id"] == me
            online = online_text(you, running, peer)
            cells = [member["name"] + ("  (you)" if you else ""), member["role"], online,
                     "this computer" if you else sync_text(peer),
                     "now" if online == ONLINE
                     else "" if you else ago(peer and peer.get("last_seen")),
                     short_id(member["peer_id"])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(member["peer_id"])
                self.table.setItem(r, c, item)

    def invite(self) -> None:
        from bullpen.app.members.invites import create_invite, parse_duration

        dialog = InviteDialog(self)
        if not dialog.exec():
            return
        role, expires = dialog.role.currentText(), dialog.expires.currentText()
        addrs = [a for a in self.network_state.get("listening") or []
                 if "/0.0.0.0/" not in a]
        self.ctx.run(create_invite, self.ws, role, parse_duration(expires), addrs,
                     done=self._show_code, what="Creating the invite")

    def _show_code(self, code: str) -> None:
        box = QDialog(self)
        box.setWindowTitle("Invite code")
        text = QPlainTextEdit(code, box)
        text.setReadOnly(True)
        copy = QPushButton("Copy", box)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(code))
        layout = QVBoxLayout(box)
        layout.addWidget(QLabel("Send this one-time code to your teammate:", box))
        layout.addWidget(text)
        layout.addWidget(copy)
        box.resize(520, 220)
        box.open()

    def remove(self) -> None:
        row = self.table.currentRow()
        if row < 0 or row >= len(self.members):
            self.ctx.status.emit("Select a member first")
            return
        member = self.members[row]
        answer = QMessageBox.question(
            self, "Remove member",
            f"Remove {member['name']}? They keep what they already have, but receive nothing "
            f"newer and their later edits are refused.")
        if answer == QMessageBox.StandardButton.Yes:
            self.ctx.run(self.ws.remove_member, member["peer_id"],
                         done=lambda _e: self.ctx.status.emit(f"Removed {member['name']}"),
                         what="Removing the member")
