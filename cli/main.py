"""``bullpen``: the parser, the desktop-app commands, and one-line errors for every command.

The parser is built from each command module's ``register``; their use cases are imported
when a command runs. A failure is classified without importing anything
(:mod:`bullpen.app.errors`), so a failing command returns as fast as it started.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bullpen import __version__
from bullpen.app.errors import first_of, user_error
from bullpen.app.fields import ValidationError

from . import agenda, features, meet, members, network, office, records, rooms
from .common import DEBUG_ENV, EXIT_SOFTWARE, EXIT_USAGE, Parser, default_home
from .terminal import safe_terminal


def cmd_gui(args: argparse.Namespace) -> int:
    if (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM")):
        # Qt would abort with a core dump; say what to do instead.
        print("bullpen: no display for the desktop app here; use the commands (bullpen --help) "
              "or run it in a desktop session (or under xvfb-run)", file=sys.stderr)
        return 1
    try:
        from bullpen.ui.app import run
    except ImportError as exc:
        print(f"bullpen: the desktop app is not available ({exc})", file=sys.stderr)
        return 1
    code = run(args.home, demo=getattr(args, "demo", False))
    # Everything is closed and durable by now. PySide6 can crash while the interpreter tears
    # down Qt objects at exit (seen as an abort in garbage collection), which would turn a
    # clean quit into a crash report: leave without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_demo(args: argparse.Namespace) -> int:
    args.demo = True
    return cmd_gui(args)


def cmd_demo_peer(args: argparse.Namespace) -> int:
    from bullpen.app.demo.runner import run_demo_peer
    from bullpen.app.logs import configure_logging

    configure_logging()
    return run_demo_peer(args.home, args.interval)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bullpen", description="Bullpen: a peer-to-peer, offline-first virtual sales office."
    )
    parser.add_argument("--version", action="version", version=f"bullpen {__version__}")
    parser.add_argument("--home", type=Path, default=None,
                        help="profile folder (default: $BULLPEN_HOME or the platform data dir)")
    sub = parser.add_subparsers(dest="command")
    records.register(sub)

    p = sub.add_parser("gui", help="open the desktop app (the default)")
    p.set_defaults(func=cmd_gui)
    p = sub.add_parser("demo", help="open the desktop app on a live demo workspace")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("demo-peer", help="(internal) a simulated teammate for `bullpen demo`")
    p.add_argument("--interval", type=float, default=4.0, help="seconds between changes")
    p.set_defaults(func=cmd_demo_peer)

    for module in (network, features, members, meet, rooms, office, agenda):
        module.register(sub)
    return parser


def fail(message: object) -> None:
    """One line on stderr, whatever the message holds."""
    print("bullpen: " + " ".join(str(message).split()), file=sys.stderr)


def run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; every failure becomes one line on stderr and a non-zero exit.

    Errors of the input or the data's state (:func:`bullpen.app.errors.user_error`) say what
    to do. Anything else is a fault of Bullpen's: still one line (naming the error, and
    BULLPEN_DEBUG=1 for the traceback), since a traceback tells a user nothing and may print
    record data."""
    try:
        code = func(args)
        sys.stdout.flush()  # a reader gone away shows here, not in the exit's flush
        return code
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        if first_of(exc, (BrokenPipeError,)) is not None:
            return reader_gone()
        found = user_error(exc)
        if found is not None:
            fail(found)
            return EXIT_USAGE if isinstance(found, ValidationError) else 1
        if first_of(exc, (KeyboardInterrupt,)) is not None:
            return 130
        if os.environ.get(DEBUG_ENV):
            raise
        while isinstance(exc, BaseExceptionGroup):  # name the error, not trio's wrapper
            exc = exc.exceptions[0]
        fail(f"unexpected error ({type(exc).__name__}: {exc}); run again with {DEBUG_ENV}=1 "
             f"for details, and please report it")
        return EXIT_SOFTWARE


def reader_gone() -> int:
    """stdout's reader went away (``bullpen history ID --json | head``): stop quietly, as a
    command ended by SIGPIPE does, not with an error; later writes and the exit's flush go to
    /dev/null."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + 13  # the shell's status for SIGPIPE


# Arguments naming files may hold any bytes the file system allows; every other argument
# becomes record text, an id or a setting, which must be valid Unicode.
PATH_ARGS = frozenset({"home", "file", "output", "audio_in", "record"})


def check_text_args(args: argparse.Namespace) -> None:
    """Refuse undecodable bytes (lone surrogates in Python's argv) in any non-path argument,
    before they reach SQLite or automerge, which cannot store them."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if name not in PATH_ARGS and isinstance(item, str) and not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValidationError(f"{name.replace('_', '-')}: not valid text "
                                          f"(undecodable bytes)") from None


def main(argv: Sequence[str] | None = None) -> int:
    with safe_terminal():
        parser = build_parser()
        args = parser.parse_args(argv)
        args.home = (args.home or default_home()).expanduser().resolve()

        def command(args: argparse.Namespace) -> int:
            check_text_args(args)
            return (getattr(args, "func", None) or cmd_gui)(args)

        return run(command, args)


def entry() -> int:
    """The ``bullpen`` command and ``python -m bullpen.cli``: :func:`main` in a process of its
    own. numpy is an optional import of sqlite-utils and openpyxl that Bullpen never uses (the
    bundle leaves it out); marking it absent saves a fifth of a second on every command that
    opens a profile, a third of a failing command's time. Here only, not in :func:`main`,
    which tests call inside processes that may want numpy."""
    sys.modules.setdefault("numpy", None)  # type: ignore[assignment]
    return main()
