"""The base every screen builds on: loading off the GUI thread and live updates by id.

A screen says which record kinds it shows (``kinds``); the base loads them once with a worker
and then feeds it only the records each ChangeSet batch changed (:meth:`apply_changes`), so a
remote edit never reloads a screen, never moves the selection and never touches a field the
user is typing in. :class:`RecordTableScreen` adds the filterable, sortable table that the
pipeline, contacts and resources share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.workspace import ChangeSet

from .context import AppContext, merged_after
from .records_model import ID_ROLE, Column, RecordFilterProxy, RecordModel

LIST_ID_ROLE = Qt.ItemDataRole.UserRole  # the record id of a list item
TITLE_ROLE = Qt.ItemDataRole.UserRole + 1  # its title alone (the shown text may add a line)


def ok_cancel(dialog: QDialog, form: QFormLayout) -> QDialogButtonBox:
    """The OK/Cancel row every small form dialog ends with."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    return buttons


class RenameDelegate(QStyledItemDelegate):
    """Edits a list item's title in place (F2 or double-click) and reports the new title
    instead of writing it: the list shows it when the workspace announces the change, so a
    refused title never looks saved."""

    renamed = Signal(str, str)  # (record id, new title)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: QModelIndex | QPersistentModelIndex) -> QWidget:
        return QLineEdit(parent)

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        assert isinstance(editor, QLineEdit)
        editor.setText(str(index.data(TITLE_ROLE) or ""))
        editor.selectAll()

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,
                     index: QModelIndex | QPersistentModelIndex) -> None:
        assert isinstance(editor, QLineEdit)
        title = editor.text().strip()
        if title and title != index.data(TITLE_ROLE):
            self.renamed.emit(index.data(LIST_ID_ROLE), title)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem,
                             index: QModelIndex | QPersistentModelIndex) -> None:
        rect = option.rect  # type: ignore[attr-defined]
        editor.setGeometry(rect.x(), rect.y(), rect.width(), min(rect.height(), 30))


def allow_rename(view: BaseView, widget: QListWidget, noun: str) -> RenameDelegate:
    """Let the user rename ``widget``'s records (F2, double-click) through ``ws.update``."""
    widget.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                           | QAbstractItemView.EditTrigger.DoubleClicked)
    delegate = RenameDelegate(widget)
    widget.setItemDelegate(delegate)
    delegate.renamed.connect(lambda rid, title: view.ctx.run(
        view.ws.update, rid, {"title": title}, what=f"Renaming the {noun}"))
    return delegate


def titled_item(item: QListWidgetItem, record_id: str, title: str, text: str) -> None:
    """Fill a renameable list item: its id, its title, and the text shown."""
    item.setData(LIST_ID_ROLE, record_id)
    item.setData(TITLE_ROLE, title)
    item.setText(text)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)


