"""Hostile and broken input at the command line: one line on stderr, a non-zero exit, nothing
written. Each case is one that printed a traceback or stored nonsense before (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import opp_fields
from helpers_procs import Cli

from bullpen.app.workspace import Workspace
from bullpen.crdt.schema import ValidationError
from bullpen.crdt.validation import validate

OPP = ["--title", "Renewal", "--amount", "500", "--stage", "proposal", "--close", "2026-12-15"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One profile for the module's commands (each test checks what it changes)."""
    c = Cli(tmp_path_factory.mktemp("hostile") / "home")
    c.out("init", "--name", "Dana", "--workspace", "Acme Sales")
    return c


def refused(cli: Cli, *args: str, needle: str) -> None:
    """The command fails with one line naming the problem, and the pipeline is unchanged."""
    before = cli.json("opp", "list")
    cli.fails(*args, needle=needle)
    assert cli.json("opp", "list") == before


# ----- values that used to be stored (or crash) ----------------------------------------------


@pytest.mark.parametrize(("fields", "needle"), [
    ({"amount": 1e308}, r"at most 1e\+15"),
    ({"amount": "inf"}, "not a finite number"),
    ({"amount": "1e400"}, "not a finite number"),
    ({"currency": "€€€"}, "not an ISO 4217 currency"),
    ({"currency": "XYZ"}, "not an ISO 4217 currency"),
    ({"account": "\udcff\udcfe x"}, "not valid text"),
    ({"notes": "x" * 100_001}, "longer than 100,000"),
    ({"probability": "1e400"}, "not a finite number"),
])  # fmt: skip
def test_opportunity_values_out_of_bounds_are_refused(fields: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        validate("opportunity", fields, partial=True)


def test_currency_is_normalised_to_its_iso_code() -> None:
    assert validate("opportunity", {"currency": " usd "}, partial=True) == {"currency": "USD"}


@pytest.mark.parametrize(("fields", "needle"), [
    ({"start": "2026-12-01T10:00", "end": "2026-12-01T09:00"}, "before start"),
    ({"start": "2026-12-02", "end": "2026-12-01"}, "before start"),
    ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
    ({"timezone": "../../etc/passwd"}, "not an IANA time zone"),
    ({"timezone": "/etc/localtime"}, "not an IANA time zone"),
])  # fmt: skip
def test_event_values_out_of_bounds_are_refused(fields: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        validate("event", {"title": "QBR", "start": "2026-12-01T10:00", **fields})


def test_valid_event_span_and_zone_pass() -> None:
    fields = {"title": "QBR", "start": "2026-12-01T10:00+01:00", "end": "2026-12-01T10:00",
              "timezone": "Europe/Paris"}
    assert validate("event", fields)["timezone"] == "Europe/Paris"


def test_rate_and_quota_are_bounded(ws: Workspace) -> None:
    from bullpen.app.sales import use_cases as sales

    with pytest.raises(ValidationError, match="ISO 4217"):
        sales.set_rate(ws, "€€€", 1.0)
    with pytest.raises(ValidationError, match="at most"):
        sales.set_quota(ws, "Dana", "2026-Q4", "1e300")


# ----- the command line ----------------------------------------------------------------------


def test_undecodable_argument_is_one_line(cli: Cli) -> None:
    # what a shell passes for $'\xff\xfe x' arrives in Python as lone surrogates
    refused(cli, "opp", "add", "--account", "\udcff\udcfe x", *OPP, needle="not valid text")


def test_huge_amount_and_bad_currency_are_refused(cli: Cli) -> None:
    refused(cli, "opp", "add", "--account", "A", *OPP[:2], "--amount", "1e308", *OPP[4:],
            needle="at most")
    refused(cli, "opp", "add", "--account", "A", *OPP, "--currency", "€€€", needle="ISO 4217")


def test_a_workspace_currency_must_be_iso_4217(tmp_path: Path) -> None:
    Cli(tmp_path / "x").fails("init", "--name", "Dana", "--workspace", "Acme", "--currency",
                              "€€€", needle="--currency: '€€€' is not an ISO 4217")
    assert not (tmp_path / "x").exists()


def test_lower_case_currency_is_stored_upper_case(cli: Cli) -> None:
    oid = cli.out("opp", "add", "--account", "A", *OPP, "--currency", "usd")
    assert cli.json("opp", "show", oid)["currency"] == "USD"


def test_event_ending_before_start_is_refused(cli: Cli) -> None:
    before = cli.json("event", "list")
    cli.fails("event", "add", "--title", "QBR", "--start", "2026-12-01T10:00", "--end",
              "2026-12-01T09:00", needle="before start")
    cli.fails("event", "add", "--title", "QBR", "--start", "2026-12-01T10:00", "--timezone",
              "Mars/Olympus", needle="not an IANA time zone")
    assert cli.json("event", "list") == before


def test_invite_with_an_overflowing_expiry_is_one_line(cli: Cli) -> None:
    cli.fails("invite", "--role", "rep", "--expires", "100000000000000000000d",
              needle="not a duration")
    cli.fails("invite", "--role", "rep", "--expires", "91d", needle="between 1 minute")


@pytest.mark.parametrize(("addr", "needle"), [
    ("garbage", "not a multiaddr"),
    ("/ip4/192.0.2.7", "host and TCP port"),
    ("/ip4/192.0.2.7/udp/4001", "host and TCP port"),
    ("/ip4/192.0.2.7/tcp/99999", "not a multiaddr"),
    ("/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWN8FHJcq3yyb41agF1xZmPqY5FrmKPnLoskvJsmLXhHZC",
     "another peer"),
])  # fmt: skip
def test_invite_with_an_unusable_address_is_refused(cli: Cli, addr: str, needle: str) -> None:
    cli.fails("invite", "--role", "rep", "--addr", addr, needle=needle)


def test_invite_with_a_dialable_address_names_it(cli: Cli) -> None:
    data = cli.json("invite", "--role", "rep", "--addr", "/ip4/192.0.2.7/tcp/4001")
    assert data["addrs"] == ["/ip4/192.0.2.7/tcp/4001"]


def test_serve_on_a_garbage_address_is_one_line(cli: Cli) -> None:
    cli.fails("serve", "--listen", "garbage", needle="Invalid MultiAddr 'garbage'")


def test_argument_errors_are_one_line(cli: Cli) -> None:
    cli.fails("search", "x", "--limit", "many", needle="invalid int value")


def test_record_text_cannot_drive_the_terminal(cli: Cli) -> None:
    cli.out("opp", "add", "--account", "ctl\x1b[31mred\x9b2J\u202eevil", *OPP)
    listing = cli.out("opp", "list")
    assert "ctl[31mred2Jevil" in listing
    assert not any(c in listing for c in "\x1b\x9b\u202e")
    raw = cli.run("opp", "list", "--json").stdout
    assert not any(c in raw for c in "\x1b\x9b\u202e")
    assert json.loads(raw)[0]["account"] == "ctl\x1b[31mred\x9b2J\u202eevil"  # nothing lost


def test_an_unexpected_error_is_one_line_naming_it(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The last resort: an error no handler names is still one line (and exit 70), not a
    traceback; inside a trio error group too. BULLPEN_DEBUG=1 shows the traceback."""
    import argparse

    from bullpen.cli.main import run

    def broken(_: argparse.Namespace) -> int:
        raise ExceptionGroup("tasks", [RuntimeError("boom\nsecond line")])

    monkeypatch.delenv("BULLPEN_DEBUG", raising=False)
    assert run(broken, argparse.Namespace()) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(RuntimeError: boom second line)" in err
    monkeypatch.setenv("BULLPEN_DEBUG", "1")
    with pytest.raises(ExceptionGroup):
        run(broken, argparse.Namespace())


# ----- links and updates ------------------------------------------------------------------------


def test_links_to_unknown_records_are_refused(ws: Workspace) -> None:
    contact = ws.add("contact", {"name": "Ann Lee"})
    with pytest.raises(ValidationError, match="'nosuch' is not a contact"):
        ws.add("opportunity", opp_fields(contact_ids="nosuch"))
    oid = ws.add("opportunity", opp_fields(contact_ids=contact[:8]))  # a prefix is resolved
    assert ws.get(oid)["contact_ids"] == [contact]
    with pytest.raises(ValidationError, match=f"'{contact}' is not a opportunity"):
        ws.add("event", {"title": "QBR", "start": "2026-12-01T10:00", "opportunity_id": contact})
    with pytest.raises(ValidationError, match="is not a contact"):
        ws.update(oid, {"contact_ids": [contact, oid]})
    assert ws.get(oid)["contact_ids"] == [contact]


def test_an_update_cannot_move_an_event_end_before_its_start(ws: Workspace) -> None:
    eid = ws.add("event", {"title": "QBR", "start": "2026-12-01T10:00",
                           "end": "2026-12-01T11:00"})
    with pytest.raises(ValidationError, match="before start"):
        ws.update(eid, {"end": "2026-12-01T09:00"})
    with pytest.raises(ValidationError, match="before start"):
        ws.update(eid, {"start": "2026-12-01T12:00"})
    assert ws.update(eid, {"start": "2026-12-01T10:30"})["end"] == "2026-12-01T11:00:00"


def test_a_post_can_be_edited_without_naming_its_topic(ws: Workspace) -> None:
    tid = ws.add("topic", {"title": "Globex"})
    pid = ws.add("post", {"topic_id": tid, "text": "first"})
    assert ws.update(pid, {"text": "second"})["text"] == "second"


# ----- values a modified client writes ---------------------------------------------------------


def test_values_a_modified_client_writes_are_made_readable(ws: Workspace, join_ws) -> None:
    """A rep may write opportunities, but not ones that break the manager's views: numbers
    that are no numbers, infinite or out of range show as empty, and never reach the forecast
    as inf (or crash it); currencies are read upper-case; unknown zones show as none."""
    import math

    from hostile import deliver, forge, put_record

    from bullpen.app.sales import use_cases as sales

    eli = join_ws(ws, "Eli")
    base = {"kind": "opportunity", "account": "X", "stage": "proposal",
            "close_date": "2026-12-15", "category": "best_case", "owner": "Eli",
            "created_by": eli.peer_id, "updated_by": eli.peer_id}
    forged = {
        "a" * 16: {"title": "huge", "amount": 1e308, "probability": 1000, "currency": "usd"},
        "b" * 16: {"title": "text", "amount": "lots", "probability": "x", "currency": 5},
        "c" * 16: {"title": "nan", "amount": math.nan, "contact_ids": "not-a-list"},
        "d" * 16: {"title": "fine", "amount": 500, "probability": 75, "currency": "€€€"},
    }

    def write(tx: object) -> None:
        for rid, fields in forged.items():
            put_record(tx, rid, {**base, **fields})

    def event(tx: object) -> None:
        put_record(tx, "e" * 16, {"kind": "event", "title": "QBR", "start": "2026-12-01T10:00",
                                  "timezone": "Mars/Olympus", "created_by": eli.peer_id})

    forge(eli, "pipeline", write)
    forge(eli, "calendar", event)
    assert deliver(eli, ws, "pipeline") == "" and deliver(eli, ws, "calendar") == ""
    assert [e["timezone"] for e in ws.list("event")] == [None]
    seen = {o["title"]: o for o in ws.list("opportunity")}
    assert [seen["huge"][k] for k in ("amount", "probability", "currency")] == [None, None, "USD"]
    assert [seen["text"][k] for k in ("amount", "probability", "currency")] == [None, None, "5"]
    assert seen["nan"]["amount"] is None and seen["nan"]["contact_ids"] is None
    assert ws.get("a" * 16)["amount"] is None  # a record read directly, as `opp show` does
    assert [seen["fine"][k] for k in ("amount", "probability", "currency")] == [500.0, 75, "€€€"]
    total = sales.forecast(ws, "2026-Q4").total
    figures = [*total.currencies.values()]
    assert all(math.isfinite(v) for f in figures for v in (f.pipeline, f.weighted, f.best_case))
