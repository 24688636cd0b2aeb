"""Shared fixtures: every test gets its own profile folders under pytest's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Profiles are encrypted at rest; tests (and the processes they start) unlock them this way.
os.environ.setdefault("BULLPEN_PASSPHRASE", "test passphrase")

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


def opp_fields(**overrides):
    fields = {
        "account": "Acme",
        "title": "Renewal",
        "amount": 50000,
        "stage": "proposal",
        "close_date": "2026-12-15",
    }
    fields.update(overrides)
    return fields
