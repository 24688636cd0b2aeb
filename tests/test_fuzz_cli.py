"""Fuzzing the command line's argument values (hypothesis, a fixed budget so CI stays fast).

Whatever the values, a command exits 0, or fails with exactly one line on stderr that is not
the last-resort "unexpected error" line (an error nobody anticipated), and a failed command
writes nothing: the store holds the same change rows as before.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bullpen.app.storage.keys import subkey, unlock
from bullpen.app.storage.store import Store
from bullpen.app.workspace import Workspace
from bullpen.cli import main as cli

# Values people and attackers type: numbers at the edges of floats, dates that are not,
# zones that do not exist, terminal escapes, formulas, undecodable bytes (argv in Python holds
# them as lone surrogates) and anything at all.
EDGES = ["", " ", "0", "-1", "1e308", "1e400", "-1e400", "inf", "nan", "9" * 40, "1e15",
         "2026-02-30", "2026-12-15", "2026-12-01T10:00", "0000-01-01", "9999-12-31T23:59",
         "Mars/Olympus", "Europe/Paris", "../../etc/passwd", "usd", "€€€", "proposal",
         "closed won", "=HYPERLINK(\"x\")", "ctl\x1b[31mred", "\u202eevil", "\udcff\udcfe x",
         "a,b,,c", "/ip4/1.2.3.4/tcp/4001", "garbage", "100000000000000000000d", "24h",
         "2026-Q4", "2026-W53", "2026-13"]  # fmt: skip
SPECIAL = st.sampled_from(["\udcff", "\udc80", "\x1b", "\x9b", "\u202e", "\n", "\t", "'", '"',
                           "%", "\\", ",", ":", "|", "=", "-"])
ANY_TEXT = st.text(st.characters(blacklist_categories=(), blacklist_characters="\x00") | SPECIAL,
                   max_size=40)
VALUE = st.sampled_from(EDGES) | ANY_TEXT

OPP = {"--account": "Acme", "--title": "Renewal", "--amount": "500", "--stage": "proposal",
       "--close": "2026-12-15"}
EVENT = {"--title": "QBR", "--start": "2026-12-01T10:00", "--end": "2026-12-01T11:00"}

# (command words, valid option values, more options, valid positionals): each example runs a
# valid command with one to three of its values replaced, so a bad value reaches the code
# behind the checks that come before it.
COMMANDS: list[tuple[list[str], dict[str, str], list[str], list[str]]] = [
    (["opp", "add"], OPP, ["--currency", "--probability", "--category", "--owner",
                           "--next-step", "--notes", "--contacts", "--external-id"], []),
    (["opp", "update", "@opp"], {"--stage": "negotiation"},
     ["--amount", "--close", "--currency", "--probability", "--notes", "--account"], []),
    (["opp", "list"], {}, ["--stage", "--owner"], []),
    (["opp", "show"], {}, [], ["@opp"]),
    (["history"], {}, [], ["@opp"]),
    (["contact", "add"], {"--name": "Ann Lee"}, ["--company", "--emails", "--phones"], []),
    (["event", "add"], EVENT, ["--all-day", "--timezone", "--opportunity", "--location",
                               "--attendees"], []),
    (["search"], {"--limit": "5"}, [], ["acme"]),
    (["topic", "add"], {"--category": "general"}, ["--body"], ["Beating Globex"]),
    (["announce"], {}, ["--title"], ["Q4 review Monday"]),
    (["invite", "--role", "rep"], {"--expires": "24h"}, ["--addr"], []),
    (["quota", "set"], {}, [], ["Dana", "2026-Q4", "300000"]),
    (["rate", "set"], {}, [], ["USD", "0.92"]),
    (["forecast"], {"--period": "2026-Q4"}, [], []),
    (["stage", "set"], {}, [], ["Discovery:10:pipeline", "Won:100:closed"]),
    (["doc", "new"], {}, [], ["Proposal"]),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "dana"
    ws = Workspace.create(path, "Dana", "Acme Sales")
    ws.add("opportunity", {"account": "Acme", "title": "Renewal", "amount": 500,
                           "stage": "proposal", "close_date": "2026-12-15"})
    ws.close()
    return path


@pytest.fixture(scope="module")
def store(home: Path):
    opened = Store(home / "store.db", subkey(unlock(home), "store"))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def opp_id(home: Path) -> str:
    ws = Workspace.open(home)
    try:
        return ws.list("opportunity")[0]["id"]
    finally:
        ws.close()


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse: usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_argument_values_give_success_or_one_line(
    data: st.DataObject, home: Path, store: Store, opp_id: str,
    capsys: pytest.CaptureFixture[str]
) -> None:
    words, valid, extra, positionals = data.draw(st.sampled_from(COMMANDS), label="command")
    values = {**valid, **{f"#{i}": v for i, v in enumerate(positionals)}}
    fuzzed = data.draw(st.lists(st.sampled_from([*values, *extra]), min_size=1, max_size=3,
                                unique=True), label="fuzzed")
    for name in fuzzed:
        values[name] = data.draw(VALUE, label=name)
    argv = ["--home", str(home), *[opp_id if w == "@opp" else w for w in words]]
    argv += [opp_id if v == "@opp" else v for k, v in values.items() if k.startswith("#")]
    argv += [f"{k}={v}" for k, v in values.items() if not k.startswith("#")]
    before = store.max_seq()
    code, err = run_cli(argv, capsys)
    if code == 0:
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "unexpected error" not in err and "Traceback" not in err, err
    assert store.max_seq() == before, f"{argv} failed but wrote change rows"


def test_the_fuzz_can_tell_a_crash(home: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What the fuzz looks for, shown on a command made to fail unexpectedly."""
    def broken(self: Workspace, *args: object, **kwargs: object) -> object:
        raise KeyError("boom")

    monkeypatch.setattr(Workspace, "list", broken)
    code, err = run_cli(["--home", str(home), "opp", "list"], capsys)
    assert code == 70 and "unexpected error (KeyError" in err


def test_a_valid_command_after_the_fuzz_still_works(home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(["--home", str(home), "opp", "add", "--account", "Initech", "--title",
                         "Pilot", "--amount", "1000", "--stage", "proposal", "--close",
                         dt.date.today().isoformat()], capsys)
    assert (code, err) == (0, "")
