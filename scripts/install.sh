#!/usr/bin/env bash
# Install Bullpen and what it needs on a fresh Debian/Ubuntu machine (or any machine that
# already has Qt's system libraries). Usage: bash scripts/install.sh [--test]
#   --test  also install the test tools (pytest, pytest-qt, hypothesis, ruff ...)
set -euo pipefail
cd "$(dirname "$0")/.."

# Qt (PySide6) needs a few system libraries that minimal images lack; Xvfb gives tests and
# screenshots a real X display; iproute2 provides `ip netns` for the partition test.
QT_LIBS="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
libxcb-randr0 libxcb-render-util0 libxcb-image0 xvfb iproute2 fonts-dejavu-core"
if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for pkg in $QT_LIBS; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
    fi
fi

# constraints.txt locks every dependency to the versions the tests and the soak test passed with
# (README, "Dependency lock"); pip replaces an installed package that differs from it.
PY="${PYTHON:-python3}"
if [ "${1:-}" = "--test" ]; then
    "$PY" -m pip install -q -c constraints.txt -e ".[test]"
else
    "$PY" -m pip install -q -c constraints.txt -e .
fi
