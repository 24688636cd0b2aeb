"""Build the standalone Bullpen bundle: ``python packaging/build.py``.

Produces ``dist/bullpen/`` (the ``bullpen`` executable, its ``_internal/`` runtime with Python,
Qt and every dependency, the Linux .desktop entry and icons) and
``dist/bullpen-<version>-<os>-<arch>.tar.gz`` (``.zip`` on Windows). Nothing outside the folder
is needed: a sales rep's machine needs no Python.

Why PyInstaller and not Briefcase: PyInstaller freezes the environment we already test (same
wheels, same versions), has maintained hooks for PySide6/Qt plugins, cryptography and PyNaCl,
and builds a one-folder bundle for Linux, Windows and macOS from the same spec in a few
minutes. Briefcase would download a separate standalone Python and re-resolve every
dependency into its own app template (not reachable from a machine that can only see PyPI),
and its Linux outputs (AppImage/Flatpak/system packages) need Docker or flatpak-builder.
One folder (not ``--onefile``) because a one-file bundle unpacks ~200 MB to a temp dir at
every start, which would break the 1.5 s cold-start target.

The sources are staged first as one ``bullpen`` package (pyproject maps crdt/ sync/ app/ ui/
to bullpen.crdt ...), so the bundle holds exactly this checkout whatever is installed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
WORK = PACKAGING / "build"
STAGE = WORK / "src"
DIST = ROOT / "dist"
BUNDLE = DIST / "bullpen"
# PyInstaller's version is pinned in the lock (hooks and bootloader behaviour change between
# releases), like every dependency the bundle freezes
LOCK = ROOT / "constraints.txt"
TARGET_MB = 250


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def ensure_pyinstaller() -> None:
    """Install PyInstaller at its locked version (kept out of pyproject: only builders need
    it, and it must not end up in the app's own dependency set)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", str(LOCK), "pyinstaller"],
                   check=True)


def environment_is_locked() -> bool:
    """Whether every installed dependency is at its version in constraints.txt: the bundle
    freezes this environment, so it must be the one the tests and the soak test passed on."""
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "lock.py"), "--check"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        log(check.stderr.strip())
    return check.returncode == 0


def version() -> str:
    """The version the CLI prints (bullpen/__init__.py), read without importing the package."""
    for line in (ROOT / "bullpen" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("bullpen/__init__.py has no __version__")


def stage_sources() -> Path:
    """Copy each package folder of pyproject's package-dir mapping to its place in one tree."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    if STAGE.exists():
        shutil.rmtree(STAGE)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
    for package, folder in sorted(mapping.items()):
        src = ROOT / folder
        if not (src / "__init__.py").exists():
            log(f"skipping {package}: {folder}/ has no package yet")
            continue
        dest = STAGE.joinpath(*package.split("."))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)
    return STAGE


def run_pyinstaller(clean: bool) -> None:
    env = {**os.environ, "BULLPEN_STAGE": str(STAGE), "BULLPEN_VERSION": version(),
           "QT_QPA_PLATFORM": "offscreen"}  # PySide6 hooks start Qt to find its plugins
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK / "pyinstaller"),
           str(PACKAGING / "bullpen.spec")]
    if clean:
        cmd.insert(3, "--clean")
    log(" ".join(cmd[2:]))
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def add_desktop_files() -> None:
    """The Linux menu entry, icons and a per-user installer go beside the executable."""
    (BUNDLE / "share" / "applications").mkdir(parents=True, exist_ok=True)
    shutil.copy2(PACKAGING / "bullpen.desktop", BUNDLE / "share" / "applications")
    (BUNDLE / "share" / "icons").mkdir(parents=True, exist_ok=True)
    for name in ("bullpen.svg", "bullpen-256.png"):
        shutil.copy2(PACKAGING / "icons" / name, BUNDLE / "share" / "icons" / name)
    if sys.platform.startswith("linux"):
        shutil.copy2(PACKAGING / "linux" / "install-desktop.sh", BUNDLE / "install-desktop.sh")


def strip_debug_info(path: Path) -> int:
    """Drop DWARF debug sections from the bundled ELF libraries that carry them (pyenv's
    libpython alone has 18 MB of it); symbols and every loadable section stay, so this cannot
    change behaviour, unlike PyInstaller's ``strip=True`` on all of Qt. Returns bytes saved."""
    if not sys.platform.startswith("linux") or shutil.which("strip") is None:
        return 0
    saved = 0
    for p in path.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        data = p.read_bytes()
        if not data.startswith(b"\x7fELF") or b".debug_info" not in data:
            continue
        before = len(data)
        subprocess.run(["strip", "--strip-debug", str(p)], check=True)
        saved += before - p.stat().st_size
    return saved


# X11 helper libraries Qt's xcb plugin needs that desktop installs often lack (libxcb-cursor0
# above all, required since Qt 6.5). PyInstaller bundles them only if the build machine has
# them, so a build without them would run here and fail on a rep's laptop.
XCB_HELPERS = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
               "libxcb-image.so.0", "libxcb-render-util.so.0", "libxkbcommon-x11.so.0")


def missing_xcb_helpers(path: Path) -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    return [name for name in XCB_HELPERS if not (path / "_internal" / name).exists()]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest(path: Path, count: int = 8) -> list[tuple[int, str]]:
    files = [(p.stat().st_size, str(p.relative_to(path))) for p in path.rglob("*")
             if p.is_file() and not p.is_symlink()]
    return sorted(files, reverse=True)[:count]


def archive() -> Path:
    """tar.gz keeps the executable bit and symlinks (zip on Windows, where neither matters)."""
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform,
                                                                           sys.platform)
    base = DIST / f"bullpen-{version()}-{system}-{platform.machine().lower()}"
    if sys.platform == "win32":
        out = base.with_suffix(".zip")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in BUNDLE.rglob("*"):
                zf.write(p, p.relative_to(DIST))
        return out
    out = Path(f"{base}.tar.gz")
    with tarfile.open(out, "w:gz", compresslevel=6) as tf:
        tf.add(BUNDLE, arcname="bullpen")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="ignore PyInstaller's cache")
    parser.add_argument("--no-archive", action="store_true", help="only the dist/bullpen folder")
    args = parser.parse_args(argv)

    started = time.monotonic()
    ensure_pyinstaller()
    if not environment_is_locked():
        return 1
    stage_sources()
    run_pyinstaller(args.clean)
    add_desktop_files()
    log(f"stripped {strip_debug_info(BUNDLE / '_internal') / 1e6:.1f} MB of debug info")
    exe = BUNDLE / ("bullpen.exe" if sys.platform == "win32" else "bullpen")
    check = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        log(f"the bundle does not start: {check.stderr.strip()}")
        return 1
    missing = missing_xcb_helpers(BUNDLE)
    if missing:
        log(f"not bundled (absent on this build machine): {', '.join(missing)}; run "
            f"`bash scripts/install.sh` (installs Qt's system libraries) and build again")
        return 1
    size_mb = folder_bytes(BUNDLE) / 1e6
    log(f"{exe.relative_to(ROOT)}: {check.stdout.strip()}")
    log(f"bundle size: {size_mb:.1f} MB unpacked (target < {TARGET_MB} MB); largest files:")
    for size, name in largest(BUNDLE):
        log(f"  {size / 1e6:6.1f} MB  {name}")
    if not args.no_archive:
        out = archive()
        log(f"archive: {out.relative_to(ROOT)} {out.stat().st_size / 1e6:.1f} MB")
    log(f"done in {time.monotonic() - started:.0f} s")
    if size_mb > TARGET_MB:
        log(f"bundle is over the {TARGET_MB} MB target")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
