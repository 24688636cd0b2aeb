"""Forecast: closed, commit, best case, pipeline and weighted per rep or team vs quota.

The numbers are ``app.sales.forecast`` (the roll-up with quotas, rates and teams); they are
recomputed in a worker when the period or grouping changes and when deals change (debounced),
never by the GUI thread. Double-click a number to see the deals behind it (``sales.drill``);
export the table or a drill-down as CSV or XLSX.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QValueAxis
from PySide6.QtCore import QMargins, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.workspace import ChangeSet

from .base_view import BaseView
from .context import AppContext
from .forecast_calls import CallPanel
from .records_model import money, short_date

# (forecast column, header); "quota"/"attainment" are Row fields, the rest Figures fields.
COLUMNS = [("closed_won", "Closed"), ("commit", "Commit"), ("best_case", "Best case"),
           ("pipeline", "Pipeline"), ("weighted", "Weighted"), ("quota", "Quota"),
           ("attainment", "Attainment")]
CHART_SERIES = [("closed_won", "Closed", "#15803d"), ("commit", "Commit", "#2f6fde"),
                ("best_case", "Best case", "#8fb3f0"), ("pipeline", "Pipeline", "#c7cdd6")]
DRILLABLE = {"closed_won", "commit", "best_case", "pipeline", "weighted"}
RECOMPUTE_DELAY_MS = 400


def period_labels(kind: str, today: dt.date | None = None) -> list[str]:
    """Recent and coming periods, newest last: the quarters or months people look at."""
    today = today or dt.date.today()
    if kind == "quarter":
        q = (today.month - 1) // 3
        out = []
        for offset in range(-4, 3):
            year, index = divmod(today.year * 4 + q + offset, 4)
            out.append(f"{year}-Q{index + 1}")
        return out
    out = []
    for offset in range(-6, 4):
        year, index = divmod(today.year * 12 + today.month - 1 + offset, 12)
        out.append(f"{year}-{index + 1:02d}")
    return out


def write_table(path: str, headers: list[str], rows: list[list[Any]]) -> None:
    """A table to .csv or .xlsx (by suffix)."""
    if path.lower().endswith(".xlsx"):
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        book.save(path)
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)


def ask_export_path(parent: QWidget, name: str) -> str | None:
    path, chosen = QFileDialog.getSaveFileName(parent, "Export", f"{name}.csv",
                                               "CSV (*.csv);;Excel (*.xlsx)")
    if not path:
        return None
    if not Path(path).suffix:
        path += ".xlsx" if "xlsx" in chosen else ".csv"
    return path


class DrillDialog(QDialog):
    """The deals behind one forecast number; double-click opens one in the pipeline."""

    def __init__(self, ctx: AppContext, title: str, deals: list[dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.deals = deals
        self.setWindowTitle(title)
        self.resize(760, 420)
        self.table = QTableWidget(len(deals), 6, self)
        self.table.setHorizontalHeaderLabels(
            ["Title", "Account", "Amount", "Stage", "Close", "Owner"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        for row, deal in enumerate(deals):
            for col, text in enumerate(self._cells(deal)):
                item = QTableWidgetItem(text)
                if col == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.cellDoubleClicked.connect(self._open)
        total = sum(float(d.get("amount") or 0) for d in deals)
        export = QPushButton("Export…", self)
        export.clicked.connect(self._export)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel(f"{len(deals)} deals, {money(total)} in total", self), 1)
        bottom.addWidget(export)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    @staticmethod
    def _cells(deal: dict[str, Any]) -> list[str]:
        return [deal.get("title", ""), deal.get("account", ""), money(deal.get("amount")),
                deal.get("stage", ""), short_date(deal.get("close_date")), deal.get("owner", "")]

    def _open(self, row: int, _col: int) -> None:
        self.ctx.open_record.emit("opportunity", self.deals[row]["id"])
        self.accept()

    def _export(self) -> None:
        path = ask_export_path(self, "deals")
        if path:
            rows = [self._cells(d) for d in self.deals]
            self.ctx.run(write_table, path, ["Title", "Account", "Amount", "Stage", "Close",
                                             "Owner"], rows,
                         done=lambda _r: self.ctx.status.emit(f"Exported to {path}"),
                         what="Exporting")


class ForecastView(BaseView):
    title = "Forecast"
    kinds = ("opportunity", "forecast_submission", "forecast_adjustment")

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.result: Any = None
        self.kind = QComboBox(self)
        self.kind.addItem("Quarter", "quarter")
        self.kind.addItem("Month", "month")
        self.period = QComboBox(self)
        self.by = QComboBox(self)
        self.by.addItem("By rep", "owner")
        self.by.addItem("By team", "team")
        self.by.addItem("By stage", "stage")
        export = QPushButton("Export…", self)
        export.clicked.connect(self.export)
        self._fill_periods()
        self.kind.currentIndexChanged.connect(self._fill_periods)
        self.period.currentIndexChanged.connect(self.load)
        self.by.currentIndexChanged.connect(self.load)
        self.summary = QLabel(self)
        self.summary.setObjectName("muted")
        self.table = QTableWidget(0, len(COLUMNS) + 1, self)
        self.table.setHorizontalHeaderLabels(["Rep"] + [h for _, h in COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 160)
        self.table.cellDoubleClicked.connect(self.drill)
        self.table.setToolTip("Double-click a number to see its deals")
        self.chart = QChart()
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart_view = QChartView(self.chart, self)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QHBoxLayout()
        heading = QLabel("Forecast", self)
        heading.setObjectName("title")
        bar.addWidget(heading)
        bar.addStretch(1)
        for widget in (self.kind, self.period, self.by, export):
            bar.addWidget(widget)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.chart_view)
        self.calls = CallPanel(ctx, self)  # submitted, adjusted, computed: the forecast call
        split.addWidget(self.calls)
        split.setSizes([260, 220, 220])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RECOMPUTE_DELAY_MS)
        self._timer.timeout.connect(self.load)

    def _fill_periods(self) -> None:
        kind = self.kind.currentData()
        self.period.blockSignals(True)
        self.period.clear()
        labels = period_labels(kind)
        for label in labels:
            self.period.addItem(label, label)
        self.period.setCurrentIndex(4 if kind == "quarter" else 6)  # the current period
        self.period.blockSignals(False)
        if self.loaded_once:
            self.load()

    def load(self) -> None:
        from bullpen.app.sales import use_cases as sales

        period, by = self.period.currentData(), self.by.currentData()
        self.ctx.run(lambda: sales.forecast(self.ws, period, by, auto_snapshot=False),
                     done=self._loaded, what="Computing the forecast")
        from bullpen.app.sales import submissions

        self.ctx.run(submissions.status, self.ws, period, done=self.calls.show_call,
                     what="Reading the forecast call")

    def _loaded(self, result: Any) -> None:
        self.loaded_once = True
        self.result = result
        self._fill_table(result)
        self._fill_chart(result)
        note = "" if result.converted else \
            f"  ·  no exchange rate for {', '.join(result.missing_rates)}: shown unconverted"
        self.summary.setText(f"{result.period}: {result.start} to {result.end}  ·  "
                             f"amounts in {result.base_currency}{note}")

    @staticmethod
    def _figure(row: Any, key: str) -> float | None:
        if key == "quota":
            return row.quota
        if key == "attainment":
            return row.attainment
        figures = row.amounts
        if figures is None and row.currencies:
            figures = next(iter(row.currencies.values()))
        return getattr(figures, key) if figures is not None else 0.0

    def _cell(self, row: Any, key: str) -> str:
        value = self._figure(row, key)
        if value is None:
            return "—"
        if key == "attainment":
            return f"{value * 100:.1f}%"
        return money(value)

    def _fill_table(self, result: Any) -> None:
        header = {"owner": "Rep", "team": "Team", "stage": "Stage"}[result.by]
        self.table.setHorizontalHeaderItem(0, QTableWidgetItem(header))
        rows = [*result.rows, result.total]
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            name = "Total" if row is result.total else (row.key or "(nobody)")
            item = QTableWidgetItem(name)
            if row is result.total:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(r, 0, item)
            for c, (key, _h) in enumerate(COLUMNS, start=1):
                cell = QTableWidgetItem(self._cell(row, key))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row is result.total:
                    cell.setFont(item.font())
                self.table.setItem(r, c, cell)

    def _fill_chart(self, result: Any) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        series = QBarSeries()
        top = 0.0
        for key, label, color in CHART_SERIES:
            bars = QBarSet(label)
            bars.setColor(QColor(color))
            for row in result.rows:
                value = float(self._figure(row, key) or 0)
                top = max(top, value)
                bars.append(value)
            series.append(bars)
        self.chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([row.key or "(nobody)" for row in result.rows])
        values = QValueAxis()
        values.setRange(0, top * 1.05 if top else 1)
        values.applyNiceNumbers()
        values.setLabelFormat("%'.0f")
        self.chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(values, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(categories)
        series.attachAxis(values)
        self.chart.setTitle(f"{result.period} by {result.by}")

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        self._timer.start()  # many deals change in a burst: one recompute after it

    def drill(self, row: int, column: int) -> None:
        if self.result is None or column == 0:
            return
        key = COLUMNS[column - 1][0]
        if key not in DRILLABLE:
            key = "pipeline"
        rows = [*self.result.rows, self.result.total]
        target = None if rows[row] is self.result.total else rows[row].key
        period, by = self.result.period, self.result.by
        from bullpen.app.sales import use_cases as sales

        def show(found: tuple[str, list[dict[str, Any]]]) -> None:
            label = dict(COLUMNS)[key]
            who = target or "everyone"
            DrillDialog(self.ctx, f"{label}: {who}, {period}", found[1], self).open()

        self.ctx.run(sales.drill, self.ws, target, key, period, by, done=show,
                     what="Finding the deals")

    def export(self) -> None:
        if self.result is None:
            return
        path = ask_export_path(self, f"forecast-{self.result.period}")
        if not path:
            return
        headers = [self.table.horizontalHeaderItem(c).text()
                   for c in range(self.table.columnCount())]
        rows = []
        for row in [*self.result.rows, self.result.total]:
            name = "Total" if row is self.result.total else row.key
            rows.append([name] + [self._figure(row, key) for key, _h in COLUMNS])
        self.ctx.run(write_table, path, headers, rows,
                     done=lambda _r: self.ctx.status.emit(f"Exported to {path}"),
                     what="Exporting the forecast")
