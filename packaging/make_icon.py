"""Draw Bullpen's application icon with Qt's QPainter and write it as PNG (several sizes), SVG
and, for the Windows/macOS builds, ICO.

Why a script instead of a binary from a design tool: the icon is reproducible from the
repository, reviewable as code, and needs nothing beyond PySide6, which the app already
depends on. The outputs are committed (packaging/icons/) so a build never needs a display.

Usage: QT_QPA_PLATFORM=offscreen python packaging/make_icon.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "icons"
SIZES = (16, 32, 48, 64, 128, 256, 512)

# A rounded navy tile, three rising bars (a pipeline growing) and a small green peer dot
# linked to a second one: "sales" plus "peer to peer", readable at 16 px.
SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <rect x="8" y="8" width="240" height="240" rx="48" ry="48" fill="#1f3a5f"/>
  <rect x="52" y="140" width="36" height="68" rx="6" fill="#f2f5f9"/>
  <rect x="110" y="104" width="36" height="104" rx="6" fill="#f2f5f9"/>
  <rect x="168" y="64" width="36" height="144" rx="6" fill="#f5b841"/>
  <line x1="70" y1="92" x2="128" y2="60" stroke="#4cc38a" stroke-width="10"
        stroke-linecap="round"/>
  <circle cx="70" cy="92" r="16" fill="#4cc38a"/>
  <circle cx="128" cy="60" r="16" fill="#4cc38a"/>
</svg>
"""


def draw(size: int):  # -> QImage
    """The same drawing as SVG, painted at ``size`` px (antialiased) on a transparent image."""
    from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size / 256, size / 256)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor("#1f3a5f")))
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 48, 48)
    for x, y, h, colour in ((52, 140, 68, "#f2f5f9"), (110, 104, 104, "#f2f5f9"),
                            (168, 64, 144, "#f5b841")):
        p.setBrush(QBrush(QColor(colour)))
        p.drawRoundedRect(QRectF(x, y, 36, h), 6, 6)
    pen = QPen(QColor("#4cc38a"), 10)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.drawLine(QLineF(70, 92, 128, 60))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor("#4cc38a")))
    p.drawEllipse(QPointF(70, 92), 16, 16)
    p.drawEllipse(QPointF(128, 60), 16, 16)
    p.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt up)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bullpen.svg").write_text(SVG, encoding="utf-8")
    for size in SIZES:
        if not draw(size).save(str(OUT / f"bullpen-{size}.png")):
            raise SystemExit(f"cannot write {OUT / f'bullpen-{size}.png'}")
    # Qt writes .ico only through an imageformat plugin that may be absent; the 256 px PNG
    # is what Windows builds embed when it is (PyInstaller converts PNG with Pillow).
    draw(256).save(str(OUT / "bullpen.ico"))
    print(f"icons written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
