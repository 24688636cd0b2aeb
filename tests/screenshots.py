"""Screenshots of every screen on a seeded demo workspace: ``python tests/screenshots.py``.

Starts the app under Xvfb (re-executing itself with ``xvfb-run`` when no display is set),
at 1280x800, and saves one PNG per screen plus the board, quick add, search, notification
settings and the import preview into docs/screenshots/. Not a pytest module (no ``test_``
prefix): it is run by hand or by CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def main() -> int:
    if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        if shutil.which("xvfb-run") is None:
            print("screenshots: install Xvfb (apt-get install -y xvfb)", file=sys.stderr)
            return 1
        return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24",
                                sys.executable, __file__])
    os.environ.setdefault("BULLPEN_PASSPHRASE", "screenshots")
    from PySide6.QtTest import QTest

    from bullpen.app.demo.team import seed_demo
    from bullpen.app.workspace import Workspace
    from bullpen.ui import worker
    from bullpen.ui.app import Session, application

    app = application()
    root = Path(tempfile.mkdtemp(prefix="bullpen-shots-"))
    ws = Workspace.create(root / "dana", "Dana Scott", "Northwind Sales")
    seed_demo(ws, opportunities=60, files_dir=root / "files")
    session = Session(ws, notifications=False)
    window = session.window
    window.resize(1280, 800)
    session.start()
    OUT.mkdir(parents=True, exist_ok=True)

    def settle(ms: int = 400) -> None:
        QTest.qWait(ms)
        while worker.busy():
            QTest.qWait(50)
        QTest.qWait(150)

    def shot(name: str, widget=None) -> None:
        settle()
        (widget or window).grab().save(str(OUT / f"{name}.png"))
        print(f"saved {OUT / name}.png")

    for number, title in enumerate(window.screens, start=1):
        window.go(number - 1)
        shot(f"{number:02d}-{title.lower()}")
    pipeline = window.screens["Pipeline"]
    window.go(0)
    pipeline.board_button.click()
    shot("10-pipeline-board")
    pipeline.table_button.click()
    pipeline.views.setCurrentIndex(0)
    window.screens["Discussions"].topics.setCurrentRow(0)
    window.search.popup()
    window.search.box.setText("glob")
    settle(600)
    shot("11-search", window.search)
    window.search.hide()
    from bullpen.ui.quick_add import QuickAddDialog

    dialog = QuickAddDialog(ws.stages(), ["Acme"], ws.currency, window)
    dialog.line.setText("Acme renewal 50k proposal Dec 15")
    dialog._parse(dialog.line.text())
    dialog.show()
    shot("12-quick-add", dialog)
    dialog.close()
    from bullpen.ui.import_preview import ImportPreviewDialog
    from bullpen.ui.notify_prefs import SubscriptionsDialog

    settings = SubscriptionsDialog(session.ctx, window)
    settings.show()
    shot("13-notification-settings", settings)
    settings.close()
    crm = root / "crm-export.csv"
    crm.write_text("Deal Name,Company,Deal Value,Stage,Close Date,Region\n"
                   "Globex wave two,Globex,\"12,000\",Proposal,2031-02-01,EMEA\n"
                   "Initech pilot,Initech,8000,Qualification,2031-03-15,US\n"
                   "Umbrella trial,Umbrella,lots,Proposal,2031-04-01,US\n")
    preview = ImportPreviewDialog(session.ctx, str(crm), window)
    preview.show()
    settle()
    preview.set_mapping("Deal Value", "amount")
    shot("14-import-preview", preview)
    preview.close()
    session.close()
    ws.close()
    shutil.rmtree(root, ignore_errors=True)
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
