"""Soak: the real desktop app on the live demo office for minutes, watching for slow death.

Why: on PySide6 6.12.0 the app aborted after 60-95 s (``Fatal Python error: bool_dealloc``)
because each signal emit dropped a reference to ``True``; a 25 s smoke run cannot see that.
This runs ``bullpen demo`` (the app, its trio guest node and three simulated teammates as real
peers over libp2p) offscreen in a child process for ``SOAK_SECONDS``, switching screens as a
user would. The child samples ``sys.getrefcount(True)``, ``sys.getrefcount(None)`` and its RSS
every few seconds. It fails if the app crashes or exits non-zero, if no teammate's change
arrived, if either reference count falls steadily (the lowest value of the last minute is
``MAX_REF_DROP`` below the lowest of the first minute after warm-up), or if RSS after warm-up
grows by more than ``MAX_RSS_GROWTH``.

``python tests/test_soak_app.py SECONDS`` runs the child alone and prints its samples.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK_SECONDS = float(os.environ.get("BULLPEN_SOAK_SECONDS", "330"))
WARMUP = 60.0  # start-up, first sync with the teammates, every screen built once
SAMPLE_EVERY = 5.0
USE_EVERY = 2.0  # seconds between screen switches
MAX_REF_DROP = 100  # the 6.12.0 bug dropped ~140 references a second
MAX_RSS_GROWTH = 0.20


def drive(seconds: float) -> int:
    """The child: the app on the demo office, printing one JSON sample per line."""
    import psutil
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QLabel

    from bullpen.ui.app import application, run
    from bullpen.ui.main_window import MainWindow

    app = application()
    me = psutil.Process()
    started = time.monotonic()
    seen = {"remote": 0, "switches": 0}
    hooked: set[int] = set()

    def window() -> MainWindow | None:
        return next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)

    def count(changes: list[Any]) -> None:
        seen["remote"] += sum(1 for c in changes if c.remote)

    def use() -> None:
        win = window()
        if win is None:
            return
        if id(win) not in hooked:
            hooked.add(id(win))
            win.ctx.hub.batch.connect(count)
        win.go(seen["switches"] % len(win.screens))
        seen["switches"] += 1

    def sample() -> None:
        modal = app.activeModalWidget()  # what the app waits on, should it hang
        print(json.dumps({"t": round(time.monotonic() - started, 1),
                          "true": sys.getrefcount(True), "none": sys.getrefcount(None),
                          "rss": me.memory_info().rss, **seen,
                          "modal": " / ".join(label.text() for label in
                                              modal.findChildren(QLabel)) if modal else ""}),
              flush=True)

    for every, fn in ((SAMPLE_EVERY, sample), (USE_EVERY, use)):
        timer = QTimer(app)  # kept alive by its parent
        timer.timeout.connect(fn)
        timer.start(int(every * 1000))
    os.environ["BULLPEN_QUIT_AFTER"] = str(seconds)
    with tempfile.TemporaryDirectory(prefix="bullpen-soak-") as home:
        code = run(Path(home), demo=True)
    print(json.dumps({"exit": code}), flush=True)
    sys.stdout.flush()
    os._exit(code)  # as `bullpen gui` does: no interpreter teardown of Qt objects


def steady_fall(samples: list[dict[str, Any]], key: str) -> int:
    """How far the lowest ``key`` of the last minute is below the lowest of the first minute
    after warm-up (positive: it fell)."""
    window = int(60 / SAMPLE_EVERY)
    values = [s[key] for s in samples if s["t"] >= WARMUP]
    return min(values[:window]) - min(values[-window:])


def run_soak(seconds: float) -> tuple[int | None, list[dict[str, Any]], str]:
    """The child's exit code (None: it hung and was killed), its JSON lines and its stderr."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("BULLPEN_QUIT_AFTER", None)
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, str(seconds)],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        try:
            out, code = proc.communicate(timeout=seconds + 180)[0], proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, code = proc.communicate()[0], None
        err.seek(0)
        stderr = err.read()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, lines, stderr


@pytest.mark.slow
@pytest.mark.timeout(SOAK_SECONDS + 300)
def test_app_with_live_teammates_runs_for_minutes_without_leaking() -> None:
    assert SOAK_SECONDS >= WARMUP + 120, "the soak needs two minutes after warm-up"
    code, lines, stderr = run_soak(SOAK_SECONDS)
    samples = [line for line in lines if "t" in line]
    fatal = [line for line in stderr.splitlines() if line.startswith("Fatal Python error")]
    tail = "\n".join(fatal + stderr.strip().splitlines()[-6:])
    last = samples[-1] if samples else {}
    assert code is not None, f"the app hung after {last.get('t', 0):.0f} s: {last}"
    assert code == 0 and {"exit": 0} in lines, (
        f"the app died (exit {code}) after {last.get('t', 0):.0f} s:\n{tail}")
    assert last["t"] >= SOAK_SECONDS - SAMPLE_EVERY, f"the app quit early at {last['t']} s"
    assert last["remote"] > 0, "no teammate's change reached the app: the soak was not live"
    assert last["switches"] > 0, "the soak never used the window"
    for key in ("true", "none"):
        fell = steady_fall(samples, key)
        assert fell <= MAX_REF_DROP, (
            f"sys.getrefcount({key.title()}) fell by {fell} after warm-up: a C extension "
            f"drops references; the samples: {[s[key] for s in samples]}")
    after_warmup = [s["rss"] for s in samples if s["t"] >= WARMUP]
    growth = max(after_warmup[-int(60 / SAMPLE_EVERY):]) / after_warmup[0] - 1
    assert growth <= MAX_RSS_GROWTH, (
        f"RSS grew {growth:.0%} after warm-up ({after_warmup[0] / 1e6:.0f} -> "
        f"{after_warmup[-1] / 1e6:.0f} MB)")


def test_the_lock_installs_a_tested_pyside_that_keeps_reference_counts() -> None:
    """The soak's verdict holds for what users get: constraints.txt pins a PySide6 the start-up
    check lists as tested, this suite runs on it, and it passes the check's probe."""
    from importlib import metadata

    from bullpen.ui import qt_check

    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    assert spec is not None and spec.loader is not None
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    locked = lock.read_lock()
    for name in ("pyside6-essentials", "pyside6-addons", "shiboken6"):
        assert locked[name] in qt_check.TESTED, f"{name} {locked[name]} is locked but untested"
        assert metadata.version(name) == locked[name], (
            f"{name} {metadata.version(name)} is installed, {locked[name]} is locked: run "
            f"`bash scripts/install.sh --test`")
    assert not qt_check.leaks_references()
    assert qt_check.refusal() is None and qt_check.warning() is None


if __name__ == "__main__":
    drive(float(sys.argv[1]) if len(sys.argv) > 1 else SOAK_SECONDS)
