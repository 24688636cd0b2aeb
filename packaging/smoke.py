"""Smoke test of the standalone bundle: build it (unless told not to), then use it the way a
sales rep's machine would, with every Python on this machine hidden.

    python packaging/smoke.py [--no-build] [--bundle DIST_DIR] [--json]

Checks, in order: ``--version``; ``init``, ``opp add``, ``opp list --json``, ``status --json``;
the bundled Qt (platform plugins offscreen and xcb under a private Xvfb, image formats,
QtCharts) through the bundle's self-test window; the real desktop window when
``bullpen.ui.app`` is in the bundle; two bundled nodes syncing on loopback (``serve``,
``invite``/``join`` when those commands exist, ``sync --peer ADDR --once`` both ways); the
profile surviving an in-place upgrade, and the committed version-1 profile opening. Parts
whose feature is not in the bundle yet are skipped with a message saying so; anything else
that goes wrong fails the run (exit 1).

"No Python on the machine" is simulated with a private mount namespace (``unshare``, root
only) in which pyenv, /usr/lib/python3*, /usr/local/lib/python3* and the system libpython are
replaced by empty mounts; where that is not possible the run says so and goes on unhidden.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from xwin import Display, Xvfb  # noqa: E402

from bullpen.app.demo.processes import read_listen_address, stop  # noqa: E402

PASSPHRASE = "smoke passphrase"
LOOPBACK = "/ip4/127.0.0.1/tcp/0"


class Skip(Exception):
    """A part whose feature is not in the bundle yet."""


def expected_version() -> str:
    text = (ROOT / "bullpen" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r"__version__\s*=\s*[\"']([^\"']+)", text)
    return match.group(1) if match else "?"


def python_dirs() -> list[str]:
    """Folders and files that make up a Python installation on this machine."""
    found: set[str] = set()
    real = Path(sys.base_prefix).resolve()
    if real != Path("/usr"):
        found.add(str(real))
    for base in ("/usr/lib", "/usr/local/lib", "/usr/lib64"):
        for p in Path(base).glob("python3*"):
            found.add(str(p))
    for root in (Path.home() / ".pyenv", Path("/opt/python"), Path("/usr/local/python")):
        if root.exists():
            found.add(str(root))
    return sorted(found)


def python_files() -> list[str]:
    found = []
    for pattern in ("/usr/lib/*/libpython3*.so*", "/usr/lib/libpython3*.so*",
                    "/usr/local/lib/libpython3*.so*", "/usr/bin/python3*",
                    "/usr/local/bin/python3*"):
        # symlinks point at one of the files (a mount on a symlink is refused)
        found += [str(p) for p in Path("/").glob(pattern.lstrip("/"))
                  if p.is_file() and not p.is_symlink()]
    return sorted(found)


def outermost(paths: list[str]) -> list[str]:
    """Drop paths inside another listed path (hiding the outer one hides them)."""
    out: list[str] = []
    for p in sorted(set(paths)):
        if not any(p == o or p.startswith(o.rstrip("/") + "/") for o in out):
            out.append(p)
    return out


def isolation_prefix() -> tuple[list[str], str]:
    """A command prefix that runs its command with Python hidden, and a note on how."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return [], "Python not hidden (needs Linux unshare)"
    dirs = outermost(python_dirs())
    mounts = [f"mount -t tmpfs none {d}" for d in dirs]
    mounts += [f"mount --bind /dev/null {f}" for f in python_files()
               if not any(f.startswith(d + "/") for d in dirs)]
    script = " && ".join(mounts + ['exec "$@"'])
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    probe = subprocess.run([*prefix, "sh", "-c", "command -v python3 || echo none"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return [], f"Python not hidden (unshare refused: {probe.stderr.strip()[:80]})"
    hidden = probe.stdout.strip() == "none" or not Path(probe.stdout.strip()).exists()
    note = f"ran with {len(mounts)} Python locations hidden"
    return prefix, note if hidden else note + " (a python3 is still on PATH)"


class Runner:
    """Runs bundled commands in a sandbox folder, each with its own --home."""

    def __init__(self, exe: Path, work: Path, prefix: list[str]) -> None:
        self.exe, self.work, self.prefix = exe, work, prefix
        self.env = {
            "PATH": "/usr/bin:/bin", "HOME": str(work / "user"), "LANG": "C.UTF-8",
            "BULLPEN_PASSPHRASE": PASSPHRASE, "XDG_RUNTIME_DIR": str(work / "run"),
            "QT_QPA_PLATFORM": "offscreen",
        }
        (work / "user").mkdir(parents=True, exist_ok=True)
        (work / "run").mkdir(mode=0o700, exist_ok=True)

    def command(self, home: Path | None, *args: str) -> list[str]:
        return [*self.prefix, str(self.exe), *(["--home", str(home)] if home else []), *args]

    def run(self, home: Path | None, *args: str, check: bool = True, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.command(home, *args), capture_output=True, text=True,
                              timeout=timeout, env={**self.env, **(env or {})})
        if check and proc.returncode != 0:
            raise AssertionError(f"bullpen {' '.join(args)} exited {proc.returncode}: "
                                 f"{(proc.stderr or proc.stdout).strip()[-800:]}")
        return proc

    def json(self, home: Path | None, *args: str) -> Any:
        return json.loads(self.run(home, *args, "--json").stdout)

    def has_command(self, name: str) -> bool:
        usage = self.run(None, "--help").stdout
        return re.search(rf"\b{name}\b", usage.split("positional arguments")[-1]) is not None


# ----- the checks ---------------------------------------------------------------------------


def check_version(r: Runner) -> str:
    out = r.run(None, "--version").stdout.strip()
    assert out == f"bullpen {expected_version()}", out
    # the command line the app uses to start its own helper processes (the demo's teammates)
    helper = r.run(None, "-m", "bullpen.cli", "--version").stdout.strip()
    assert helper == out, helper
    return out


def check_cli(r: Runner) -> str:
    home = r.work / "dana"
    created = r.json(home, "init", "--name", "Dana", "--workspace", "Smoke Sales")
    opp = r.run(home, "opp", "add", "--account", "Initech", "--title", "Renewal",
                "--amount", "50000", "--stage", "proposal", "--close", "2026-12-15")
    opp_id = opp.stdout.strip().split()[-1]
    rows = r.json(home, "opp", "list")
    assert [row["id"] for row in rows] == [opp_id], rows
    status = r.json(home, "status")
    assert status["workspace_id"] == created["workspace_id"], status
    found = r.json(home, "search", "initech")
    assert any(hit["id"] == opp_id for hit in found), found
    return f"workspace {created['workspace_id'][:8]}, opportunity {opp_id}"


def link_or_copy(src: str, dest: str) -> None:
    """Hard links make the 200 MB "install" instant; a copy where they cannot be made."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def check_upgrade(r: Runner) -> str:
    """Data lives outside the app folder (platformdirs), so replacing the folder with a new
    version keeps the profile; and a profile written by store version 1 (the committed test
    fixture) opens in this bundle."""
    app_dir = r.work / "Applications" / "bullpen"

    def install() -> Runner:
        if app_dir.exists():
            shutil.rmtree(app_dir)
        shutil.copytree(r.exe.parent, app_dir, symlinks=True, copy_function=link_or_copy)
        return Runner(app_dir / r.exe.name, r.work, r.prefix)

    old = install()
    made = old.json(None, "init", "--name", "Pat", "--workspace", "Default Home")
    profile = Path(made["home"])
    assert profile.is_relative_to(r.work / "user"), profile  # ~/.local/share/Bullpen here
    new = install()  # "upgrade": the folder replaced by a fresh copy
    assert new.json(None, "status")["workspace_id"] == made["workspace_id"]

    fixture = ROOT / "tests" / "fixtures" / "profile_v1"
    expected = json.loads((fixture / "expected.json").read_text(encoding="utf-8"))
    home = r.work / "profile_v1"
    shutil.copytree(fixture / "home", home)
    env = {"BULLPEN_PASSPHRASE": expected["passphrase"]}
    rows = json.loads(r.run(home, "opp", "list", "--json", env=env).stdout)
    assert sorted(o["id"] for o in rows) == sorted(o["id"] for o in expected["opportunities"])
    return f"profile kept across an app-folder replace ({profile.relative_to(r.work)}); " \
           f"v1 fixture opens with {len(rows)} opportunities"


def founder_home(r: Runner) -> Path:
    """The profile check_cli makes (made here when a check runs alone, as in the tests)."""
    home = r.work / "dana"
    if not (home / "store.db").exists():
        check_cli(r)
    return home


def check_interop(r: Runner) -> str:
    """XLSX/CSV (openpyxl), vCard (vobject), iCalendar with a time zone (icalendar, zoneinfo):
    modules PyInstaller only finds if their imports are followed, and data (tzdata)."""
    home = founder_home(r)
    r.run(home, "contact", "add", "--name", "Ann Lee", "--company", "Initech",
          "--emails", "ann@initech.example")
    r.run(home, "event", "add", "--title", "Initech QBR", "--start", "2026-12-01T10:00",
          "--end", "2026-12-01T11:00", "--timezone", "Europe/Berlin")
    out = r.work / "exports"
    out.mkdir(exist_ok=True)
    files = {"opportunities": out / "pipeline.xlsx", "contacts": out / "team.vcf",
             "calendar": out / "team.ics"}
    for what, path in files.items():
        r.run(home, "export", what, "-o", str(path))
    r.run(home, "export", "opportunities", "-o", str(out / "pipeline.csv"))
    other = r.work / "importer"
    r.run(other, "init", "--name", "Ivy", "--workspace", "Imports")
    for what, path in files.items():
        r.run(other, "import", what, str(path))
    counts = {kind: len(r.json(other, kind, "list")) for kind in ("opp", "contact", "event")}
    assert counts == {"opp": 1, "contact": 1, "event": 1}, counts
    event = r.json(other, "event", "list")[0]
    assert event["timezone"] == "Europe/Berlin", event  # the zone survived the round trip
    assert event["start"] == "2026-12-01T10:00:00+01:00", event
    return "xlsx, csv, vcf, ics exported and imported into a new profile"


def check_qt_offscreen(r: Runner) -> str:
    proc = r.run(None, env={"BULLPEN_BUNDLE_SELFTEST": "qt"})
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["platform"] == "offscreen", report
    for fmt in ("png", "svg", "jpeg", "ico"):
        assert fmt in report["imageformats"], report["imageformats"]
    return f"offscreen window with a QtCharts chart; image formats {len(report['imageformats'])}"


def with_xvfb(fn: Callable[[Runner, Xvfb, Display], str]) -> Callable[[Runner], str]:
    def run(r: Runner) -> str:
        try:
            xvfb = Xvfb()
        except (OSError, FileNotFoundError) as exc:
            raise Skip(str(exc)) from None
        try:
            display = Display(xvfb.display)
            try:
                return fn(r, xvfb, display)
            finally:
                display.close()
        finally:
            xvfb.stop()

    return run


def _window_of(r: Runner, xvfb: Xvfb, display: Display, args: Sequence[str],
               env: dict[str, str], timeout: float = 30) -> tuple[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(r.command(*args), env={**r.env, **env, "DISPLAY": xvfb.display,
                                                     "QT_QPA_PLATFORM": "xcb"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window = display.wait_for_window(timeout, lambda: proc.poll() is None)
        elapsed = time.perf_counter() - started
        if window is None:
            out, err = proc.communicate(timeout=5) if proc.poll() is not None else ("", "")
            raise AssertionError(f"no window within {timeout:g} s: {(err or out).strip()[-800:]}")
        return window.name, elapsed
    finally:
        stop(proc)


@with_xvfb
def check_qt_xcb(r: Runner, xvfb: Xvfb, display: Display) -> str:
    """The self-test window through the xcb platform plugin; it reports its own expose."""
    proc = r.run(None, env={"BULLPEN_BUNDLE_SELFTEST": "qt", "QT_QPA_PLATFORM": "xcb",
                            "DISPLAY": xvfb.display})
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["platform"] == "xcb", report
    return f"xcb window exposed after {report['first_window_s']:.2f} s on Xvfb {xvfb.display}"


def bundle_has_ui(bundle: Path) -> bool:
    """Whether the bundle holds the desktop app: PyInstaller keeps pure modules in the
    executable's archive, so ask the staged sources the build used."""
    return (HERE / "build" / "src" / "bullpen" / "ui" / "app.py").exists()


@with_xvfb
def check_gui(r: Runner, xvfb: Xvfb, display: Display) -> str:
    if not bundle_has_ui(r.exe.parent):
        raise Skip("bullpen.ui.app is not in the bundle yet (the desktop app has not landed)")
    home = founder_home(r)
    name, elapsed = _window_of(r, xvfb, display, [home], {})
    assert "Bullpen" in name, f"the first window is {name!r}, not the app's main window"
    return f"desktop window {name!r} after {elapsed:.2f} s"


class Serve:
    """A bundled ``bullpen serve`` on loopback; ``addr`` is the printed full multiaddr."""

    def __init__(self, r: Runner, home: Path) -> None:
        self.log = (r.work / f"{home.name}-serve.log").open("w")
        self.proc = subprocess.Popen(
            r.command(home, "serve", "--listen", LOOPBACK, "--no-mdns"), env=r.env,
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.addr = self._read_addr(60)

    def _read_addr(self, timeout: float) -> str:
        addr = read_listen_address(self.proc, timeout)
        if addr is not None:
            return addr
        self.stop()
        raise AssertionError(f"serve printed no 'listening on' line: "
                             f"{Path(self.log.name).read_text()[-800:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def check_sync(r: Runner) -> str:
    for name in ("serve", "sync"):
        if not r.has_command(name):
            raise Skip(f"the bundle has no `{name}` command yet (the sync node has not landed)")
    if not r.has_command("join"):
        raise Skip("the bundle has no `join` command yet, so a second member cannot be made")
    founder, rep = founder_home(r), r.work / "sam"
    serve = Serve(r, founder)
    try:
        code = r.json(founder, "invite", "--role", "rep", "--addr", serve.addr)["code"]
        started = time.perf_counter()
        r.run(rep, "join", code, "--name", "Sam", "--timeout", "90", timeout=120)
        r.run(rep, "sync", "--peer", serve.addr, "--once", "--timeout", "90", timeout=120)
        first = time.perf_counter() - started
        titles = {o["title"] for o in r.json(rep, "opp", "list")}
        assert "Renewal" in titles, titles
        new = r.run(rep, "opp", "add", "--account", "Globex", "--title", "From Sam",
                    "--amount", "1000", "--stage", "proposal", "--close", "2026-12-20")
        new_id = new.stdout.strip().split()[-1]
        r.run(rep, "sync", "--peer", serve.addr, "--once", "--timeout", "90", timeout=120)
        ids = {o["id"] for o in r.json(founder, "opp", "list")}
        assert new_id in ids, ids
        addr = serve.addr
    finally:
        code_rc = serve.stop()
    assert code_rc == 0, f"serve exited {code_rc} on SIGINT"
    return f"join + first sync {first:.1f} s via {addr.split('/p2p/')[0]}; edits both ways"


CHECKS: list[tuple[str, Callable[[Runner], str]]] = [
    ("version", check_version),
    ("cli", check_cli),
    ("import/export", check_interop),
    ("qt offscreen", check_qt_offscreen),
    ("qt xcb (Xvfb)", check_qt_xcb),
    ("desktop window", check_gui),
    ("sync on loopback", check_sync),
    ("upgrade in place", check_upgrade),
]


def bundle_exe(dist: Path) -> Path:
    return dist / "bullpen" / ("bullpen.exe" if sys.platform == "win32" else "bullpen")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the existing bundle")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle is")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    exe = bundle_exe(args.dist)
    if not args.no_build:
        subprocess.run([sys.executable, str(HERE / "build.py"), "--no-archive"], check=True)
    if not exe.exists():
        print(f"smoke: no bundle at {exe}; run python packaging/build.py", file=sys.stderr)
        return 1
    prefix, note = isolation_prefix()
    print(f"smoke: {exe} ({note})", flush=True)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bullpen-smoke-") as tmp:
        runner = Runner(exe, Path(tmp), prefix)
        for name, check in CHECKS:
            started = time.perf_counter()
            try:
                detail, outcome = check(runner), "ok"
            except Skip as exc:
                detail, outcome = str(exc), "skipped"
            except Exception as exc:  # report every part, then fail
                detail, outcome = f"{type(exc).__name__}: {exc}", "FAILED"
            seconds = time.perf_counter() - started
            results.append({"check": name, "outcome": outcome, "seconds": round(seconds, 2),
                            "detail": detail})
            print(f"smoke: {outcome:7s} {name:17s} {seconds:5.1f} s  {detail}", flush=True)
    if args.json:
        print(json.dumps({"isolation": note, "results": results}, indent=2))
    failed = [r for r in results if r["outcome"] == "FAILED"]
    print(f"smoke: {'FAILED' if failed else 'passed'} "
          f"({sum(r['outcome'] == 'ok' for r in results)} ok, "
          f"{sum(r['outcome'] == 'skipped' for r in results)} skipped, {len(failed)} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    sys.exit(main())
