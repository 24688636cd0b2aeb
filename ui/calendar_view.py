"""Calendar: the team's week (a column per day) or month (a calendar plus the day's events).

Events are kept by id and redrawn from memory on each change, which is instant for a team's
calendar. Only the visible week or month is expanded: a recurring event (RRULE, minus its
EXDATEs) shows on each of its occurrences there, and an event spanning days (an all-day end
date is exclusive) on each day it covers (``ui.recurrence``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QFont, QTextCharFormat
from PySide6.QtWidgets import (
    QButtonGroup,
    QCalendarWidget,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from bullpen.app.workspace import ChangeSet

from . import interop
from .base_view import BaseView, ok_cancel
from .context import AppContext, apply_updates
from .recurrence import days_of, is_all_day, moved_occurrences

ID_ROLE = Qt.ItemDataRole.UserRole


def event_day(event: dict[str, Any]) -> dt.date | None:
    start = event.get("start") or ""
    try:
        return dt.date.fromisoformat(start[:10])
    except ValueError:
        return None


def event_line(event: dict[str, Any], begin: dt.datetime | None = None,
               day: dt.date | None = None) -> str:
    """One line for a day's list; ``begin`` is this occurrence's start, ``day`` the day shown
    (a later day of a multi-day event says it continues)."""
    start = event.get("start") or ""
    if is_all_day(event):
        clock = "all day"
    elif begin is not None and day is not None and begin.date() < day:
        clock = "cont."
    else:
        clock = begin.strftime("%H:%M") if begin is not None else start[11:16]
    repeat = " ⟳" if event.get("rrule") else ""
    where = f"  · {event['location']}" if event.get("location") else ""
    return f"{clock}  {event.get('title', '')}{repeat}{where}"


class EventDialog(QDialog):
    def __init__(self, day: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New event")
        self.title_edit = QLineEdit(self)
        self.start = QDateTimeEdit(self)
        self.start.setCalendarPopup(True)
        self.start.setDisplayFormat("yyyy-MM-dd HH:mm")
        start = dt.datetime.combine(day, dt.time(10, 0))
        self.start.setDateTime(start)
        self.end = QDateTimeEdit(self)
        self.end.setCalendarPopup(True)
        self.end.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.end.setDateTime(start + dt.timedelta(hours=1))
        self.location = QLineEdit(self)
        form = QFormLayout(self)
        form.addRow("Title", self.title_edit)
        form.addRow("Start", self.start)
        form.addRow("End", self.end)
        form.addRow("Location", self.location)
        ok_cancel(self, form)

    def fields(self) -> dict[str, Any]:
        fmt = "yyyy-MM-ddTHH:mm"
        out = {"title": self.title_edit.text().strip(),
               "start": self.start.dateTime().toString(fmt),
               "end": self.end.dateTime().toString(fmt)}
        if self.location.text().strip():
            out["location"] = self.location.text().strip()
        return out


class CalendarView(BaseView):
    title = "Calendar"
    kinds = ("event",)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.events: dict[str, dict[str, Any]] = {}
        today = dt.date.today()
        self.week_start = today - dt.timedelta(days=today.weekday())
        self.range_label = QLabel(self)
        self.range_label.setObjectName("title")
        week, month = QPushButton("Week", self), QPushButton("Month", self)
        group = QButtonGroup(self)
        for i, button in enumerate((week, month)):
            button.setCheckable(True)
            group.addButton(button, i)
        week.setChecked(True)
        group.idClicked.connect(self._mode)
        bar = QHBoxLayout()
        bar.addWidget(self.range_label, 1)
        for text, slot in (("◀", lambda: self._step(-7)), ("Today", self._today),
                           ("▶", lambda: self._step(7))):
            button = QPushButton(text, self)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(week)
        bar.addWidget(month)
        bar.addSpacing(12)
        for text, slot in (("Import .ics…", lambda: interop.import_file(ctx, self, "calendar")),
                           ("Export .ics…", lambda: interop.export_file(ctx, self, "calendar"))):
            button = QPushButton(text, self)
            button.clicked.connect(slot)
            bar.addWidget(button)
        new = QPushButton("New event", self)
        new.setObjectName("primary")
        new.clicked.connect(self.new_event)
        bar.addWidget(new)

        self.week = QWidget(self)
        grid = QGridLayout(self.week)
        grid.setSpacing(6)
        grid.setContentsMargins(0, 0, 0, 0)
        self.day_labels: list[QLabel] = []
        self.day_lists: list[QListWidget] = []
        for i in range(7):
            label = QLabel(self.week)
            label.setObjectName("heading")
            cards = QListWidget(self.week)
            cards.setObjectName("dayList")
            cards.setWordWrap(True)
            cards.setSpacing(2)
            grid.addWidget(label, 0, i)
            grid.addWidget(cards, 1, i)
            grid.setColumnStretch(i, 1)
            self.day_labels.append(label)
            self.day_lists.append(cards)
        self.month = QWidget(self)
        self.calendar = QCalendarWidget(self.month)
        self.calendar.setGridVisible(True)
        self.calendar.selectionChanged.connect(self._draw_day)
        self.calendar.currentPageChanged.connect(lambda *_: self._draw_month())
        self.day_list = QListWidget(self.month)
        self.day_list.setObjectName("dayList")
        self.day_list.setWordWrap(True)
        row = QHBoxLayout(self.month)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.calendar, 3)
        day_box = QFrame(self.month)
        column = QVBoxLayout(day_box)
        column.setContentsMargins(0, 0, 0, 0)
        self.day_heading = QLabel(day_box)
        self.day_heading.setObjectName("heading")
        column.addWidget(self.day_heading)
        column.addWidget(self.day_list, 1)
        row.addWidget(day_box, 2)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.week)
        self.pages.addWidget(self.month)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)
        self._bold_days: list[QDate] = []

    # --- data ---

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.events = {r["id"]: r for r in records}
        self._draw()

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        apply_updates(self.events, updates)
        self._draw()

    def _by_day(self, first: dt.date, last: dt.date
                ) -> dict[dt.date, list[tuple[dict[str, Any], dt.datetime]]]:
        """Each day of ``[first, last]`` -> (event, start of its occurrence), in time order
        (all-day events first)."""
        out: dict[dt.date, list[tuple[dict[str, Any], dt.datetime]]] = {}
        moved = moved_occurrences(self.events.values())
        for event in self.events.values():
            skip = moved.get(str(event.get("external_id") or ""), frozenset())
            for day, begin in days_of(event, first, last, skip).items():
                out.setdefault(day, []).append((event, begin))
        for found in out.values():
            found.sort(key=lambda pair: (not is_all_day(pair[0]), pair[1]))
        return out

    # --- drawing ---

    def _mode(self, which: int) -> None:
        self.pages.setCurrentIndex(which)
        self._draw()

    def _step(self, days: int) -> None:
        if self.pages.currentIndex() == 0:
            self.week_start += dt.timedelta(days=days)
        else:
            self.calendar.showNextMonth() if days > 0 else self.calendar.showPreviousMonth()
        self._draw()

    def _today(self) -> None:
        today = dt.date.today()
        self.week_start = today - dt.timedelta(days=today.weekday())
        self.calendar.setSelectedDate(QDate(today.year, today.month, today.day))
        self.calendar.showToday()
        self._draw()

    def _draw(self) -> None:
        if self.pages.currentIndex() == 0:
            self._draw_week()
        else:
            self._draw_month()

    def _draw_week(self) -> None:
        end = self.week_start + dt.timedelta(days=6)
        self.range_label.setText(f"Week of {self.week_start:%d %b %Y} – {end:%d %b}")
        today = dt.date.today()
        shown = self._by_day(self.week_start, end)
        for i in range(7):
            day = self.week_start + dt.timedelta(days=i)
            label = f"{day:%a %d %b}" + ("  (today)" if day == today else "")
            self.day_labels[i].setText(label)
            self._fill(self.day_lists[i], day, shown.get(day, []))

    def _fill(self, target: QListWidget, day: dt.date,
              events: list[tuple[dict[str, Any], dt.datetime]]) -> None:
        target.clear()
        for event, begin in events:
            item = QListWidgetItem(event_line(event, begin, day))
            item.setData(ID_ROLE, event["id"])
            item.setToolTip(event.get("description") or event.get("title", ""))
            target.addItem(item)

    def _draw_month(self) -> None:
        year, month = self.calendar.yearShown(), self.calendar.monthShown()
        self.range_label.setText(dt.date(year, month, 1).strftime("%B %Y"))
        plain = QTextCharFormat()
        for day in self._bold_days:
            self.calendar.setDateTextFormat(day, plain)
        bold = QTextCharFormat()
        bold.setFontWeight(QFont.Weight.Bold)
        bold.setForeground(Qt.GlobalColor.darkBlue)
        self._bold_days = []
        first = dt.date(year, month, 1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        for day in self._by_day(first, last):
            qday = QDate(day.year, day.month, day.day)
            self.calendar.setDateTextFormat(qday, bold)
            self._bold_days.append(qday)
        self._draw_day()

    def _draw_day(self) -> None:
        day = self.calendar.selectedDate().toPython()
        self.day_heading.setText(f"{day:%A %d %B}")
        self._fill(self.day_list, day, self._by_day(day, day).get(day, []))

    def show_record(self, record_id: str) -> None:
        event = self.events.get(record_id)
        if event is None:
            self.ctx.run(self.ws.get, record_id, done=lambda e: self._go_to(e),
                         what="Opening the event")
            return
        self._go_to(event)

    def _go_to(self, event: dict[str, Any]) -> None:
        day = event_day(event)
        if day is None:
            return
        self.week_start = day - dt.timedelta(days=day.weekday())
        self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))
        self._draw()
        for cards in (*self.day_lists, self.day_list):
            for row in range(cards.count()):
                if cards.item(row).data(ID_ROLE) == event["id"]:
                    cards.setCurrentRow(row)

    def new_event(self) -> None:
        day = (self.week_start if self.pages.currentIndex() == 0
               else self.calendar.selectedDate().toPython())
        dialog = EventDialog(max(day, dt.date.today()) if self.pages.currentIndex() == 0
                             else day, self)
        if dialog.exec() and dialog.title_edit.text().strip():
            self.ctx.run(self.ws.add, "event", dialog.fields(), done=self.show_record,
                         what="Adding the event")
