"""Desktop app benchmark: cold start, live remote changes, keystroke latency.

    python bench/ui.py [--opportunities 10000] [--quick]

Prints, for a profile of 10,000 opportunities (offscreen Qt, so no display is needed):

* ``cold_start_s``: a fresh process (``python -c`` importing the app, opening the profile,
  building the window) until the main window's first paint, and until the pipeline shows its
  rows (target < 2 s).
* ``remote_batch_ms``: another Workspace on the same profile (as the CLI or the node write)
  changes 100 deals in one batch; time from the app picking them up (``ws.refresh`` in a worker)
  until the open Pipeline shows all 100 (target < 100 ms), the GUI-thread time of applying the
  batch, and ``longest_stall_ms``, the longest gap of a 2 ms timer during it (target < 50 ms).
* ``keystroke_ms``: in the document editor, from a key press to the repainted editor
  (median and worst of 200 keys in a 20,000-character document; target < 16 ms).
* ``remote_text_*_ms``, ``remote_key_*_ms``: how the editor learns what a teammate changed in
  that document (a word typed in the middle and a line appended at the end; one keystroke),
  as another Workspace writes them: the editor's path, ``text_patches`` of the mirror and the
  new text (``difflib``), and automerge's ``Document.diff`` between the heads before and
  after, in the same run (median of 30 each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("BULLPEN_PASSPHRASE", "bench")
TARGETS = {"cold_start_s": 2.0, "remote_batch_ms": 100, "longest_stall_ms": 50,
           "keystroke_p50_ms": 16}

COLD_CHILD = r"""
import os, sys, time, json
t0 = float(sys.argv[2])
from pathlib import Path
from PySide6.QtCore import QEvent, QObject, QTimer
from bullpen.ui.app import Session, application
from bullpen.app.workspace import Workspace
app = application()
ws = Workspace.open(Path(sys.argv[1]))
session = Session(ws, notifications=False)
marks = {}
class Paint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time() - t0
        return False
watcher = Paint()
session.window.installEventFilter(watcher)
pipeline = session.window.screen("Pipeline")
def check():
    if pipeline.model.rowCount() and "rows" not in marks:
        session.window.repaint()
        marks["rows"] = time.time() - t0
    if "paint" in marks and "rows" in marks:
        print(json.dumps(marks), flush=True)
        app.quit()
