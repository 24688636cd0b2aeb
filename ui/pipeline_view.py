"""Pipeline: every opportunity in a fast sortable, filterable table, or as a board by stage.

Edits are inline (double-click or F2 a cell) and go to ``ws.update`` in a worker; the row shows
the new value when the workspace announces the change, so a refused value (a negative amount)
never appears as if saved. The right-hand panel shows the selected deal's history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from bullpen.app.fields import Stage
from bullpen.app.workspace import ChangeSet

from .base_view import RecordTableScreen
from .board_view import BoardView
from .context import AppContext
from .history import HistoryPanel
from .notify_prefs import follow, is_followed
from .quick_add import QuickAddDialog
from .records_model import ID_ROLE, Column, money, short_date, when

Index = QModelIndex | QPersistentModelIndex


class StageDelegate(QStyledItemDelegate):
    """Stage cells edit with a drop-down of the workspace's stages."""

    def __init__(self, stages: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stages = stages

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> Any:
        box = QComboBox(parent)
        for stage in self.stages():
            box.addItem(stage.label, stage.id)
        return box

    def setEditorData(self, editor: Any, index: Index) -> None:
        found = editor.findData(index.data(Qt.ItemDataRole.EditRole))
        editor.setCurrentIndex(max(found, 0))

    def setModelData(self, editor: Any, model: Any, index: Index) -> None:
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)


class DateDelegate(QStyledItemDelegate):
    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> Any:
        edit = QDateEdit(parent)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        return edit

    def setEditorData(self, editor: Any, index: Index) -> None:
        text = str(index.data(Qt.ItemDataRole.EditRole) or "")
        date = QDate.fromString(text[:10], "yyyy-MM-dd")
        editor.setDate(date if date.isValid() else QDate.currentDate())

    def setModelData(self, editor: Any, model: Any, index: Index) -> None:
        model.setData(index, editor.date().toString("yyyy-MM-dd"), Qt.ItemDataRole.EditRole)


