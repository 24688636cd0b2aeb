"""The sync node inside the app: a teammate's change made in another peer *process* appears
in the open Pipeline, and the GUI stays responsive while it syncs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from helpers_procs import LOOPBACK, Serve, add_opp, make_profiles
from ui_helpers import settle, wait

from bullpen.app.workspace import Workspace

pytestmark = pytest.mark.slow


def test_peer_process_change_appears_in_open_pipeline(qtbot, tmp_path: Path) -> None:
    from bullpen.app.network.peer_book import add_peer
    from bullpen.ui.app import Session
    from bullpen.ui.network import default_node_factory

    dana_home, eli_home = make_profiles(tmp_path, ["Dana", "Eli"])
    ws = Workspace.open(dana_home)
    ws.add("opportunity", {"account": "Initech", "title": "Initech renewal", "amount": 1000,
                           "stage": "proposal", "close_date": "2026-12-15"})
    with Serve(eli_home) as eli:
        add_peer(ws, eli.addr, "Eli")
        session = Session(ws, network_factory=default_node_factory(listen=[LOOPBACK],
                                                                   mdns=False),
                          notifications=False)
        qtbot.addWidget(session.window)
        session.start()
        try:
            pipeline = session.window.screen("Pipeline")
            wait(qtbot, lambda: session.network.online, timeout=30000)
            wait(qtbot, lambda: any(p.get("connected") and p.get("docs_behind") == 0
                                    for p in session.network.state["peers"]), timeout=60000)
            assert "Online" in session.window.network_label.text()
            stalls: list[float] = []
            last = [time.perf_counter()]

            def tick() -> None:  # the longest gap between timer ticks = the longest stall
                now = time.perf_counter()
                stalls.append(now - last[0])
                last[0] = now

            from PySide6.QtCore import QTimer

            timer = QTimer()
            timer.setInterval(5)
            timer.timeout.connect(tick)
            timer.start()
            made: list[str] = []  # Eli's CLI beside his serve, off the GUI thread
            threading.Thread(target=lambda: made.append(
                add_opp(eli_home, "Eli's Globex expansion"))).start()
            wait(qtbot, lambda: made, timeout=60000)
            new_id = made[0]
            wait(qtbot, lambda: pipeline.model.row_of(new_id) is not None, timeout=60000)
            timer.stop()
            row = pipeline.model.row_of(new_id)
            assert pipeline.model.record(row)["title"] == "Eli's Globex expansion"
            assert max(stalls) < 0.5, f"GUI stalled {max(stalls):.3f} s while syncing"
        finally:
            session.close()
            settle(qtbot)
            ws.close()
