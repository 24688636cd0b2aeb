"""Discussions: topics, threaded posts (replies under their parent) and reactions.

Posts of the open topic are kept by id; a received post or reaction updates that one entry and
the thread is redrawn with the selection kept, so reading a thread is never interrupted, and a
half-written reply in the box is never touched.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.fields import TOPIC_CATEGORIES
from bullpen.app.workspace import ChangeSet

from .base_view import BaseView, allow_rename, ok_cancel, titled_item
from .context import AppContext
from .notify_prefs import follow, is_followed
from .records_model import when

REACTIONS = (("+1", "+1"), ("helpful", "★ Helpful"))
ID_ROLE = Qt.ItemDataRole.UserRole


def reaction_summary(reactions: dict[str, str] | None) -> str:
    counts = Counter(v for v in (reactions or {}).values() if v)
    return "  ".join(f"{name} ×{n}" for name, n in sorted(counts.items()))


class NewTopicDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New topic")
        self.title_edit = QLineEdit(self)
        self.category = QComboBox(self)
        self.category.addItems(list(TOPIC_CATEGORIES))
        self.body = QPlainTextEdit(self)
        form = QFormLayout(self)
        form.addRow("Title", self.title_edit)
        form.addRow("Category", self.category)
        form.addRow("First post", self.body)
        ok_cancel(self, form)


class DiscussionsView(BaseView):
    title = "Discussions"
    kinds = ("topic", "post")

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.topic_id: str | None = None
        self.posts: dict[str, dict[str, Any]] = {}
        self._pending: str | None = None
        self.topics = QListWidget(self)
        self.topics.currentItemChanged.connect(self._topic_selected)
        self.topics.setToolTip("F2 or double-click renames a topic")
        allow_rename(self, self.topics, "topic")
        new = QPushButton("New topic", self)
        new.setObjectName("primary")
        new.clicked.connect(self.new_topic)
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(new)
        column.addWidget(self.topics, 1)

        self.heading = QLabel("Pick a topic", self)
        self.heading.setObjectName("title")
        self.heading.setWordWrap(True)
        self.thread = QTreeWidget(self)
        self.thread.setHeaderLabels(["Post", "By", "When", "Reactions"])
        self.thread.setColumnWidth(0, 430)
        self.thread.setColumnWidth(1, 100)
        self.thread.setColumnWidth(2, 120)
        self.thread.setWordWrap(True)
        self.reply = QPlainTextEdit(self)
        self.reply.setPlaceholderText("Write a post… (select a post first to reply to it)")
        self.reply.setFixedHeight(80)
        self.send = QPushButton("Post", self)
        self.send.setObjectName("primary")
        self.send.clicked.connect(self.post)
        self.as_reply = QPushButton("Reply to selected", self)
        self.as_reply.setCheckable(True)
        actions = QHBoxLayout()
        for name, label in REACTIONS:
            button = QPushButton(label, self)
            button.clicked.connect(lambda _=False, n=name: self.react(n))
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.as_reply)
        actions.addWidget(self.send)
        right = QWidget(self)
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(0, 0, 0, 0)
        self.follow_button = QPushButton("Follow", self)
        self.follow_button.setCheckable(True)
        self.follow_button.setEnabled(False)
        self.follow_button.setToolTip("Be notified of every post in this topic")
        self.follow_button.clicked.connect(self.toggle_follow)
        head = QHBoxLayout()
        head.addWidget(self.heading, 1)
        head.addWidget(self.follow_button, 0, Qt.AlignmentFlag.AlignTop)
        rcol.addLayout(head)
        rcol.addWidget(self.thread, 1)
        rcol.addWidget(self.reply)
        rcol.addLayout(actions)
        split = QSplitter(self)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([280, 820])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(split)

    # --- topics ---

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.topics.clear()
        for record in records:
            self._topic_item(record)
        if self._pending:
            self.show_record(self._pending)
        elif self.topics.count():
            self.topics.setCurrentRow(0)

    def _topic_item(self, record: dict[str, Any]) -> QListWidgetItem:
        item = self._find(record["id"]) or QListWidgetItem()
        title = record.get("title", "")
        titled_item(item, record["id"], title,
                    f"{title}\n{record.get('category') or 'general'}")
        if record["id"] == self.topic_id:
            self.heading.setText(title)
        if self.topics.row(item) < 0:
            self.topics.addItem(item)
        return item

    def _find(self, topic_id: str) -> QListWidgetItem | None:
        for row in range(self.topics.count()):
            if self.topics.item(row).data(ID_ROLE) == topic_id:
                return self.topics.item(row)
        return None

    def _topic_selected(self, item: QListWidgetItem | None, _previous: Any) -> None:
        if item is None:
            return
        self.topic_id = item.data(ID_ROLE)
        self.heading.setText(item.text().split("\n")[0])
        self.posts = {}
        self.thread.clear()
        topic = self.topic_id
        self.follow_button.setEnabled(False)
        is_followed(self.ctx, topic, lambda on, t=topic: self._show_follow(t, on))
        self.ctx.run(lambda: self.ws.list("post", topic_id=topic),
                     done=lambda posts: self._posts_loaded(topic, posts),
                     what="Loading posts")

    def _show_follow(self, topic_id: str, on: bool) -> None:
        if topic_id != self.topic_id:
            return
        self.follow_button.setChecked(on)
        self.follow_button.setText("Following ✓" if on else "Follow")
        self.follow_button.setEnabled(True)

    def toggle_follow(self) -> None:
        """Follow or unfollow the open topic (the button shows the stored state after)."""
        if self.topic_id is None:
            return
        topic, on = self.topic_id, self.follow_button.isChecked()
        self.follow_button.setEnabled(False)
        follow(self.ctx, "topic", topic, on, done=lambda _s: self._show_follow(topic, on),
               failed=lambda _e: self._show_follow(topic, not on))

    def _posts_loaded(self, topic_id: str, posts: list[dict[str, Any]]) -> None:
        if topic_id != self.topic_id:
            return
        self.posts = {p["id"]: p for p in posts}
        self._draw_thread()

    def _draw_thread(self) -> None:
        selected = self._selected_post()
        self.thread.clear()
        items: dict[str, QTreeWidgetItem] = {}
        ordered = sorted(self.posts.values(), key=lambda p: p.get("created_at") or "")
        for post in ordered:
            item = QTreeWidgetItem([" ".join(post.get("text", "").split()),
                                    self.ctx.name_of(post.get("created_by")),
                                    when(post.get("created_at")),
                                    reaction_summary(post.get("reactions"))])
            item.setData(0, ID_ROLE, post["id"])
            item.setToolTip(0, post.get("text", ""))
            items[post["id"]] = item
            parent = items.get(post.get("reply_to") or "")
            if parent is not None:
                parent.addChild(item)
            else:
                self.thread.addTopLevelItem(item)
        self.thread.expandAll()
        if selected in items:
            self.thread.setCurrentItem(items[selected])

    def _selected_post(self) -> str | None:
        item = self.thread.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    # --- live changes ---

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        redraw = False
        for rid, record in updates.items():
            if record is None:
                item = self._find(rid)
                if item is not None:
                    self.topics.takeItem(self.topics.row(item))
                if self.posts.pop(rid, None) is not None:
                    redraw = True
            elif record["kind"] == "topic":
                self._topic_item(record)
            elif record.get("topic_id") == self.topic_id:
                self.posts[rid] = record
                redraw = True
        if redraw:
            self._draw_thread()
        if self._pending and self._find(self._pending):
            self.show_record(self._pending)

    def show_record(self, record_id: str) -> None:
        """A topic, or a post (opens its topic)."""
        if not self.loaded_once:
            self._pending = record_id
            self.ensure_loaded()
            return
        item = self._find(record_id)
        if item is None:
            self.ctx.run(self.ws.get, record_id, done=self._show_post, what="Opening the post")
            return
        self._pending = None
        self.topics.setCurrentItem(item)

    def _show_post(self, post: dict[str, Any]) -> None:
        if post.get("kind") == "post" and self._find(post["topic_id"]):
            self.topics.setCurrentItem(self._find(post["topic_id"]))

    # --- actions ---

    def new_topic(self) -> None:
        dialog = NewTopicDialog(self)
        if not dialog.exec() or not dialog.title_edit.text().strip():
            return
        title = dialog.title_edit.text().strip()
        category, body = dialog.category.currentText(), dialog.body.toPlainText().strip()

        def create() -> str:
            tid = self.ws.add("topic", {"title": title, "category": category})
            if body:
                self.ws.add("post", {"topic_id": tid, "text": body})
            return tid

        self.ctx.run(create, done=self.show_record, what="Creating the topic")

    def post(self) -> None:
        text = self.reply.toPlainText().strip()
        if not text or self.topic_id is None:
            return
        fields: dict[str, Any] = {"topic_id": self.topic_id, "text": text}
        parent = self._selected_post()
        if self.as_reply.isChecked() and parent:
            fields["reply_to"] = parent

        def sent(_rid: str) -> None:
            if self.reply.toPlainText().strip() == text:
                self.reply.clear()
            self.as_reply.setChecked(False)

        self.ctx.run(self.ws.add, "post", fields, done=sent, what="Posting")

    def react(self, reaction: str) -> None:
        post_id = self._selected_post()
        if post_id is None:
            self.ctx.status.emit("Select a post to react to")
            return
        mine = (self.posts.get(post_id, {}).get("reactions") or {}).get(self.ws.peer_id)
        value = "" if mine == reaction else reaction  # a second click takes it back
        self.ctx.run(self.ws.update, post_id, {"reactions": {self.ws.peer_id: value}},
                     what="Reacting")
