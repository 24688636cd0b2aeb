"""The desktop app decides what to do with a failure by its class or by the objects involved,
never by the words of its message (issue 14)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QWidget

from bullpen.app.errors import UserError
from bullpen.app.storage.keys import ProfileLocked
from bullpen.app.workspace import Workspace
from bullpen.ui import app as app_module
from bullpen.ui import worker
from bullpen.ui.context import AppContext


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    ws = Workspace.create(tmp_path / "p", "Dana Scott", "Northwind Sales")
    context = AppContext(ws)
    yield context
    context.close()
    ws.close()


def test_errors_are_told_apart_by_class_not_words(ctx: Any, capsys: Any) -> None:
    shown: list[str] = []
    ctx.error.connect(shown.append)
    ctx.show_error(UserError("unexpected column 'Region'"), "Importing")
    assert shown == ["Importing: unexpected column 'Region'"]
    assert capsys.readouterr().err == ""  # the user's error is no bug report
    ctx.show_error(KeyError("stage"))
    assert shown[-1] == "Something unexpected went wrong (KeyError: 'stage')"
    assert "KeyError: 'stage'" in capsys.readouterr().err  # Bullpen's is printed for one


class Screen(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    def shown(self, value: Any) -> None:
        self.got.append(value)
        self.setWindowTitle(str(value))  # raises once the C++ widget is deleted


def _deliver(qtbot: Any, on_done: Any, before: Any = None) -> None:
    """Run a worker whose result reaches ``on_done`` only after ``before()`` ran."""
    gate, delivered = threading.Event(), []
    relay = worker._the_relay()
    relay.done.connect(lambda *_: delivered.append(1))  # runs after the relay's own slot
    worker.run_async(lambda: gate.wait(10) and "result", on_done=on_done)
    if before is not None:
        before()
    gate.set()
    qtbot.waitUntil(lambda: bool(delivered))
    relay.done.disconnect()
    relay.done.connect(relay._call)


def test_a_result_for_a_closed_screen_is_dropped(qtbot: Any) -> None:
    live, closed, wrapped = Screen(), Screen(), Screen()
    _deliver(qtbot, live.shown)
    assert live.got == ["result"]
    with qtbot.captureExceptions() as raised:
        _deliver(qtbot, closed.shown, before=lambda: shiboken6.delete(closed))
        _deliver(qtbot, lambda value: wrapped.shown(value),
                 before=lambda: shiboken6.delete(wrapped))
    assert raised == []
    assert closed.got == [] and wrapped.got == []  # not called at all


def test_a_runtime_error_of_a_live_screen_is_not_hidden(qtbot: Any) -> None:
    live = Screen()

    def fails(_value: Any) -> None:
        live.got.append("called")
        raise RuntimeError("Internal C++ object (Screen) already deleted.")

    with qtbot.captureExceptions() as raised:
        _deliver(qtbot, fails)
    assert live.got == ["called"]
    assert [type(e[1]) for e in raised] == [RuntimeError]


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: Any) -> Path:
    """A profile with the passphrase "right", and no passphrase in the environment."""
    monkeypatch.delenv("BULLPEN_PASSPHRASE", raising=False)
    home = tmp_path / "locked"
    Workspace.create(home, "Dana Scott", "Northwind Sales", passphrase="right").close()
    return home


def _answers(monkeypatch: Any, *answers: str | None) -> list[str]:
    replies = iter(answers)
    monkeypatch.setattr(app_module, "ask_passphrase", lambda _home: next(replies))
    warned: list[str] = []
    monkeypatch.setattr(app_module.QMessageBox, "warning",
                        lambda _parent, _title, text: warned.append(text))
    return warned


def test_a_wrong_passphrase_is_asked_again(locked: Path, monkeypatch: Any) -> None:
    warned = _answers(monkeypatch, "wrong", "right")
    ws = app_module._open_asking(locked)
    assert ws is not None
    ws.close()
    assert warned == ["Wrong passphrase, please try again."]
    warned = _answers(monkeypatch, "wrong", "again wrong", "still wrong")
    assert app_module._open_asking(locked) is None
    assert len(warned) == 3


def test_a_locked_profile_nobody_was_asked_about_says_why(locked: Path,
                                                           monkeypatch: Any) -> None:
    warned = _answers(monkeypatch, None)  # the dialog was cancelled
    with pytest.raises(ProfileLocked, match="no key is available"):
        app_module._open_asking(locked)
    monkeypatch.setenv("BULLPEN_PASSPHRASE", "wrong")  # never asked: asking again can't help
    with pytest.raises(ProfileLocked, match="wrong passphrase"):
        app_module._open_asking(locked)
    assert warned == []
