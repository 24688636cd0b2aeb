"""The forecast call and action-item commands, run as the real console script."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_procs import Cli
from replicas import exchange, join

from bullpen.app.workspace import Workspace


@pytest.fixture
def eli(cli: Cli, tmp_path: Path) -> Cli:
    """Eli, a rep in Dana's team, with a synced profile of his own."""
    dana = Workspace.open(cli.home)
    rep = join(dana, tmp_path / "eli", "Eli", "rep")
    dana.set_role(rep.peer_id, "rep", manager=dana.peer_id)
    rep.close()
    dana.close()
    return Cli(tmp_path / "eli")


def test_forecast_submit_adjust_status(cli: Cli, eli: Cli):
    made = eli.json("forecast", "submit", "--commit", "30000", "--best-case", "45000",
                    "--comment", "Initech in Dec", "--period", "2026-Q4")
    assert made["kind"] == "forecast_submission" and made["commit"] == 30000
    assert "submitted 2026-Q4" in eli.out("forecast", "submit", "--commit", "35000",
                                          "--best-case", "45000", "--period", "2026-Q4")
    # Eli's submissions reach Dana (in-process sync), then Dana adjusts
    dana_ws, eli_ws = Workspace.open(cli.home), Workspace.open(eli.home)
    exchange(eli_ws, dana_ws)
    eli_ws.close()
    dana_ws.close()
    cli.out("forecast", "adjust", "Eli", "--commit", "25000", "--best-case", "40000",
            "--comment", "legal", "--period", "2026-Q4")
    cli.out("forecast", "adjust", "Dana", "--team", "--commit", "20000", "--best-case",
            "40000", "--period", "2026-Q4")
    call = cli.json("forecast", "status", "--period", "2026-Q4")
    [row] = call["reps"]
    assert row["key"] == "Eli" and row["submitted"]["commit"] == 35000
    assert row["submitted"]["versions"] == 2 and row["adjusted"]["by"] == "Dana"
    assert call["teams"][0]["final"] == {"commit": 20000.0, "best_case": 40000.0}
    assert [(h["kind"], h["commit"]) for h in call["history"]] == [
        ("forecast_submission", 30000), ("forecast_submission", 35000),
        ("forecast_adjustment", 25000), ("forecast_adjustment", 20000)]
    text = cli.out("forecast", "status", "--period", "2026-Q4")
    assert "35,000.00 / 45,000.00" in text and "25,000.00 / 40,000.00 by Dana" in text
    assert "not submitted: nobody" in text


def test_forecast_call_errors_are_one_line(cli: Cli, eli: Cli):
    eli.fails("forecast", "adjust", "Dana", "--commit", "1", "--best-case", "2",
              needle="only managers can adjust a forecast")
    cli.fails("forecast", "submit", "--commit", "5", needle="needs --commit and --best-case")
    cli.fails("forecast", "submit", "--commit", "5", "--best-case", "1",
              needle="best case includes commit")
    cli.fails("forecast", "adjust", "Nobody", "--commit", "1", "--best-case", "2",
              needle="no member is called 'Nobody'")
    cli.fails("forecast", "status", "Eli", needle="takes no name")
    cli.fails("forecast", "--commit", "5", "--best-case", "6", needle="go with `forecast submit`")
    cli.fails("forecast", "status", "--team", needle="go with `forecast submit`")
    cli.fails("forecast", "adjust", "Eli", "--team", "--commit", "1", "--best-case", "2",
              needle="Eli leads no team")
    proc = cli.run("forecast", "submit", "--commit", "x", "--best-case", "2", ok=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_task_add_list_done(cli: Cli, eli: Cli):
    deal = cli.add_opp()
    late = cli.out("task", "add", "Send the quote", "--owner", "Eli", "--due", "2020-01-06",
                   "--deal", deal[:6]).split()[0]
    soon = cli.out("action", "add", "Book the QBR", "--due", "2099-01-01").split()[0]
    dana_ws, eli_ws = Workspace.open(cli.home), Workspace.open(eli.home)
    exchange(dana_ws, eli_ws)
    eli_ws.close()
    dana_ws.close()
    [mine] = eli.json("task", "list")
    assert (mine["id"], mine["owner"], mine["overdue"]) == (late, "Eli", True)
    assert mine["opportunity_id"] == deal and mine["created_by"] == "Dana"
    assert "overdue" in eli.out("task", "list", "--mine")
    assert [t["id"] for t in cli.json("task", "list")] == [soon]
    assert {t["id"] for t in cli.json("task", "list", "--all")} == {late, soon}
    eli.fails("task", "done", soon, needle="only the item's owner or a manager")
    [reminder] = eli.json("notifications")
    assert (reminder["kind"], reminder["record_id"]) == ("task_due", late)
    assert reminder["title"] == "Overdue since 2020-01-06"
    assert eli.out("task", "done", late[:6]) == f"{late} done"
    assert eli.json("task", "list") == []
    assert eli.json("task", "list", "--status", "done")[0]["overdue"] is False
    assert cli.json("task", "edit", soon, "--due", "2099-02-01")["due"] == "2099-02-01"
    cli.fails("task", "done", "nosuchid", needle="no record with id 'nosuchid'")
    cli.fails("task", "add", "x", "--due", "Friday", needle="not a date")
    cli.fails("task", "list", "--owner", "Nobody", needle="no member is called")
