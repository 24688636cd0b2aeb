#!/usr/bin/env bash
# Install Bullpen and what it needs on a fresh Debian/Ubuntu machine (or any machine that
# already has Qt's system libraries). Usage: bash scripts/install.sh [--test]
#   --test  also install the test tools (pytest, pytest-qt, hypothesis, ruff ...)
# Bullpen goes into an environment of its own, .venv/ in this folder, made with ${PYTHON:-python3}:
# Debian 12 and Ubuntu 24.04 refuse `pip install` into the system Python (PEP 668,
# externally-managed-environment). `bullpen` is then linked into /usr/local/bin (root) or
# ~/.local/bin, so `bash scripts/install.sh && bullpen demo` works in the same shell; set
# BULLPEN_BIN_DIR to link it elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v "$PY" >/dev/null 2>&1; then
    if [ -z "${PYTHON:-}" ] && command -v apt-get >/dev/null 2>&1; then
        apt_install python3
    else
        echo "install.sh: no Python at '$PY' (set PYTHON to a Python 3.11+ program)" >&2
        exit 1
    fi
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "install.sh: Bullpen needs Python 3.11+, $PY is $("$PY" -V 2>&1)" >&2
    exit 1
fi
PY_VER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Qt (PySide6) needs a few system libraries that minimal images lack; Xvfb gives tests and
# screenshots a real X display; iproute2 provides `ip netns` for the partition test.
# Debian's Python keeps `venv`'s pip bootstrap (python3.X-venv) and the shared libpython that
# PyInstaller bundles (packaging/build.py) in packages of their own.
NEEDED="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
libxcb-randr0 libxcb-render-util0 libxcb-image0 xvfb iproute2 fonts-dejavu-core"
# The tests' NAT lab (iptables MASQUERADE in namespaces, tests/test_relay_nat.py) and the
# meetings' spoken sentence (espeak-ng, tests/test_meeting_procs.py).
[ "${1:-}" != "--test" ] || NEEDED="$NEEDED iptables espeak-ng"
if command -v apt-get >/dev/null 2>&1; then
    "$PY" -c 'import ensurepip, venv' 2>/dev/null || NEEDED="$NEEDED python$PY_VER-venv"
    if "$PY" -c 'import sys; sys.exit(sys.base_prefix != "/usr")'; then
        NEEDED="$NEEDED libpython$PY_VER"
    fi
    missing=""
    for pkg in $NEEDED; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    # shellcheck disable=SC2086  # one word per package
    [ -z "$missing" ] || apt_install $missing
fi

# The environment: made again when missing, broken, or of another Python version than $PY.
if ! [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
        = "$PY_VER" ]; then
    "$PY" -m venv --clear "$VENV"
fi

# constraints.txt locks every dependency to the versions the tests and the soak test passed with
# (README, "Dependency lock"); pip replaces an installed package that differs from it.
if [ "${1:-}" = "--test" ]; then
    "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[test]"
else
    "$VENV/bin/python" -m pip install -q -c constraints.txt -e .
fi

# A script cannot change its caller's PATH, so `bullpen` goes into a folder already on it.
if [ -n "${BULLPEN_BIN_DIR:-}" ]; then
    BIN_DIR="$BULLPEN_BIN_DIR"
elif [ "$(id -u)" -eq 0 ]; then
    BIN_DIR=/usr/local/bin
else
    BIN_DIR="$HOME/.local/bin"
fi
mkdir -p "$BIN_DIR"
if [ -e "$BIN_DIR/bullpen" ] && ! [ -L "$BIN_DIR/bullpen" ]; then
    echo "install.sh: $BIN_DIR/bullpen exists and is not a link made by this script;" \
         "remove it, or set BULLPEN_BIN_DIR, and run again" >&2
    exit 1
fi
ln -sfn "$VENV/bin/bullpen" "$BIN_DIR/bullpen"
found=$(command -v bullpen || true)
if [ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f "$VENV/bin/bullpen")" ]; then
    echo "install.sh: bullpen installed ($BIN_DIR/bullpen -> $VENV/bin/bullpen)"
elif [ -z "$found" ]; then
    echo "install.sh: bullpen is linked in $BIN_DIR, which is not on PATH; add it" \
         "(export PATH=\"$BIN_DIR:\$PATH\") or run $VENV/bin/bullpen" >&2
else
    echo "install.sh: bullpen is linked in $BIN_DIR, but $found comes first on PATH;" \
         "run $VENV/bin/bullpen or put $BIN_DIR first" >&2
fi
