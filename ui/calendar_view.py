"""Calendar: the team's week (a column per day) or month (a calendar plus the day's events).

Events are kept by id and redrawn from memory on each change. Only the visible week or month
is expanded: a recurring event (RRULE, minus its EXDATEs) shows on each of its occurrences
there, and an event spanning days (an all-day end date is exclusive) on each day it covers
(``app.calendar.recurrence``). Expansion runs on a worker thread (an imported rule can take
up to its time budget), and only the latest expansion of each part of the screen is drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
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

from bullpen.app.calendar.recurrence import Shown, by_day, is_all_day
from bullpen.app.workspace import ChangeSet

from . import interop, worker
from .base_view import BaseView, ok_cancel
from .context import AppContext, apply_updates

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
        self._latest: dict[str, int] = {}  # part of the screen -> its latest expansion
        self._select: str | None = None  # event to select once it is drawn

    # --- data ---

    def loaded(self, records: list[dict[str, Any]]) -> None:
        self.events = {r["id"]: r for r in records}
        self._draw()

    def apply_changes(self, updates: dict[str, dict[str, Any] | None],
                      changes: list[ChangeSet]) -> None:
        apply_updates(self.events, updates)
        self._draw()

    def _expand(self, part: str, first: dt.date, last: dt.date,
                draw: Callable[[Shown], None]) -> None:
        """Expand the events over ``[first, last]`` on a worker thread, then ``draw`` the
        result on the GUI thread, unless ``part`` was asked for again meanwhile (a batch of
        teammates' changes asks once per change: only the last is expanded)."""
        ticket = self._latest[part] = self._latest.get(part, 0) + 1
        events = list(self.events.values())

        def expand() -> Shown | None:
            return by_day(events, first, last) if self._latest.get(part) == ticket else None

        def done(shown: Shown | None) -> None:
            if shown is not None and self._latest.get(part) == ticket:
                draw(shown)

        worker.run_async(expand, on_done=done)

    # --- drawing ---

    def _mode(self, which: int) -> None:
        self.pages.setCurrentIndex(which)
        self._draw()

    def _step(self, days: int) -> None:
        self._select = None
        if self.pages.currentIndex() == 0:
            self.week_start += dt.timedelta(days=days)
        else:
            self.calendar.showNextMonth() if days > 0 else self.calendar.showPreviousMonth()
        self._draw()

    def _today(self) -> None:
        self._select = None
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
        days = [self.week_start + dt.timedelta(days=i) for i in range(7)]
        for label, day in zip(self.day_labels, days, strict=True):
            label.setText(f"{day:%a %d %b}" + ("  (today)" if day == today else ""))

        def draw(shown: Shown) -> None:
            for cards, day in zip(self.day_lists, days, strict=True):
                self._fill(cards, day, shown.get(day, []))

        self._expand("week", self.week_start, end, draw)

    def _fill(self, target: QListWidget, day: dt.date,
              events: list[tuple[dict[str, Any], dt.datetime]]) -> None:
        target.clear()
        for event, begin in events:
            item = QListWidgetItem(event_line(event, begin, day))
            item.setData(ID_ROLE, event["id"])
            item.setToolTip(event.get("description") or event.get("title", ""))
            target.addItem(item)
            if event["id"] == self._select:
                target.setCurrentItem(item)

    def _draw_month(self) -> None:
        year, month = self.calendar.yearShown(), self.calendar.monthShown()
        self.range_label.setText(dt.date(year, month, 1).strftime("%B %Y"))
        first = dt.date(year, month, 1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        self._expand("month", first, last, self._bold)
        self._draw_day()

    def _bold(self, shown: Shown) -> None:
        """Bold the days of the month shown that have events."""
        plain = QTextCharFormat()
        for day in self._bold_days:
            self.calendar.setDateTextFormat(day, plain)
        bold = QTextCharFormat()
        bold.setFontWeight(QFont.Weight.Bold)
        bold.setForeground(Qt.GlobalColor.darkBlue)
        self._bold_days = []
        for day in shown:
            qday = QDate(day.year, day.month, day.day)
            self.calendar.setDateTextFormat(qday, bold)
            self._bold_days.append(qday)

    def _draw_day(self) -> None:
        day = self.calendar.selectedDate().toPython()
        self.day_heading.setText(f"{day:%A %d %B}")
        self._expand("day", day, day,
                     lambda shown: self._fill(self.day_list, day, shown.get(day, [])))

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
        self._select = event["id"]  # selected by _fill when its day is drawn
        self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))
        self._draw()

    def new_event(self) -> None:
        day = (self.week_start if self.pages.currentIndex() == 0
               else self.calendar.selectedDate().toPython())
        dialog = EventDialog(max(day, dt.date.today()) if self.pages.currentIndex() == 0
                             else day, self)
        if dialog.exec() and dialog.title_edit.text().strip():
            self.ctx.run(self.ws.add, "event", dialog.fields(), done=self.show_record,
                         what="Adding the event")
