"""The pipeline as a board: one column per stage; drag a card to another column to move it.

The board reads the same :class:`RecordModel` as the table (and honours the same filter), so a
change arrives once and both views agree. It rebuilds at most every 50 ms and only while
visible; each column shows its largest deals first and caps the cards it draws, since a column
of 3,000 cards helps nobody and would cost a second to lay out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.fields import Stage

from .records_model import RecordFilterProxy, RecordModel, compact_money, short_date

CARDS_PER_COLUMN = 60
ID_ROLE = Qt.ItemDataRole.UserRole


class StageList(QListWidget):
    """A column of cards that accepts cards dragged from the other columns."""

    dropped = Signal(str, str)  # (record id, stage id)

    def __init__(self, stage: Stage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = stage
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSpacing(3)
        self.setObjectName("stageList")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def dropEvent(self, event: QDropEvent) -> None:
        source = event.source()
        if isinstance(source, StageList) and source is not self:
            for item in source.selectedItems():
                self.dropped.emit(item.data(ID_ROLE), self.stage.id)
        # The card moves when the workspace confirms the change (a ChangeSet), not before.
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()


class BoardView(QScrollArea):
    moved = Signal(str, str)  # (record id, new stage id)
    activated = Signal(str)  # record id (double click)
    selected = Signal(str)

    def __init__(self, model: RecordModel, proxy: RecordFilterProxy,
                 stages: Callable[[], list[Stage]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.proxy, self.stages = model, proxy, stages
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._inner = QWidget(self)
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(8)
        self.setWidget(self._inner)
        self.lists: dict[str, StageList] = {}
        self.headers: dict[str, QLabel] = {}
        self._dirty = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self.rebuild)
        for signal in (model.modelReset, model.dataChanged, model.rowsInserted,
                       model.rowsRemoved, proxy.layoutChanged, proxy.modelReset):
            signal.connect(self.schedule)

    def schedule(self, *_: Any) -> None:
        self._dirty = True
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._dirty:
            self.rebuild()

    def _columns(self) -> None:
        stages = self.stages()
        if [s.id for s in stages] == list(self.lists):
            return
        while self._row.count():
            item = self._row.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.lists.clear()
        self.headers.clear()
        for stage in stages:
            box = QFrame(self._inner)
            box.setObjectName("stageColumn")
            column = QVBoxLayout(box)
            column.setContentsMargins(6, 6, 6, 6)
            header = QLabel(stage.label, box)
            header.setObjectName("heading")
            cards = StageList(stage, box)
            cards.dropped.connect(self.moved)
            cards.itemDoubleClicked.connect(lambda item: self.activated.emit(item.data(ID_ROLE)))
            cards.itemClicked.connect(lambda item: self.selected.emit(item.data(ID_ROLE)))
            column.addWidget(header)
            column.addWidget(cards, 1)
            box.setMinimumWidth(165)
            self._row.addWidget(box, 1)
            self.lists[stage.id] = cards
            self.headers[stage.id] = header

    def rebuild(self) -> None:
        self._dirty = False
        self._columns()
        by_stage: dict[str, list[dict[str, Any]]] = {s: [] for s in self.lists}
        root = QModelIndex()
        for row in range(self.model.rowCount()):
            if self.proxy.filterAcceptsRow(row, root):
                record = self.model.record(row)
                by_stage.setdefault(record.get("stage", ""), []).append(record)
        labels = {s.id: s.label for s in self.stages()}
        for stage_id, cards in self.lists.items():
            records = sorted(by_stage.get(stage_id, []),
                             key=lambda r: -float(r.get("amount") or 0))
            total = sum(float(r.get("amount") or 0) for r in records)
            self.headers[stage_id].setText(
                f"{labels.get(stage_id, stage_id)}\n{len(records)} deals · {compact_money(total)}")
            current = cards.currentItem().data(ID_ROLE) if cards.currentItem() else None
            cards.setUpdatesEnabled(False)
            cards.clear()
            for record in records[:CARDS_PER_COLUMN]:
                text = (f"{record.get('title', '')}\n{compact_money(record.get('amount'))}"
                        f"  ·  {short_date(record.get('close_date'))}  ·  "
                        f"{(record.get('owner') or '').split(' ')[0]}")
                item = QListWidgetItem(text)
                item.setData(ID_ROLE, record["id"])
                item.setToolTip(f"{record.get('title', '')}\n{record.get('account', '')}\n"
                                f"{record.get('owner', '')}: {record.get('next_step') or ''}")
                item.setSizeHint(QSize(0, 46))
                cards.addItem(item)
                if record["id"] == current:
                    cards.setCurrentItem(item)
            if len(records) > CARDS_PER_COLUMN:
                more = QListWidgetItem(f"… and {len(records) - CARDS_PER_COLUMN} more "
                                       f"(filter to narrow)")
                more.setFlags(Qt.ItemFlag.NoItemFlags)
                cards.addItem(more)
            cards.setUpdatesEnabled(True)
