"""Shared fixtures for the desktop app tests (no tests here): a seeded profile shown in the
main window, offscreen, with helpers that wait for workers to finish."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bullpen.app.demo.team import seed_demo
from bullpen.app.workspace import Workspace


def settle(qtbot: Any, timeout: int = 10000) -> None:
    """Let queued signals run and every worker finish."""
    from bullpen.ui import worker

    qtbot.waitUntil(lambda: not worker.busy(), timeout=timeout)
    qtbot.wait(50)
    qtbot.waitUntil(lambda: not worker.busy(), timeout=timeout)


def wait(qtbot: Any, predicate: Callable[[], Any], timeout: int = 10000) -> None:
    qtbot.waitUntil(lambda: bool(predicate()), timeout=timeout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dana"
    ws = Workspace.create(path, "Dana Scott", "Northwind Sales")
    seed_demo(ws, opportunities=12, files_dir=tmp_path / "files")
    ws.close()
    return path


@pytest.fixture
def session(qtbot: Any, home: Path) -> Iterator[Any]:
    """The app on ``home`` with no network (offline), shown at 1280x800."""
    from bullpen.ui.app import Session

    ws = Workspace.open(home)
    app_session = Session(ws, notifications=False)
    qtbot.addWidget(app_session.window)
    app_session.window.resize(1280, 800)
    app_session.start()
    settle(qtbot)
    yield app_session
    app_session.close()
    settle(qtbot)
    ws.close()
