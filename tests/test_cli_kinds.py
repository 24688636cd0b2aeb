"""``bullpen contact|event|opp update|show|delete`` and ``topic show`` act only on a record of
their own kind: a deal's id given to ``contact delete`` (a mistyped command) leaves the deal
alone."""

from __future__ import annotations

from helpers_procs import Cli


def test_another_kinds_id_is_refused_and_changes_nothing(cli: Cli):
    deal = cli.add_opp()
    event = cli.out("event", "add", "--title", "QBR", "--start", "2026-12-01T10:00")
    cli.fails("contact", "delete", deal[:6], needle="is not a record of kind contact")
    cli.fails("event", "update", deal, "--title", "Renamed", needle="(it is: opportunity)")
    cli.fails("opp", "show", event, needle="is not a record of kind opportunity")
    cli.fails("topic", "show", deal, needle="is not a record of kind topic")
    assert cli.json("opp", "show", deal)["title"] == "Renewal"
    assert cli.out("event", "delete", event[:6]) == f"deleted {event}"
