"""Issue 12/13: a screen's full reads can overlap (the first load still running when a refresh
starts) and the worker pool may finish them in any order. A late result must never put older
records back, and changes that arrived while a read was running must show on top of its
result. The real app offscreen on a real profile; only the workspace's first ``list`` call is
held back (it reads at once, then waits to return), to force the order."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from ui_helpers import settle, wait


class HeldRead:
    """Once armed, ``ws.list``'s next call reads, says so, and returns only once released."""

    def __init__(self, ws: Any) -> None:
        self.real = ws.list
        self.armed = False
        self.read, self.release = threading.Event(), threading.Event()

    def list(self, *args: Any, **kwargs: Any) -> Any:
        result = self.real(*args, **kwargs)
        if self.armed:
            self.armed = False
            self.read.set()
            self.release.wait(30)
        return result


@pytest.fixture
def held_first_read(monkeypatch, session):
    held = HeldRead(session.ws)
    monkeypatch.setattr(session.ws, "list", held.list)
    yield held
    held.release.set()


def _name(screen, record_id: str) -> str:
    row = screen.model.row_of(record_id)
    return screen.model.record(row)["name"] if row is not None else ""


def _contacts(qtbot, session, held):
    """The Contacts screen with its first load under way, read before a rename."""
    screen = session.window.screen("Contacts")
    assert not screen.loaded_once
    contact = session.ws.list("contact")[0]
    held.armed = True
    screen.ensure_loaded()
    wait(qtbot, held.read.is_set)
    session.ws.update(contact["id"], {"name": "Renamed After The Read"})
    return screen, contact["id"]


def test_a_late_first_load_does_not_overwrite_a_newer_refresh(qtbot, session,
                                                               held_first_read):
    screen, rid = _contacts(qtbot, session, held_first_read)
    screen.load()  # a refresh: reads after the rename
    wait(qtbot, lambda: _name(screen, rid) == "Renamed After The Read")
    held_first_read.release.set()  # now the first, older read arrives
    settle(qtbot)
    assert _name(screen, rid) == "Renamed After The Read"


def test_a_change_during_the_first_load_shows_on_top_of_it(qtbot, session,
                                                          held_first_read):
    screen, rid = _contacts(qtbot, session, held_first_read)
    settle_batch = qtbot.waitSignal(screen.ctx.hub.batch, timeout=10000)
    with settle_batch:
        pass  # the rename's batch reaches the screen while its only load is under way
    held_first_read.release.set()
    wait(qtbot, lambda: screen.loaded_once)
    settle(qtbot)
    assert _name(screen, rid) == "Renamed After The Read"
