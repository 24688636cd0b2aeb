"""Notification preferences: what this member is told about (``Subscriptions`` of
``app/notifications/inbox.py``; not to be confused with ``Workspace.subscribe``, the listeners
of changes).

Preferences live in this profile only (never synced), so they are read and written through
the inbox module in a worker like every other workspace call. The dialog edits them all at once;
:func:`follow` is the one-click follow / unfollow the Discussions screen and the pipeline's
context menu share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .context import AppContext

ID_ROLE = Qt.ItemDataRole.UserRole
FLAGS = (
    ("announcements", "New announcements"),
    ("mentions", "Posts that @mention me"),
    ("own_deals", "Changes to deals I own"),
    ("replies", "Replies to my posts"),
)
FOLLOWED = (("followed_topics", "topic"), ("followed_opportunities", "opportunity"))


def _load(ws: Any) -> dict[str, Any]:
    """The current preferences plus a title for each followed record (worker thread)."""
    from bullpen.app.notifications.inbox import subscriptions

    subs = subscriptions(ws)
    titles: dict[str, str] = {}
    for attr, _kind in FOLLOWED:
        for rid in getattr(subs, attr):
            try:
                titles[rid] = ws.get(rid, include_deleted=True).get("title") or rid
            except Exception:  # noqa: BLE001 - a record not arrived yet still shows its id
                titles[rid] = rid
    return {"subs": subs, "titles": titles}


def is_followed(ctx: AppContext, record_id: str, done: Callable[[bool], None]) -> None:
    """Ask (in a worker) whether this member follows a topic or deal."""
    from bullpen.app.notifications.inbox import subscriptions

    def check() -> bool:
        subs = subscriptions(ctx.ws)
        return record_id in subs.followed_topics + subs.followed_opportunities

    ctx.run(check, done=done, what="Reading notification settings")


def follow(ctx: AppContext, kind: str, record_id: str, on: bool,
           done: Callable[[Any], None] | None = None,
           failed: Callable[[BaseException], None] | None = None) -> None:
    """Follow (or stop following) a topic or deal: notifications for its every change."""
    from bullpen.app.notifications.inbox import update_subscriptions

    key = "topic" if kind == "topic" else "opp"
    change = {f"{'follow' if on else 'unfollow'}_{key}": record_id}

    noun = "topic" if kind == "topic" else "deal"

    def finished(result: Any) -> None:
        ctx.status.emit(f"Following this {noun}" if on else f"No longer following this {noun}")
        if done is not None:
            done(result)

    ctx.run(lambda: update_subscriptions(ctx.ws, **change), done=finished, failed=failed,
            what="Changing notification settings")


class SubscriptionsDialog(QDialog):
    """Every notification preference on one page; Save writes only what changed."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Notification settings")
        self.setMinimumWidth(460)
        self.loaded: dict[str, Any] | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("Choose what Bullpen tells you about. These settings stay on this "
                       "computer.", self)
        intro.setWordWrap(True)
        intro.setObjectName("muted")
        layout.addWidget(intro)
        form = QFormLayout()
        self.flags: dict[str, QCheckBox] = {}
        for name, label in FLAGS:
            box = QCheckBox(label, self)
            self.flags[name] = box
            form.addRow(box)
        stage_row = QHBoxLayout()
        self.stage_on = QCheckBox("Stage changes of deals over", self)
        self.stage_amount = QDoubleSpinBox(self)
        self.stage_amount.setRange(0, 1e12)
        self.stage_amount.setDecimals(0)
        self.stage_amount.setGroupSeparatorShown(True)
        self.stage_amount.setSingleStep(10_000)
        self.stage_amount.setSuffix(f" {ctx.ws.currency}")
        self.stage_on.toggled.connect(self.stage_amount.setEnabled)
        stage_row.addWidget(self.stage_on)
        stage_row.addWidget(self.stage_amount, 1)
        form.addRow(stage_row)
        layout.addLayout(form)
        self.lists: dict[str, QListWidget] = {}
        for attr, title in (("followed_topics", "Topics I follow"),
                            ("followed_opportunities", "Deals I follow")):
            heading = QLabel(title, self)
            heading.setObjectName("heading")
            items = QListWidget(self)
            items.setMaximumHeight(110)
            remove = QPushButton("Stop following", self)
            remove.clicked.connect(lambda _=False, w=items: self._remove(w))
            row = QHBoxLayout()
            row.addWidget(items, 1)
            row.addWidget(remove, 0, Qt.AlignmentFlag.AlignTop)
            layout.addWidget(heading)
            layout.addLayout(row)
            self.lists[attr] = items
        hint = QLabel("Follow topics from Discussions and deals from the pipeline's "
                      "right-click menu.", self)
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        layout.addWidget(self.buttons)
        ctx.run(_load, ctx.ws, done=self._show, what="Reading notification settings")

    def _show(self, loaded: dict[str, Any]) -> None:
        self.loaded = loaded
        subs = loaded["subs"]
        for name, box in self.flags.items():
            box.setChecked(bool(getattr(subs, name)))
        threshold = subs.stage_changes_over
        self.stage_on.setChecked(threshold is not None)
        self.stage_amount.setEnabled(threshold is not None)
        self.stage_amount.setValue(threshold or 100_000)
        for attr, items in self.lists.items():
            items.clear()
            for rid in getattr(subs, attr):
                item = QListWidgetItem(loaded["titles"].get(rid, rid))
                item.setData(ID_ROLE, rid)
                items.addItem(item)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)

    def _remove(self, items: QListWidget) -> None:
        for item in items.selectedItems() or ([items.currentItem()] if items.currentItem()
                                              else []):
            items.takeItem(items.row(item))

    def changes(self) -> dict[str, Any]:
        """The ``update_subscriptions`` arguments for what the user changed."""
        if self.loaded is None:
            return {}
        subs = self.loaded["subs"]
        out: dict[str, Any] = {}
        for name, box in self.flags.items():
            if box.isChecked() != bool(getattr(subs, name)):
                out[name] = box.isChecked()
        threshold = self.stage_amount.value() if self.stage_on.isChecked() else None
        if threshold != subs.stage_changes_over:
            out["stage_changes_over"] = "off" if threshold is None else threshold
        unfollow: list[tuple[str, str]] = []
        for (attr, kind), items in zip(FOLLOWED, self.lists.values(), strict=True):
            kept = {items.item(r).data(ID_ROLE) for r in range(items.count())}
            unfollow += [(kind, rid) for rid in getattr(subs, attr) if rid not in kept]
        if unfollow:
            out["_unfollow"] = unfollow
        return out

    def save(self) -> None:
        """Write in a worker; the dialog closes once the settings are stored."""
        from bullpen.app.notifications.inbox import update_subscriptions

        if self.loaded is None:
            return
        changes = self.changes()
        unfollow = changes.pop("_unfollow", [])
        ws = self.ctx.ws

        def write() -> Any:
            result = update_subscriptions(ws, **changes) if changes else None
            for kind, rid in unfollow:
                key = "topic" if kind == "topic" else "opp"
                result = update_subscriptions(ws, **{f"unfollow_{key}": rid})
            return result

        def saved(_result: Any) -> None:
            self.ctx.status.emit("Notification settings saved")
            self.accept()

        self.buttons.setEnabled(False)
        self.ctx.run(write, done=saved, failed=lambda _e: self.buttons.setEnabled(True),
                     what="Saving notification settings")


def open_settings(ctx: AppContext, parent: QWidget) -> SubscriptionsDialog:
    """Show the dialog without blocking the window (changes keep arriving meanwhile)."""
    dialog = SubscriptionsDialog(ctx, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
