"""A table model over workspace records that updates by id, so live changes are cheap.

Why not re-read the list on every change: 10,000 opportunities re-read, re-sorted and re-laid
out on each received edit would stall the GUI and lose the user's selection and scroll position.
:meth:`RecordModel.apply` takes the records a ChangeSet says changed (their values after) and
updates, inserts or removes only those rows.

Sorting lives in the source model (one Python ``list.sort`` with a key, ~5 ms for 10k rows)
rather than in ``QSortFilterProxyModel``, whose C++ sort would call back into Python for every
comparison (~0.5 s for 10k rows). :class:`RecordFilterProxy` keeps the proxy for filtering and
forwards header clicks to the source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

ID_ROLE = Qt.ItemDataRole.UserRole + 1
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex


def money(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:,.0f}"
    return ""


def compact_money(value: Any) -> str:
    """250k, 1.2m: for cards and headers where a full figure does not fit."""
    if not isinstance(value, int | float):
        return ""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}m".replace(".0m", "m")
    if abs(value) >= 1_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:.0f}"


def short_date(value: Any) -> str:
    return str(value)[:10] if value else ""


def when(value: Any) -> str:
    """An ISO timestamp as local 'YYYY-MM-DD HH:MM' (stored times are UTC)."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


def human_size(size: Any) -> str:
    number = float(size or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if number < 1024 or unit == "GB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return ""


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    text: Callable[[dict[str, Any]], str] | None = None  # display; default str(value)
    editable: bool = False
    numeric: bool = False
    width: int = 0  # a starting width in pixels (0: let the view decide)

    def raw(self, record: dict[str, Any]) -> Any:
        return record.get(self.key)

    def display(self, record: dict[str, Any]) -> str:
        if self.text is not None:
            return self.text(record)
        value = self.raw(record)
        if value is None:
            return ""
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)


def _sort_value(value: Any) -> tuple[int, Any]:
    """Comparable across None, numbers and text (None last)."""
    if value is None or value == "":
        return (2, "")
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value).lower())


class RecordModel(QAbstractTableModel):
    """Rows of record dicts, keyed by id; columns from :class:`Column` specs."""

    def __init__(self, columns: list[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self._rows: list[dict[str, Any]] = []
        self._row_of: dict[str, int] = {}
        self._haystack: list[str] | None = None  # built on the first filter, not at load
        self.sort_column = -1
        self.sort_order = Qt.SortOrder.AscendingOrder
        self.on_edit: Callable[[str, str, Any], None] | None = None  # (id, field, value)

    # --- reading ---

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.display(record)
        if role == Qt.ItemDataRole.EditRole:
            value = column.raw(record)
            return "" if value is None else value
        if role == ID_ROLE:
            return record["id"]
        if role == RECORD_ROLE:
            return record
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and self.columns[index.column()].editable:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """An inline edit: handed to ``on_edit`` (which writes through the workspace); the row
        changes when the workspace announces the change, so the table never shows a value the
        workspace refused."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or self.on_edit is None:
            return False
        record = self._rows[index.row()]
        column = self.columns[index.column()]
        if value == column.raw(record):
            return False
        self.on_edit(record["id"], column.key, value)
        return True

    def record(self, row: int) -> dict[str, Any]:
        return self._rows[row]

    def row_of(self, record_id: str) -> int | None:
        return self._row_of.get(record_id)

    def records(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def haystack(self, row: int) -> str:
        if self._haystack is None:
            self._haystack = [self._hay(r) for r in self._rows]
        return self._haystack[row]

    def _hay(self, record: dict[str, Any]) -> str:
        return " ".join(c.display(record) for c in self.columns).lower()

    # --- changing ---

    def set_records(self, records: Iterable[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = [r for r in records if not r.get("deleted")]
        self._sort_rows()
        self._reindex()
        self.endResetModel()

    def _reindex(self) -> None:
        self._row_of = {r["id"]: i for i, r in enumerate(self._rows)}
        self._haystack = None

    def apply(self, updates: dict[str, dict[str, Any] | None]) -> None:
        """Records changed by id (None: removed); other rows, the selection and edits in
        progress elsewhere are untouched."""
        if not updates:
            return
        resort = False
        sort_key = self.columns[self.sort_column].key if self.sort_column >= 0 else None
        removed = sorted((self._row_of[rid] for rid, rec in updates.items()
                          if rec is None and rid in self._row_of), reverse=True)
        for row in removed:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            if self._haystack is not None:
                del self._haystack[row]
            self.endRemoveRows()
        if removed:
            self._row_of = {r["id"]: i for i, r in enumerate(self._rows)}
        fresh = []
        last_col = len(self.columns) - 1
        for rid, record in updates.items():
            if record is None:
                continue
            row = self._row_of.get(rid)
            if row is None:
                fresh.append(record)
                continue
            old = self._rows[row]
            if sort_key and old.get(sort_key) != record.get(sort_key):
                resort = True
            self._rows[row] = record
            if self._haystack is not None:
                self._haystack[row] = self._hay(record)
            self.dataChanged.emit(self.index(row, 0), self.index(row, last_col))
        if fresh:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            for record in fresh:
                self._row_of[record["id"]] = len(self._rows)
                self._rows.append(record)
                if self._haystack is not None:
                    self._haystack.append(self._hay(record))
            self.endInsertRows()
            resort = resort or sort_key is not None
        if resort:
            self.sort(self.sort_column, self.sort_order)

    # --- sorting ---

    def _sort_rows(self) -> None:
        if self.sort_column < 0:
            return
        column = self.columns[self.sort_column]
        self._rows.sort(key=lambda r: _sort_value(column.raw(r)),
                        reverse=self.sort_order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old_ids = [r["id"] for r in self._rows]
        self.sort_column, self.sort_order = column, order
        self._sort_rows()
        self._reindex()
        persistent = self.persistentIndexList()
        if persistent:
            new = [
                self.index(self._row_of.get(old_ids[p.row()], -1), p.column())
                if 0 <= p.row() < len(old_ids) else QModelIndex()
                for p in persistent
            ]
            self.changePersistentIndexList(persistent, new)
        self.layoutChanged.emit()


class RecordFilterProxy(QSortFilterProxyModel):
    """Filters rows by words (all must appear) and by an optional predicate; sorting is
    forwarded to the source model."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._predicate: Callable[[dict[str, Any]], bool] | None = None

    def set_text(self, text: str) -> None:
        self._change_filter(lambda: setattr(self, "_words", text.lower().split()))

    def set_predicate(self, predicate: Callable[[dict[str, Any]], bool] | None) -> None:
        self._change_filter(lambda: setattr(self, "_predicate", predicate))

    def _change_filter(self, change: Callable[[], None]) -> None:
        """Qt 6.9+ wants filter changes bracketed; older Qt only has invalidateFilter."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RecordModel)
        if self._words:
            hay = model.haystack(source_row)
            if not all(w in hay for w in self._words):
                return False
        return self._predicate is None or self._predicate(model.record(source_row))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        assert isinstance(model, RecordModel)
        model.sort(column, order)

    def record_id(self, index: Index) -> str | None:
        return index.data(ID_ROLE) if index.isValid() else None
