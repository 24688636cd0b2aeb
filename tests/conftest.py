"""Shared fixtures: every test gets its own profile folders under pytest's tmp_path.

Fixtures live here and need no import; plain helpers live in modules that are not test
modules (``helpers.py``, ``helpers_procs.py``, ``replicas.py``, ``hostile.py``,
``ui_helpers.py``), so no test module imports another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Profiles are encrypted at rest; tests (and the processes they start) unlock them this way.
os.environ.setdefault("BULLPEN_PASSPHRASE", "test passphrase")

from helpers_procs import Cli  # noqa: E402

from bullpen.app.demo.team import seed_demo  # noqa: E402
from bullpen.app.workspace import Workspace  # noqa: E402


@pytest.fixture
def ws(tmp_path: Path):
    workspace = Workspace.create(tmp_path / "dana", "Dana", "Acme Sales")
    yield workspace
    workspace.close()


@pytest.fixture
def make_ws(tmp_path: Path):
    """Factory for more workspaces (replicas) in this test's temp dir."""
    opened: list[Workspace] = []

    def make(name: str = "Dana", title: str = "Acme Sales") -> Workspace:
        workspace = Workspace.create(tmp_path / name.lower(), name, title)
        opened.append(workspace)
        return workspace

    yield make
    for workspace in opened:
        workspace.close()


@pytest.fixture
def join_ws(tmp_path: Path):
    """Factory: a new member's synced replica of a workspace (closed after the test)."""
    from replicas import join

    opened: list[Workspace] = []

    def make(src: Workspace, name: str, role: str = "rep") -> Workspace:
        workspace = join(src, tmp_path / f"{name.lower()}-replica", name, role)
        opened.append(workspace)
        return workspace

    yield make
    for workspace in opened:
        workspace.close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Dana's fresh profile, driven through the console script."""
    runner = Cli(tmp_path / "home")
    runner.out("init", "--name", "Dana", "--workspace", "Acme Sales")
    return runner


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A closed profile seeded with the demo office (12 deals), for the desktop app tests."""
    path = tmp_path / "dana"
    workspace = Workspace.create(path, "Dana Scott", "Northwind Sales")
    seed_demo(workspace, opportunities=12, files_dir=tmp_path / "files")
    workspace.close()
    return path


@pytest.fixture
def session(qtbot: Any, home: Path) -> Iterator[Any]:
    """The desktop app on ``home`` with no network (offline), shown at 1280x800, its first
    loads done."""
    from ui_helpers import settle

    from bullpen.ui.app import Session

    workspace = Workspace.open(home)
    app_session = Session(workspace, notifications=False)
    qtbot.addWidget(app_session.window)
    app_session.window.resize(1280, 800)
    app_session.start()
    settle(qtbot)
    yield app_session
    app_session.close()
    settle(qtbot)
    workspace.close()
