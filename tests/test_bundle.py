"""The standalone bundle (packaging/): built with PyInstaller, then used with Python hidden.

Building takes about a minute, so these tests run only when asked (``BULLPEN_TEST_BUNDLE=1``:
build when the bundle is missing or older than the sources, then test) or when a bundle is
already in dist/ (test it as it is). The checks themselves live in packaging/smoke.py, which
CI can also call directly; each is one test here so a failure names its part.
"""

from __future__ import annotations

import configparser
import fcntl
import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
EXE = ROOT / "dist" / "bullpen" / ("bullpen.exe" if sys.platform == "win32" else "bullpen")
REQUESTED = os.environ.get("BULLPEN_TEST_BUNDLE") == "1"
SOURCES = ("bullpen", "app", "crdt", "sync", "ui", "cli", "packaging")

with warnings.catch_warnings():  # the marker is registered in pyproject once its owner adds it
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    bundle = pytest.mark.bundle

needs_bundle = pytest.mark.skipif(
    not (REQUESTED or EXE.exists()),
    reason="no bundle in dist/: set BULLPEN_TEST_BUNDLE=1 to build one with "
           "packaging/build.py (about a minute) and test it",
)


def load_smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bullpen_smoke", PACKAGING / "smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def newest_source() -> float:
    newest = 0.0
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".spec") and "build" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


@pytest.fixture(scope="session")
def built() -> Path:
    """The bundle's executable; built first when requested and missing or stale. A file lock
    keeps parallel test workers from building twice."""
    if REQUESTED:
        lock_path = PACKAGING / "build" / ".test-lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not EXE.exists() or EXE.stat().st_mtime < newest_source():
                subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--no-archive"],
                               check=True, timeout=900)
    assert EXE.exists(), f"no bundle at {EXE}"
    return EXE


@pytest.fixture(scope="session")
def smoke() -> ModuleType:
    return load_smoke()


@pytest.fixture
def runner(built: Path, smoke: ModuleType, tmp_path: Path):
    prefix, _ = smoke.isolation_prefix()
    return smoke.Runner(built, tmp_path, prefix)


CHECK_NAMES = ["version", "cli", "import/export", "qt offscreen", "qt xcb (Xvfb)", "desktop window",
               "sync on loopback", "upgrade in place"]


@bundle
@needs_bundle
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", CHECK_NAMES)
def test_bundle_check(name: str, runner, smoke: ModuleType) -> None:
    check = dict(smoke.CHECKS)[name]
    try:
        detail = check(runner)
    except smoke.Skip as exc:
        pytest.skip(str(exc))
    print(f"{name}: {detail}")


def test_every_smoke_check_is_a_test(smoke: ModuleType) -> None:
    assert [name for name, _ in smoke.CHECKS] == CHECK_NAMES


@bundle
@needs_bundle
def test_bundle_size_and_contents(built: Path) -> None:
    folder = built.parent
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    assert size < 250e6, f"bundle is {size / 1e6:.0f} MB"
    internal = folder / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for required in ("platforms/libqoffscreen.so", "platforms/libqxcb.so",
                     "imageformats/libqsvg.so"):
        assert (plugins / required).exists() or sys.platform != "linux", required
    libs = {p.name.split(".")[0] for p in (internal / "PySide6" / "Qt" / "lib").glob("*")}
    assert "libQt6Charts" in libs
    for unwanted in ("libQt6WebEngineCore", "libQt6Quick", "libQt6Qml", "libQt63DCore",
                     "libQt6Multimedia"):
        assert unwanted not in libs, unwanted
    assert (folder / "share" / "applications" / "bullpen.desktop").exists()
    assert (folder / "share" / "icons" / "bullpen.svg").exists()


def test_desktop_entry_is_valid() -> None:
    """The keys a Linux menu needs, without desktop-file-validate (not installed here)."""
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(PACKAGING / "bullpen.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"].split()[0] == "bullpen"
    assert section["Icon"] == "bullpen"
    assert section["Categories"].endswith(";")
    assert (PACKAGING / "icons" / "bullpen.svg").read_text().lstrip().startswith("<?xml")
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (PACKAGING / "icons" / f"bullpen-{size}.png").stat().st_size > 100
