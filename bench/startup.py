"""Start-up time of the standalone bundle: to ``--version`` and to the first window.

    python bench/startup.py [--runs 5] [--json] [--dist dist]

Each run is a new process (nothing of Bullpen in memory); the first run after a build reads
the bundle from disk, the later ones from the OS file cache, so both the first run and the
median are printed. The page cache is not dropped (it is machine-wide; other work would
slow down), so "first" is as cold as a shared machine allows. The window is timed from
spawning the process until an X11 top-level window titled "... Bullpen" is mapped on a
private Xvfb (packaging/xwin.py polls every 5 ms), on an empty profile (``init`` only). Until
the desktop app (bullpen.ui.app) is in the bundle, only ``--version`` and the Qt self-test
window are measured, and the output says so. The same figures from the source checkout
(``python -m bullpen.cli``) are printed for comparison.

Target: first window in under 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging"))

from xwin import Display, Xvfb  # noqa: E402

from bullpen.app.demo.processes import stop  # noqa: E402

TARGET_WINDOW_S = 1.5
PASSPHRASE = "bench passphrase"


def timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_version(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run([*cmd, "--version"], check=True, capture_output=True, env=env, timeout=60)


def window_time(cmd: list[str], env: dict[str, str], display: Display, title: str) -> float:
    """Seconds from spawn until a visible window whose title contains ``title``."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            if any(title in w.name for w in display.visible_windows()):
                return time.perf_counter() - started
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-500:]}")
            time.sleep(0.005)
        raise RuntimeError(f"no window titled *{title}* within 60 s")
    finally:
        stop(proc)
        # the next run must not see this window
        while any(title in w.name for w in display.visible_windows()):
            time.sleep(0.01)


def summary(samples: list[float]) -> dict[str, float]:
    return {"first_s": round(samples[0], 3), "median_s": round(statistics.median(samples), 3),
            "min_s": round(min(samples), 3), "runs": len(samples)}


def has_ui(cmd: list[str], env: dict[str, str]) -> bool:
    probe = subprocess.run([*cmd, "--help"], capture_output=True, text=True, env=env)
    staged = ROOT / "packaging" / "build" / "src" / "bullpen" / "ui" / "app.py"
    return probe.returncode == 0 and (staged.exists() if "dist" in cmd[0] else
                                      (ROOT / "ui" / "app.py").exists())


def measure(label: str, cmd: list[str], runs: int, work: Path) -> dict[str, object]:
    env = {**os.environ, "BULLPEN_PASSPHRASE": PASSPHRASE, "QT_QPA_PLATFORM": "xcb"}
    env.pop("PYTHONPATH", None)
    out: dict[str, object] = {"what": label}
    out["version"] = summary([timed(lambda: run_version(cmd, env)) for _ in range(runs)])
    home = work / label.replace(" ", "-")
    subprocess.run([*cmd, "--home", str(home), "init", "--name", "Dana", "--workspace", "Bench"],
                   check=True, capture_output=True, env=env, timeout=120)
    with Xvfb() as xvfb:
        display = Display(xvfb.display)
        try:
            xenv = {**env, "DISPLAY": xvfb.display}
            if has_ui(cmd, env):
                out["first_window"] = summary(
                    [window_time([*cmd, "--home", str(home)], xenv, display, "Bullpen")
                     for _ in range(runs)])
            else:
                out["first_window"] = "not measured: bullpen.ui.app is not there yet"
            if "dist" in cmd[0]:
                selftest = {**xenv, "BULLPEN_BUNDLE_SELFTEST": "qt-hold"}
                out["qt_selftest_window"] = summary(
                    [window_time(cmd, selftest, display, "self-test") for _ in range(runs)])
        finally:
            display.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-source", action="store_true", help="skip the source comparison")
    args = parser.parse_args(argv)

    exe = args.dist / "bullpen" / ("bullpen.exe" if sys.platform == "win32" else "bullpen")
    if not exe.exists():
        print(f"no bundle at {exe}: run python packaging/build.py first", file=sys.stderr)
        return 1
    results = []
    with tempfile.TemporaryDirectory(prefix="bullpen-startup-") as tmp:
        results.append(measure("bundle", [str(exe)], args.runs, Path(tmp)))
        if not args.no_source:
            results.append(measure("source", [sys.executable, "-m", "bullpen.cli"],
                                   args.runs, Path(tmp)))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"start-up, {args.runs} runs each, new process per run (first = coldest, then "
          f"median); {os.cpu_count()} CPUs, load average {load}")
    for r in results:
        for key in ("version", "first_window", "qt_selftest_window"):
            value = r.get(key)
            if value is None:
                continue
            name = f"{r['what']} {key.replace('_', ' ')}"
            if isinstance(value, dict):
                mark = ""
                if key == "first_window":
                    ok = value["median_s"] < TARGET_WINDOW_S
                    mark = f"  (target < {TARGET_WINDOW_S} s: {'met' if ok else 'MISSED'})"
                print(f"  {name:32s} first {value['first_s']:.2f} s  "
                      f"median {value['median_s']:.2f} s{mark}")
            else:
                print(f"  {name:32s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
