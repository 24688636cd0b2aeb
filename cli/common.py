"""What every command shares: the parser, output (``--json`` or a table), opening the profile.

Every command that prints data has ``--json``; every failure is one line on stderr naming the
problem and a non-zero exit (``main.run``). The use cases are imported inside the functions
that need them, so building the parser imports none of them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from bullpen.app.fields import ValidationError

from .terminal import escape_json

if TYPE_CHECKING:
    from bullpen.app.workspace import Workspace

EXIT_USAGE = 2
EXIT_SOFTWARE = 70  # sysexits' EX_SOFTWARE: a fault of Bullpen's, not of the input
DEBUG_ENV = "BULLPEN_DEBUG"


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (its default prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def default_home() -> Path:
    env = os.environ.get("BULLPEN_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Bullpen", appauthor=False))


def emit(args: argparse.Namespace, data: Any, human: Callable[[Any], str] | str) -> None:
    if getattr(args, "json", False):
        print(escape_json(json.dumps(data, indent=2, ensure_ascii=False, default=str)))
    else:
        text = human if isinstance(human, str) else human(data)
        if text:
            print(text)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return " ".join(str(value).split())


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A plain aligned text table (header, rows); long cells are cut to keep lines short."""
    cells = [[h for _, h in columns]]
    for row in rows:
        line = []
        for key, _ in columns:
            text = cell(row.get(key))
            line.append(text if len(text) <= 40 else text[:39] + "…")
        cells.append(line)
    if len(cells) == 1:
        return "(none)"
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def ask_passphrase(home: str) -> str | None:
    """Ask on the terminal when there is one (scripts and CI use BULLPEN_PASSPHRASE)."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return getpass.getpass(f"Passphrase for {home}: ") or None


def ask_new_passphrase(home: str) -> str | None:
    first = ask_passphrase(home)
    if first is not None and getpass_confirm(first) is False:
        raise ValidationError("the two passphrases differ")
    return first


def getpass_confirm(first: str) -> bool:
    import getpass

    return getpass.getpass("Repeat the passphrase: ") == first


def open_ws(args: argparse.Namespace) -> Workspace:
    from bullpen.app.workspace import Workspace

    return Workspace.open(args.home, ask=ask_passphrase)


def of_kind(ws: Workspace, record_id: str, kind: str) -> str:
    """The full id of ``record_id`` when it is a ``kind`` record: ``bullpen contact delete``
    given a deal's id must not delete the deal."""
    record = ws.get(record_id)
    if record["kind"] != kind:
        raise ValidationError(f"{record_id} is not a record of kind {kind} "
                              f"(it is: {record['kind']})")
    return record["id"]


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file's content, or a one-line error naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read ({exc})") from None


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def fields_from(args: argparse.Namespace, flags: list[tuple[str, str, str]]) -> dict[str, Any]:
    out = {}
    for flag, name, _ in flags:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            out[name] = value
    return out


def add_flags(p: argparse.ArgumentParser, flags: list[tuple[str, str, str]]) -> None:
    for flag, _, help_text in flags:
        p.add_argument(flag, help=help_text)


def listening_addrs(ws: Workspace) -> list[str]:
    """Addresses of the node running on this profile (serve or the app), if any."""
    try:
        from bullpen.app.network.peer_book import node_info
    except ImportError:
        return []
    return list((node_info(ws) or {}).get("listen", []))


def kept_addrs(ws: Workspace) -> list[str]:
    """Where this profile's node will listen when it next runs (the port it keeps), as
    addresses others can dial; empty before its first run."""
    from bullpen.app.network.peer_book import kept_addrs as kept

    return kept(ws)
