"""The command line as its own presentation package: failures are classified by one base class
(app/errors.py) without importing libp2p, and its parser imports no use case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bullpen.app.errors import UserError, user_error, user_error_types
from bullpen.app.interop import transfer
from bullpen.app.interop.common import EXPORT_FORMATS, FILE_KINDS
from bullpen.app.interop.errors import InteropError
from bullpen.app.members.invites import InviteError
from bullpen.app.storage.blobs import BlobDamaged, BlobMissing
from bullpen.app.storage.keys import ProfileLocked
from bullpen.app.storage.store import StoreError

# Runs one command in a fresh interpreter and reports its exit code, its stderr and which of
# the heavy modules it loaded.
SCRIPT = """
import contextlib, io, json, sys
from bullpen.cli.main import main
err = io.StringIO()
with contextlib.redirect_stderr(err):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
heavy = ("libp2p", "trio", "bullpen.sync.node", "bullpen.app.sales.use_cases",
         "bullpen.app.interop.transfer",
         "bullpen.app.members.invites", "PySide6")
print(json.dumps({"code": code, "stderr": err.getvalue(),
                  "loaded": [m for m in heavy if m in sys.modules]}))
"""


def run_fresh(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # after the command's own output


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-package") / "dana"
    subprocess.run([sys.executable, "-m", "bullpen.cli", "--home", str(path), "init",
                    "--name", "Dana", "--workspace", "Acme"], check=True, capture_output=True)
    return path


@pytest.mark.parametrize("argv, code, needle", [
    (["status"], 1, "no workspace in"),
    (["opp", "add", "--title", "t", "--account", "a", "--amount", "abc"], 2, "is not a number"),
    (["invite", "--role", "rep", "--expires", "soon"], 2, "soon"),
])
def test_a_failing_command_is_one_line_and_imports_no_network(
    home: Path, tmp_path: Path, argv: list[str], code: int, needle: str
) -> None:
    where = tmp_path / "none" if argv == ["status"] else home
    result = run_fresh("--home", str(where), *argv)
    assert result["code"] == code, result
    assert needle in result["stderr"] and len(result["stderr"].splitlines()) == 1, result
    # naming sync's errors used to import libp2p: a second on every failing command
    assert not {"libp2p", "trio", "bullpen.sync.node", "PySide6"} & set(result["loaded"]), result


def test_building_the_parser_imports_no_use_case(home: Path) -> None:
    result = run_fresh("--home", str(home), "opp", "list", "--json")
    assert result["code"] == 0, result
    assert result["loaded"] == [], result


@pytest.mark.parametrize("error", [StoreError, BlobMissing, BlobDamaged, ProfileLocked,
                                   InteropError, InviteError])
def test_the_apps_one_line_errors_share_one_base(error: type[Exception]) -> None:
    assert issubclass(error, UserError)
    group = BaseExceptionGroup("trio's wrapper", [RuntimeError("other"), error("why")])
    assert isinstance(user_error(group), error)


def test_lower_layer_errors_count_once_their_module_is_loaded() -> None:
    from bullpen.crdt.checks import ValidationError
    from bullpen.sync.join import JoinRefused

    assert {ValidationError, JoinRefused} <= set(user_error_types())
    assert user_error(BaseExceptionGroup("g", [JoinRefused("no")])) is not None
    assert user_error(RuntimeError("a bug")) is None


def test_the_parser_offers_what_import_and_export_handle() -> None:
    assert tuple(transfer.IMPORTERS) == FILE_KINDS == tuple(transfer.EXPORTERS)
    assert transfer.EXPORT_FORMATS == EXPORT_FORMATS