class BaseView(QWidget):
    """One screen of the main window."""

    title = ""
    kinds: tuple[str, ...] = ()
    list_kind: str | None = None  # the kind :meth:`load` lists (default: the first of kinds)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.loaded_once = False
        self._reading: set[int] = set()  # reads under way
        self._batches: list[tuple[int, list[ChangeSet]]] = []  # (reads started then, batch)
        ctx.hub.batch.connect(self._on_batch)

    @property
    def ws(self) -> Any:
        return self.ctx.ws

    # --- loading ---

    # Full reads can overlap (a refresh while the first load is still running) and the worker
    # pool may finish them in any order: each is numbered, a result older than the one shown
    # is dropped, and the batches that arrived after a read started are applied again on top
    # of its result (the read may predate them).
    _generation = 0  # full reads started
    _shown_generation = 0  # the newest read whose result is shown
    _loading = False

    def load(self) -> None:
        """Read this screen's records off the GUI thread, then :meth:`loaded` them."""
        kind = self.list_kind or (self.kinds[0] if self.kinds else None)
        if kind is None:
            self.loaded([])
            return
        self.start_load(self.ws.list, kind, what=f"Loading {self.title}")

    def start_load(self, fn: Callable[..., Any], *args: Any, what: str) -> None:
        """Run the full read ``fn(*args)`` off the GUI thread; its result goes to
        :meth:`loaded` unless a newer read's result is already shown."""
        self._generation += 1
        generation = self._generation
        self._reading.add(generation)
        self.ctx.run(fn, *args, done=lambda result: self._loaded(result, generation),
                     failed=lambda _exc: self._load_failed(generation), what=what)

    def _load_failed(self, generation: int) -> None:
        self._loading = False  # the next visit tries again
        self._read_ended(generation)

    def _read_ended(self, generation: int) -> list[list[ChangeSet]]:
        """Batches that arrived after read ``generation`` started; only those a read still
        under way may need are kept."""
        self._reading.discard(generation)
        later = [batch for started, batch in self._batches if started >= generation]
        oldest = min(self._reading, default=None)
        self._batches = [] if oldest is None else [
            (started, batch) for started, batch in self._batches if started >= oldest]
        return later

    def _loaded(self, records: list[dict[str, Any]], generation: int) -> None:
        later = self._read_ended(generation)
        if generation < self._shown_generation:
            return  # a newer read is already shown
        self._shown_generation = generation
        self.loaded_once = True
        self._loading = False
        self.loaded(records)
        if later:
            self._apply([change for batch in later for change in batch])

    def loaded(self, records: list[dict[str, Any]]) -> None:
        """Show a full list (first load, or after an import)."""

    def ensure_loaded(self) -> None:
        """Load once; a second request while the first is on its way is the same load."""
        if not self.loaded_once and not self._loading:
            self._loading = True
            self.load()

    # --- live changes ---

    def _on_batch(self, changes: list[ChangeSet]) -> None:
        if self._reading:  # a read under way may predate this batch
            self._batches.append((self._generation, changes))
        if self.loaded_once:  # else not shown yet: it loads fresh when first shown
            self._apply(changes)

    def _apply(self, changes: list[ChangeSet]) -> None:
        updates = merged_after(changes, set(self.kinds)) if self.kinds else {}
        if updates or self.wants_raw_changes:
            self.apply_changes(updates, changes)

    wants_raw_changes = False  # screens that follow non-record documents (text bodies)

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        """Records of this screen's kinds changed (None: deleted)."""

    def show_record(self, record_id: str) -> None:
        """Bring one record into view (search results, drill-downs)."""


class RecordTableScreen(BaseView):
    """A filter box over a sortable table of records, updated by id."""

    columns: list[Column] = []
    placeholder = "Filter…"
    noun = ""  # what the count line calls the rows (default: the title)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.model = RecordModel(self.columns, self)
        self.proxy = RecordFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for i, column in enumerate(self.columns):
            if column.width:
                header.resizeSection(i, column.width)
            else:
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
        self.filter_box = QLineEdit(self)
        self.filter_box.setPlaceholderText(self.placeholder)
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self.proxy.set_text)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("muted")
        self.toolbar = QHBoxLayout()
        self.toolbar.addWidget(self.filter_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(self.toolbar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._update_count)
        QShortcut(QKeySequence("Ctrl+F"), self, self.filter_box.setFocus,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _update_count(self, *_: Any) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        noun = self.noun or self.title.lower() or "records"
        self.count_label.setText(
            f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}")

    _pending_show: str | None = None

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.model.set_records(records)
        if self._pending_show:
            self.show_record(self._pending_show)

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        self.model.apply(updates)
        if self._pending_show and self._pending_show in updates:
            self.show_record(self._pending_show)

    def selected_id(self) -> str | None:
        index = self.table.currentIndex()
        return index.data(ID_ROLE) if index.isValid() else None

    def show_record(self, record_id: str) -> None:
        """Select a record; one not loaded yet (just created, or before the first load) is
        selected when it arrives."""
        row = self.model.row_of(record_id)
        if row is None:
            self._pending_show = record_id
            self.ensure_loaded()
            return
        self._pending_show = None
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():  # filtered out: clear the filter so the record shows
            self.filter_box.clear()
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.table.setFocus()
