"""Issue 12/13: a command taking a member's name refuses a name that is no member's, in one
line naming the closest members, and writes nothing (a typo in ``quota set`` used to create a
quota nobody has). Real profiles, driven through the console script."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_procs import Cli

from bullpen.app.members.identity import Identity
from bullpen.app.sales import use_cases as sales
from bullpen.app.workspace import Workspace

TEAM = (("Eli Park", "rep"), ("Elena Ruiz", "rep"), ("Mia Chen", "manager"))


@pytest.fixture
def office(tmp_path: Path) -> tuple[Cli, dict[str, str]]:
    """Dana (manager) and three members added to her membership log."""
    runner = Cli(tmp_path / "home")
    runner.out("init", "--name", "Dana", "--workspace", "Acme Sales")
    ws = Workspace.open(runner.home)
    try:
        ids = {name: Identity.generate().peer_id for name, _ in TEAM}
        for name, role in TEAM:
            ws.add_member(ids[name], role, name)
    finally:
        ws.close()
    return runner, ids


def _quotas(cli: Cli) -> list[dict[str, object]]:
    return cli.json("quota", "list")


def test_quota_for_a_non_member_is_refused_naming_the_closest(office):
    cli, _ = office
    cli.fails("quota", "set", "Eli Prak", "2026-Q4", "300000",
              needle="no member or deal owner is called 'Eli Prak'; closest: 'Eli Park'")
    cli.fails("quota", "set", "Bob", "2026-Q4", "1", needle="called 'Bob' (see")  # none close
    assert _quotas(cli) == []
    # a member's name in any case and spacing is theirs, stored as the member list spells it
    cli.out("quota", "set", " eli  park ", "2026-Q4", "300000")
    assert _quotas(cli) == [{"owner": "Eli Park", "period": "2026-Q4", "amount": 300000.0}]


def test_a_deal_owner_who_is_no_member_has_a_quota_too_and_quotas_can_be_removed(office):
    """The forecast shows imported owners and former members: their quotas can be set (under
    the name the deals carry) and removed."""
    cli, _ = office
    cli.add_opp(stage="negotiation", amount="1000", owner="John Smith")
    cli.out("quota", "set", "john smith", "2026-Q4", "5000")
    cli.out("quota", "set", "Eli Park", "2026-Q4", "300000")
    assert {q["owner"] for q in _quotas(cli)} == {"John Smith", "Eli Park"}
    cli.out("quota", "remove", "JOHN SMITH", "2026-Q4")
    assert [q["owner"] for q in _quotas(cli)] == ["Eli Park"]
    cli.fails("quota", "remove", "John Smith", "2026-Q4", needle="no quota of 'John Smith'")


def test_member_remove_and_role_name_the_closest_on_a_typo(office):
    cli, ids = office
    before = cli.json("member", "list")
    cli.fails("member", "remove", "Mia Chan", needle="closest: 'Mia Chen'")
    cli.fails("member", "role", "Elli Park", "manager", needle="closest: 'Eli Park'")
    assert cli.json("member", "list") == before
    assert cli.out("member", "role", ids["Eli Park"][-6:], "manager") == "Eli Park is now manager"
    assert "removed Mia Chen" in cli.out("member", "remove", "mia chen")
    assert {m["name"]: m["role"] for m in cli.json("member", "list")} == {
        "Dana": "manager", "Eli Park": "manager", "Elena Ruiz": "rep"}


def test_forecast_drill_into_a_typo_is_an_error_not_an_empty_list(office):
    cli, _ = office
    deal = cli.add_opp(stage="negotiation", amount="1000", owner="Eli Park")
    cli.fails("forecast", "--period", "2026-Q4", "--drill", "Eli Prak",
              needle="closest: 'Eli Park'")
    rows = cli.json("forecast", "--period", "2026-Q4", "--drill", "eli park")
    assert [r["id"] for r in rows] == [deal]
    assert cli.json("forecast", "--period", "2026-Q4", "--drill", "Elena Ruiz") == []


def test_two_members_of_one_name_need_an_id(tmp_path: Path):
    ws = Workspace.create(tmp_path / "p", "Dana", "Acme")
    try:
        twins = [Identity.generate().peer_id for _ in range(2)]
        for peer in twins:
            ws.add_member(peer, "rep", "Sam")
        with pytest.raises(sales.ValidationError, match="'Sam' names 2 members"):
            sales.member_named(ws, "Sam")
        assert sales.member_named(ws, twins[1][-8:])["peer_id"] == twins[1]
    finally:
        ws.close()