class PipelineView(RecordTableScreen):
    title = "Pipeline"
    noun = "deals"
    kinds = ("opportunity",)
    placeholder = "Filter deals by any word (account, title, owner, next step)…  Ctrl+F"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        self._stages: list[Stage] = ctx.ws.stages()
        self.columns = [
            Column("title", "Title", editable=True, width=220),
            Column("account", "Account", editable=True, width=150),
            Column("amount", "Amount", text=lambda r: money(r.get("amount")), editable=True,
                   numeric=True, width=100),
            Column("stage", "Stage", text=self._stage_label, editable=True, width=115),
            Column("probability", "%", editable=True, numeric=True, width=45),
            Column("close_date", "Close", text=lambda r: short_date(r.get("close_date")),
                   editable=True, width=95),
            Column("owner", "Owner", editable=True, width=110),
            Column("next_step", "Next step", editable=True, width=180),
            Column("updated_at", "Updated", text=lambda r: when(r.get("updated_at")), width=120),
        ]
        super().__init__(ctx, parent)
        self.model.on_edit = self._edit
        self.model.sort_column = 5  # close date: what needs attention first
        self.table.horizontalHeader().setSortIndicator(5, Qt.SortOrder.AscendingOrder)
        self.table.setItemDelegateForColumn(3, StageDelegate(lambda: self._stages, self))
        self.table.setItemDelegateForColumn(5, DateDelegate(self))

        self.stage_filter = QComboBox(self)
        self.owner_filter = QComboBox(self)
        self.owner_filter.setMinimumContentsLength(12)
        self._fill_stage_filter()
        self.owner_filter.addItem("All owners", None)
        self.stage_filter.currentIndexChanged.connect(self._filters_changed)
        self.owner_filter.currentIndexChanged.connect(self._filters_changed)
        self.table_button = QPushButton("Table", self)
        self.board_button = QPushButton("Board", self)
        group = QButtonGroup(self)
        for i, button in enumerate((self.table_button, self.board_button)):
            button.setCheckable(True)
            group.addButton(button, i)
        self.table_button.setChecked(True)
        group.idClicked.connect(self._switch)
        self.add_button = QPushButton("New deal  Ctrl+N", self)
        self.add_button.setObjectName("primary")
        self.add_button.clicked.connect(self.quick_add)
        for widget in (self.stage_filter, self.owner_filter, self.table_button,
                       self.board_button, self.add_button):
            self.toolbar.addWidget(widget)

        self.board = BoardView(self.model, self.proxy, lambda: self._stages, self)
        self.board.moved.connect(lambda rid, stage: self._edit(rid, "stage", stage))
        self.board.selected.connect(self._show_history)
        self.board.activated.connect(self._open_in_table)
        split = QSplitter(self)
        self.layout().replaceWidget(self.table, split)  # before the table moves into the stack
        self.views = QStackedWidget(self)
        self.views.addWidget(self.table)
        self.views.addWidget(self.board)
        self.history = HistoryPanel(ctx, self)
        split.addWidget(self.views)
        split.addWidget(self.history)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([860, 250])
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu_requested)
        self.menu: QMenu | None = None
        QShortcut(QKeySequence("Ctrl+N"), self, self.quick_add,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # --- stages and filters ---

    def _stage_label(self, record: dict[str, Any]) -> str:
        stage = record.get("stage", "")
        return next((s.label for s in self._stages if s.id == stage), stage)

    def _fill_stage_filter(self) -> None:
        current = self.stage_filter.currentData()
        self.stage_filter.blockSignals(True)
        self.stage_filter.clear()
        self.stage_filter.addItem("All stages", None)
        self.stage_filter.addItem("Open deals", "__open__")
        for stage in self._stages:
            self.stage_filter.addItem(stage.label, stage.id)
        self.stage_filter.setCurrentIndex(max(self.stage_filter.findData(current), 0))
        self.stage_filter.blockSignals(False)

    def _fill_owner_filter(self) -> None:
        owners = sorted({r.get("owner") or "" for r in self.model.records()} - {""},
                        key=str.lower)
        current = self.owner_filter.currentData()
        self.owner_filter.blockSignals(True)
        self.owner_filter.clear()
        self.owner_filter.addItem("All owners", None)
        for owner in owners:
            self.owner_filter.addItem(owner, owner)
        self.owner_filter.setCurrentIndex(max(self.owner_filter.findData(current), 0))
        self.owner_filter.blockSignals(False)

    def _filters_changed(self) -> None:
        stage, owner = self.stage_filter.currentData(), self.owner_filter.currentData()
        closed = {s.id for s in self._stages if s.category in ("closed", "omitted")}
        if stage is None and owner is None:
            self.proxy.set_predicate(None)
            return

        def keep(record: dict[str, Any]) -> bool:
            if stage == "__open__":
                if record.get("stage") in closed:
                    return False
            elif stage is not None and record.get("stage") != stage:
                return False
            return owner is None or record.get("owner") == owner

        self.proxy.set_predicate(keep)

    def _switch(self, which: int) -> None:
        """The board needs the width: the history panel shows with the table only."""
        self.views.setCurrentIndex(which)
        self.history.setVisible(which == 0)

    # --- loading and changes ---

    def loaded(self, records: list[dict[str, Any]]) -> None:
        super().loaded(records)
        self._fill_owner_filter()

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        super().apply_changes(updates, changes)
        if any(c.doc_id == "index" for c in changes):
            self._stages = self.ws.stages()
            self._fill_stage_filter()
        known = {self.owner_filter.itemData(i) for i in range(self.owner_filter.count())}
        if any(r and r.get("owner") not in known for r in updates.values()):
            self._fill_owner_filter()
        current = self.selected_id()
        if current is not None and current in updates and self.history.record_id == current:
            self._show_history(current)

    def _on_batch(self, changes: list[ChangeSet]) -> None:
        if any(c.doc_id == "index" for c in changes) and self.loaded_once:
            self._stages = self.ws.stages()
        super()._on_batch(changes)

    # --- actions ---

    def _edit(self, record_id: str, field: str, value: Any) -> None:
        if field in ("amount", "probability") and isinstance(value, str):
            value = value.replace(",", "").strip()
        self.ctx.run(self.ws.update, record_id, {field: value}, what=f"Changing {field}")

    def _row_changed(self, current: Index, _previous: Index) -> None:
        self._show_history(current.data(ID_ROLE) if current.isValid() else None)

    def _show_history(self, record_id: str | None) -> None:
        row = self.model.row_of(record_id) if record_id else None
        title = self.model.record(row).get("title", "") if row is not None else ""
        self.history.show_for(record_id, title)

    def _open_in_table(self, record_id: str) -> None:
        self.table_button.setChecked(True)
        self._switch(0)
        self.show_record(record_id)

    def show_record(self, record_id: str) -> None:
        if self.views.currentIndex() != 0:
            self._open_in_table(record_id)
            return
        super().show_record(record_id)

    def _context_menu_requested(self, pos: QPoint) -> None:
        """Right-click on a deal: whether it is followed is read in a worker, then the menu
        pops up where the user clicked."""
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        record_id = index.data(ID_ROLE)
        where = self.table.viewport().mapToGlobal(pos)
        is_followed(self.ctx, record_id,
                    lambda on: self.context_menu(record_id, on).popup(where))

    def context_menu(self, record_id: str, followed: bool) -> QMenu:
        """The deal's menu: open its history, follow or stop following it."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if followed:
            menu.addAction("Stop following this deal",
                           lambda: follow(self.ctx, "opportunity", record_id, False))
        else:
            menu.addAction("Follow this deal (notify me of every change)",
                           lambda: follow(self.ctx, "opportunity", record_id, True))
        menu.addAction("Show history", lambda: self._show_history(record_id))
        self.menu = menu
        return menu

    def quick_add(self) -> None:
        accounts = [r.get("account", "") for r in self.model.records()]
        dialog = QuickAddDialog(self._stages, accounts, self.ws.currency, self,
                                today=dt.date.today())
        if dialog.exec():
            self.add_deal(dialog.fields())

    def add_deal(self, fields: dict[str, Any]) -> None:
        """Create the deal in a worker, then select it when it arrives."""
        def done(record_id: str) -> None:
            self.ctx.status.emit(f"Added {fields['title']}")
            self.show_record(record_id)

        self.ctx.run(self.ws.add, "opportunity", fields, done=done, what="Adding the deal")