timer = QTimer(); timer.timeout.connect(check); timer.start(2)
session.start()
app.exec()
session.close()
"""


def make_profile(root: Path, count: int) -> Path:
    from bullpen.app.demo.team import seed_demo
    from bullpen.app.workspace import Workspace

    home = root / "dana"
    ws = Workspace.create(home, "Dana Scott", "Northwind Sales")
    seed_demo(ws, opportunities=10)
    stages = [s.id for s in ws.stages()]
    for start in range(0, count, 2000):
        ws.add_many("opportunity", [
            {"account": f"Account {i % 700}", "title": f"Deal {i}", "amount": 1000 + i % 97 * 500,
             "stage": stages[i % len(stages)],
             "close_date": f"2027-{1 + i % 12:02d}-{1 + i % 28:02d}",
             "owner": ["Dana Scott", "Eli Park", "Fay Moreno"][i % 3]}
            for i in range(start, min(count, start + 2000))])
    ws.new_document("Long proposal", "Lorem ipsum dolor sit amet. " * 715)  # ~20k chars
    ws.close()
    return home


def cold_start(home: Path, runs: int) -> dict[str, float]:
    paints, rows = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD_CHILD, str(home), repr(time.time())],
                             capture_output=True, text=True, timeout=120, env=os.environ)
        line = [x for x in out.stdout.splitlines() if x.startswith("{")]
        if not line:
            raise SystemExit(f"cold start child failed: {out.stderr[-2000:]}")
        marks = json.loads(line[-1])
        paints.append(marks["paint"])
        rows.append(marks["rows"])
    return {"cold_start_s": round(statistics.median(paints), 3),
            "cold_start_rows_s": round(statistics.median(rows), 3)}


def in_process(home: Path, rounds: int) -> dict[str, float]:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QTextCursor
    from PySide6.QtTest import QTest

    from bullpen.app.workspace import Workspace
    from bullpen.ui import worker
    from bullpen.ui.app import Session, application

    app = application()
    ws = Workspace.open(home)
    session = Session(ws, notifications=False)
    session.window.resize(1280, 800)
    session.start()
    session.refresh_timer.stop()  # the bench triggers refreshes itself
    pipeline = session.window.screen("Pipeline")

    def wait_until(predicate, timeout: float = 30.0) -> None:
        deadline = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > deadline:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.0005)

    wait_until(lambda: pipeline.model.rowCount() > 10_000 and not worker.busy())
    QTest.qWait(300)

    # --- remote batch of 100 changes ---
    applied_ms, handler_ms, stalls_ms = [], [], []
    original = pipeline._on_batch

    def timed(changes):  # the GUI-thread cost of applying one batch
        start = time.perf_counter()
        original(changes)
        handler_ms.append((time.perf_counter() - start) * 1000)

    session.ctx.hub.batch.disconnect(pipeline._on_batch)
    session.ctx.hub.batch.connect(timed)
    other = Workspace.open(home)
    ids = [o["id"] for o in other.list("opportunity")][:5000]
    for n in range(rounds):
        batch = ids[n * 100:(n + 1) * 100]
        other.add_many("opportunity", [], updates=[(rid, {"next_step": f"round {n}"})
                                                   for rid in batch])
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick(gaps=gaps, last=last) -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(tick)
        timer.start(2)
        picked: list[float] = []
        worker.run_async(ws.refresh,
                         on_done=lambda _r, picked=picked: picked.append(time.perf_counter()))
        column = 7

        def shown(batch=batch, n=n, column=column) -> bool:
            row = pipeline.model.row_of(batch[-1])
            first = pipeline.model.row_of(batch[0])
            return (row is not None and first is not None
                    and pipeline.model.index(row, column).data() == f"round {n}"
                    and pipeline.model.index(first, column).data() == f"round {n}")

        wait_until(lambda picked=picked: bool(picked) and shown())
        done = time.perf_counter()
        timer.stop()
        applied_ms.append((done - picked[0]) * 1000)
        stalls_ms.append(max(gaps) * 1000 if gaps else 0.0)
    other.close()

    # --- keystrokes in the document editor ---
    session.window.go(2)
    documents = session.window.screen("Documents")
    wait_until(lambda: documents.loaded_once)
    doc = next(d for d in ws.list("document") if d["title"] == "Long proposal")
    documents.show_record(doc["id"])
    wait_until(lambda: documents.editor.title.text() == "Long proposal" and not worker.busy())
    edit = documents.editor.edit
    edit.moveCursor(QTextCursor.MoveOperation.End)
    keys_ms = []
    for i in range(200):
        start = time.perf_counter()
        QTest.keyClick(edit, "abcdefghij"[i % 10])
        edit.viewport().repaint()
        keys_ms.append((time.perf_counter() - start) * 1000)
    wait_until(lambda: documents.editor.queue.outstanding == 0, 60)
    keys_ms.sort()
    session.close()
    ws.close()
    return {
        "remote_batch_ms": round(statistics.median(applied_ms), 1),
        "remote_batch_worst_ms": round(max(applied_ms), 1),
        "batch_gui_thread_max_ms": round(max(handler_ms), 1),
        "longest_stall_ms": round(max(stalls_ms), 1),
        "keystroke_p50_ms": round(keys_ms[len(keys_ms) // 2], 2),
        "keystroke_p95_ms": round(keys_ms[int(len(keys_ms) * 0.95)], 2),
        "keystroke_max_ms": round(keys_ms[-1], 2),
    }


def remote_text(home: Path, rounds: int = 30) -> dict[str, float]:
    """Both ways of finding a teammate's edits in the 20k-character document (no Qt): a word
    in the middle and a line at the end (``remote_text_*``), and one keystroke
    (``remote_key_*``)."""
    from bullpen.app.documents.text_mirror import text_patches
    from bullpen.app.workspace import Workspace
    from bullpen.crdt.schema import text_doc_id

    ws, other = Workspace.open(home), Workspace.open(home)
    rid = next(d["id"] for d in ws.list("document") if d["title"] == "Long proposal")
    doc_id = text_doc_id(rid)

    def both_ways(edit: Any) -> tuple[float, float]:
        mirror, before = ws.document(rid)["text"], ws.heads(doc_id)
        edit(len(mirror))
        ws.refresh()
        text, after, doc = ws.document(rid)["text"], ws.heads(doc_id), ws.doc(doc_id)
        start = time.perf_counter()
        patches = text_patches(mirror, text)
        ours = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        diff = doc.diff(before, after)
        theirs = (time.perf_counter() - start) * 1000
        if not patches or not diff:
            raise SystemExit("the teammate's edit was not seen")
        return ours, theirs

    def word_and_line(n: int) -> Any:
        def edit(size: int) -> None:
            word = f"word{n} "
            other.edit_document(rid, splice=(size // 2, 0, word))
            other.edit_document(rid, splice=(size + len(word), 0, f"\nline {n}"))
        return edit

    texts = [both_ways(word_and_line(n)) for n in range(rounds)]
    keys = [both_ways(lambda size: other.edit_document(rid, splice=(size // 3, 0, "k")))
            for _ in range(rounds)]
    other.close()
    ws.close()
    out = {}
    for name, pairs in (("remote_text", texts), ("remote_key", keys)):
        out[f"{name}_difflib_ms"] = round(statistics.median(p[0] for p in pairs), 3)
        out[f"{name}_automerge_diff_ms"] = round(statistics.median(p[1] for p in pairs), 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opportunities", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bullpen-bench-ui-") as tmp:
        start = time.perf_counter()
        home = make_profile(Path(tmp), args.opportunities)
        print(f"profile with {args.opportunities} opportunities made in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
        results = cold_start(home, 1 if args.quick else 3)
        results.update(in_process(home, 3 if args.quick else 10))
        results.update(remote_text(home))
    results["opportunities"] = args.opportunities
    print(json.dumps(results, indent=2))
    for key, target in TARGETS.items():
        verdict = "ok" if results[key] < target else "OVER TARGET"
        print(f"{key}: {results[key]} (target < {target}) {verdict}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # PySide6 can crash while the interpreter tears Qt objects down (a refcount bug in the
    # binding at finalization); the figures are out, so skip the teardown.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
