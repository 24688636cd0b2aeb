"""Start-up check of the PySide6 the app runs on: refuse one that corrupts reference counts.

PySide6 6.12.0 drops a reference to ``True`` on every ``SignalInstance.emit()`` and one to
``None`` on every call of a Qt method that returns nothing. On Python 3.11 those objects are
ordinary ones: once their count reaches zero the interpreter aborts (``bool_dealloc`` /
``none_dealloc``); the desktop app died that way after 60-95 s. Python 3.12+ made them immortal
(PEP 683), where the same bug is harmless. So the check measures the defect itself (a few dozen
calls, well under a millisecond) rather than trusting a list of bad versions, and only warns
about a version that is merely untested. ``TESTED`` is what ``constraints.txt`` installs and the
soak test (tests/test_soak_app.py) has run for minutes; a test keeps the two equal.
"""

from __future__ import annotations

import gc
import sys

TESTED = ("6.11.3",)
PROBE_CALLS = 20


def pyside_version() -> str:
    import PySide6

    return PySide6.__version__


def leaks_references() -> bool:
    """Whether signal emits or void Qt calls drop references to ``True`` or ``None`` here."""
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        ping = Signal()

    probe = Probe()
    enabled = gc.isenabled()
    gc.disable()  # a collection in the loop could free objects holding True or None
    try:
        before = sys.getrefcount(True), sys.getrefcount(None)
        for _ in range(PROBE_CALLS):
            probe.ping.emit()
            probe.setObjectName("probe")
        after = sys.getrefcount(True), sys.getrefcount(None)
    finally:
        if enabled:
            gc.enable()
    return any(b - a >= PROBE_CALLS for b, a in zip(before, after, strict=True))


def refusal() -> str | None:
    """One line saying why the app must not start on this PySide6, or None."""
    if not leaks_references():
        return None
    return (f"PySide6 {pyside_version()} corrupts Python's reference counts and would crash "
            f"the app within minutes; run `bash scripts/install.sh` to install the tested "
            f"version ({', '.join(TESTED)})")


def warning() -> str | None:
    """One line when this PySide6 is not a version the app was tested on, or None."""
    version = pyside_version()
    if version in TESTED:
        return None
    return (f"PySide6 {version} is not a tested version ({', '.join(TESTED)}); "
            f"`bash scripts/install.sh` installs the tested one")
