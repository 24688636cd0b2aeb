"""The sync commands' logging: libp2p's errors about a peer that misbehaves (a stranger who
never answers identify, an offline teammate) are not printed raw on the user's terminal."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import logging
from bullpen.app.logs import configure_logging
configure_logging()  # as `bullpen serve` does, before anything imports libp2p
import libp2p.host.basic_host  # a module that logs such errors
logging.getLogger("libp2p.host.basic_host").error("Failed to open stream to peer X")
logging.getLogger("bullpen.sync").warning("peer X: held back")
"""


def test_libp2p_errors_stay_quiet_though_libp2p_is_imported_later() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LIBP2P_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Failed to open stream" not in proc.stderr
    assert "held back" in proc.stderr  # our own warnings still show
