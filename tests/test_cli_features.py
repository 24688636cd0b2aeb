"""The sales-feature commands, run as the real console script (harness in helpers_procs)."""

from __future__ import annotations

from pathlib import Path

from helpers_procs import Cli

FIXTURES = Path(__file__).parent / "fixtures" / "interop"


def test_forecast_quota_rate_drill_history(cli: Cli):
    deal = cli.add_opp(stage="negotiation", amount="1000")
    cli.add_opp(stage="closed_won", amount="500", currency="USD")
    assert cli.json("quota", "set", "Dana", "2026-Q4", "2000")[0]["owner"] == "Dana"

    data = cli.json("forecast", "--period", "2026-Q4")
    assert data["missing_rates"] == ["USD"] and data["total"]["amounts"] is None
    assert "no exchange rate for USD" in cli.out("forecast", "--period", "2026-Q4")

    cli.out("rate", "set", "usd", "0.5")
    data = cli.json("forecast", "--period", "2026-Q4", "--by", "team")
    [team] = data["rows"]
    assert team["key"] == "Dana" and team["amounts"]["closed_won"] == 250
    assert team["attainment"] == 0.125 and "12.5%" in cli.out("forecast", "--period", "2026-Q4")

    rows = cli.json("forecast", "--period", "2026-Q4", "--drill", "Dana", "--column", "commit")
    assert [r["id"] for r in rows] == [deal]

    assert "2026-Q4|" in cli.out("forecast", "snapshot", "--period", "2026-Q4")
    history = cli.json("forecast", "--period", "2026-Q4", "--history")
    assert {r["group"] for r in history} == {"Dana", "(total)"}


def test_forecast_errors_are_one_line(cli: Cli):
    cli.fails("forecast", "--period", "2026-Q5", needle="quarter must be Q1 to Q4")
    cli.fails("rate", "set", "EUR", "2", needle="base currency")
    cli.fails("quota", "set", "Dana", "2026-Q4", "lots", needle="not a number")


def test_import_export_commands(cli: Cli, tmp_path: Path):
    sf = str(FIXTURES / "salesforce_opportunities.csv")
    dry = cli.json("import", "opportunities", sf, "--dry-run")
    assert dry["created"] == 7 and not dry["imported"] and cli.json("opp", "list") == []
    assert "created 7" in cli.out("import", "opportunities", sf)
    assert "unchanged 7" in cli.out("import", "opportunities", sf)

    out = tmp_path / "pipeline.xlsx"
    assert "wrote 7" in cli.out("export", "opportunities", "-o", str(out))
    assert cli.json("import", "opportunities", str(out))["unchanged"] == 7
    assert len(cli.json("opp", "list")) == 7

    bad = str(FIXTURES / "bad_rows.csv")
    proc = cli.run("import", "opportunities", bad, ok=False)
    assert proc.returncode == 1 and "row 3: amount" in proc.stdout
    assert "nothing imported" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "skipped 5 bad rows" in cli.out("import", "opportunities", bad, "--skip-bad")

    cli.fails("import", "opportunities", str(FIXTURES / "outlook_cp1252.csv"), needle="--map")
    mapped = cli.json("import", "opportunities", str(FIXTURES / "outlook_cp1252.csv"),
                      "--map", "Titel=title", "--map", "Firma=account", "--map", "Betrag=amount",
                      "--map", "Phase=stage", "--map", "Abschlussdatum=close_date")  # fmt: skip
    assert mapped["created"] == 3

    cli.fails("import", "contacts", str(FIXTURES / "truncated.vcf"), needle="truncated")
    cli.out("import", "contacts", str(FIXTURES / "google_contacts.vcf"))
    vcf = tmp_path / "team.vcf"
    cli.out("export", "contacts", "-o", str(vcf))
    assert cli.json("import", "contacts", str(vcf))["created"] == 0

    cli.fails("import", "calendar", str(FIXTURES / "bad_dates.ics"), needle="bad_dates.ics")
    cli.out("import", "calendar", str(FIXTURES / "google_calendar.ics"))
    ics = tmp_path / "team.ics"
    cli.out("export", "calendar", "-o", str(ics))
    assert cli.json("import", "calendar", str(ics))["created"] == 0


def test_notification_commands(cli: Cli):
    settings = cli.json("notifications", "settings", "--replies", "on", "--mentions", "off",
                        "--stage-changes-over", "10000")  # fmt: skip
    assert settings["replies"] and not settings["mentions"]
    assert settings["stage_changes_over"] == 10000
    assert "replies: on" in cli.out("notifications", "settings")
    assert cli.json("notifications", "--unread") == []
    assert cli.out("notifications", "read", "--all") == "marked 0 read"
    cli.fails("notifications", "read", "7", needle="no notification 7")
    cli.fails("notifications", "settings", "--follow-topic", "zzzz", needle="no record")


def test_kudos_and_leaderboard(cli: Cli):
    topic = cli.out("topic", "add", "Pricing")
    post = cli.out("post", topic, "Discount guide")
    cli.fails("kudos", post, needle="not your own")
    cli.fails("kudos", topic, needle="kudos go to")
    board = cli.json("leaderboard")
    assert board[0]["member"] == "Dana" and board[0]["posts"] == 1
