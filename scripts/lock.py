"""The dependency lock: ``constraints.txt`` pins every package Bullpen installs.

    python scripts/lock.py            # write constraints.txt from this (working) environment
    python scripts/lock.py --check    # exit 1 if an installed package differs from the lock

Why: pyproject's ranges (``PySide6-Essentials>=6.7,<7``) let a new release in on the next
install, and PySide6 6.12.0 crashed the app within minutes. The lock is the dependency closure
of ``bullpen[test]`` plus the bundle's PyInstaller, with the versions installed here, where the
test suite and the soak test pass. ``scripts/install.sh`` and ``packaging/build.py`` install
with ``-c constraints.txt``; ``--check`` keeps a bundle from freezing anything else.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
ROOTS = (("bullpen", ("test",)), ("pyinstaller", ()))  # what install.sh and build.py install
SKIP = {"bullpen", "pip", "setuptools", "wheel"}  # the project itself and the installers
HEADER = """\
# Bullpen's dependency lock, written by `python scripts/lock.py` from an environment where the
# tests and the soak test (tests/test_soak_app.py) pass. Used as `pip install -c constraints.txt`
# by scripts/install.sh and packaging/build.py. PySide6 stays at 6.11.3: 6.12.0 corrupts
# Python 3.11's reference counts (README, "Dependency lock").
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure() -> dict[str, str]:
    """Installed name -> version for the roots and everything they require here."""
    found: dict[str, tuple[str, str]] = {}
    extras_seen: dict[str, set[str]] = {}
    todo: list[tuple[str, tuple[str, ...]]] = list(ROOTS)
    while todo:
        name, extras = todo.pop()
        key = canonical(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not for this platform, or PyInstaller not installed yet
        known = extras_seen.setdefault(key, set())
        if key in found and set(extras) <= known:
            continue
        found[key] = (dist.metadata["Name"], dist.version)
        known.update(extras)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or any(
                    req.marker.evaluate({**default_environment(), "extra": extra})
                    for extra in ("", *known)):
                todo.append((req.name, tuple(req.extras)))
    return {name: version for key, (name, version) in found.items() if key not in SKIP}


def read_lock(path: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = version
    return pins


def mismatches(path: Path = LOCK) -> list[str]:
    """Installed packages whose version is not the locked one."""
    out = []
    for key, version in sorted(read_lock(path).items()):
        try:
            installed = metadata.version(key)
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            out.append(f"{key} {installed} (locked: {version})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the installed packages with constraints.txt")
    args = parser.parse_args(argv)
    if args.check:
        wrong = mismatches()
        if wrong:
            print(f"lock: installed packages differ from constraints.txt: {', '.join(wrong)}; "
                  f"run `bash scripts/install.sh`", file=sys.stderr)
            return 1
        return 0
    pins = closure()
    body = "".join(f"{name}=={version}\n" for name, version in
                   sorted(pins.items(), key=lambda item: canonical(item[0])))
    LOCK.write_text(HEADER + body, encoding="utf-8")
    print(f"lock: {len(pins)} packages written to {LOCK.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
