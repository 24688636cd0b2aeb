"""Entry point of the standalone bundle: the ``bullpen`` command, frozen by PyInstaller.

Why a separate file instead of pointing PyInstaller at cli/main.py: the bundle needs two small
adaptations that only make sense when frozen, and they must not live in the app itself.

* Processes the app starts for itself (the demo's simulated teammates) run
  ``sys.executable -m bullpen.cli ...``. In a bundle ``sys.executable`` *is* bullpen, which
  has no ``-m``; those two words are dropped so the same command line works frozen or not.
* ``BULLPEN_BUNDLE_SELFTEST=qt`` opens a small Qt window with a QtCharts chart and exits once
  it is exposed: it proves the bundled Qt plugins (platforms, imageformats, QtCharts) load on
  this machine independently of the desktop app. ``qt-hold`` keeps the window open (20 s at
  most) for an outside observer (bench/startup.py). Used by packaging/smoke.py and the bench
  only; it is not a user feature.
"""

from __future__ import annotations

import os
import sys
import time

T0 = time.perf_counter()


def qt_selftest(hold: bool = False) -> int:
    """Show a window holding a chart, report how long until it was exposed, quit."""
    import json

    from PySide6.QtCharts import QChart, QChartView, QLineSeries
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon, QImageReader
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    report: dict[str, object] = {
        "platform": QGuiApplication.platformName(),
        "imageformats": sorted(bytes(f).decode() for f in QImageReader.supportedImageFormats()),
    }

    class Exposed(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
            if event.type() == QEvent.Type.Expose and "first_window_s" not in report:
                report["first_window_s"] = round(time.perf_counter() - T0, 3)
                if not hold:
                    QTimer.singleShot(0, app.quit)
            return False

    series = QLineSeries()
    for x, y in ((0, 1), (1, 3), (2, 2), (3, 5)):
        series.append(x, y)
    chart = QChart()
    chart.addSeries(series)
    chart.createDefaultAxes()
    window = QMainWindow()
    window.setWindowTitle("Bullpen self-test")
    window.setWindowIcon(QIcon.fromTheme("bullpen"))
    window.setCentralWidget(QChartView(chart))
    window.resize(480, 320)
    window.windowHandle() or window.winId()
    window.windowHandle().installEventFilter(Exposed(window))
    window.show()
    QTimer.singleShot(20000, app.quit)  # never hang a CI run
    app.exec()
    report["ok"] = "first_window_s" in report
    print(json.dumps(report))
    return 0 if report["ok"] else 1


def main() -> int:
    if getattr(sys, "frozen", False) and sys.argv[1:3] == ["-m", "bullpen.cli"]:
        del sys.argv[1:3]
    mode = os.environ.get("BULLPEN_BUNDLE_SELFTEST")
    if mode in ("qt", "qt-hold"):
        return qt_selftest(hold=mode == "qt-hold")
    from bullpen.cli.main import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
