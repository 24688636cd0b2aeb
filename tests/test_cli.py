"""Each CLI command, run as the real console script in a temp profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_procs import Cli


def test_init_and_status(cli: Cli):
    status = cli.json("status")
    assert status["name"] == "Dana"
    assert status["peer_id"].startswith("12D3KooW")
    assert len(status["workspace_id"]) == 32 and len(status["digest"]) == 64
    assert status["peers"] == []


def test_init_twice_is_refused(cli: Cli):
    cli.fails("init", "--name", "X", "--workspace", "Y", needle="already holds a workspace")


def test_commands_without_profile_explain(tmp_path: Path):
    Cli(tmp_path / "none").fails("opp", "list", needle="bullpen init")


def test_opp_lifecycle(cli: Cli):
    oid = cli.add_opp(currency="usd", owner="Eli")
    record = cli.json("opp", "show", oid)
    assert record["probability"] == 75 and record["category"] == "best_case"
    assert record["currency"] == "USD" and record["owner"] == "Eli"  # stored as its ISO code
    updated = cli.json("opp", "update", oid[:8], "--stage", "negotiation", "--next-step", "Legal")
    assert updated["stage"] == "negotiation" and updated["probability"] == 90
    assert updated["next_step"] == "Legal"
    assert [o["id"] for o in cli.json("opp", "list", "--stage", "negotiation")] == [oid]
    assert cli.json("opp", "list", "--stage", "proposal") == []
    assert [o["id"] for o in cli.json("opp", "list", "--owner", "Eli")] == [oid]
    history = cli.json("opp", "show", oid)["history"]
    assert [h["action"] for h in history] == ["created", "updated"]
    assert history[1]["fields"]["stage"] == {"old": "proposal", "new": "negotiation"}
    assert history[1]["by_name"] == "Dana"
    assert "Renewal" in cli.out("opp", "list")
    cli.out("opp", "delete", oid)
    assert cli.json("opp", "list") == []
    assert [h["action"] for h in cli.json("history", oid)][-1] == "deleted"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--amount", "-5"], "amount"),
        (["--amount", "lots"], "not a number"),
        (["--stage", "won"], "unknown value 'won'"),
        (["--close", "2026-02-30"], "not a date"),
        (["--probability", "120"], "at most 100"),
    ],
)
def test_opp_add_bad_input_writes_nothing(cli: Cli, args: list[str], needle: str):
    digest = cli.json("status")["digest"]
    base = {"--account": "Acme", "--title": "T", "--amount": "5", "--stage": "proposal",
            "--close": "2026-12-15"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    cli.fails("opp", "add", *[x for kv in base.items() for x in kv], needle=needle)
    assert cli.json("status")["digest"] == digest


def test_unknown_id_and_missing_required(cli: Cli):
    cli.fails("opp", "show", "deadbeef", needle="no record with id")
    cli.fails("opp", "update", "deadbeef", "--stage", "proposal", needle="no record with id")
    cli.fails("opp", "add", "--account", "A", needle="needs")


def test_contacts_events_and_search(cli: Cli):
    cid = cli.out("contact", "add", "--name", "Ann Lee", "--company", "Initech",
                  "--emails", "ann@initech.com, a.lee@gmail.com", "--phones", "+1 555 0100")
    contact = cli.json("contact", "show", cid)
    assert contact["emails"] == ["ann@initech.com", "a.lee@gmail.com"]
    eid = cli.out("event", "add", "--title", "Initech QBR", "--start", "2026-12-01T10:00",
                  "--end", "2026-12-01T11:00", "--location", "Zoom")
    assert cli.json("event", "list")[0]["id"] == eid
    cli.fails("event", "add", "--title", "X", "--start", "tomorrow", needle="not a date-time")
    hits = cli.json("search", "initech")
    assert {h["kind"] for h in hits} == {"contact", "event"}
    assert cli.json("search", "ini")  # prefix match while typing
    assert cli.json("search", "nothing-like-this") == []


def test_topics_posts_and_announcements(cli: Cli):
    tid = cli.out("topic", "add", "Beating Globex", "--category", "competitive")
    pid = cli.out("post", tid, "They discount 20% at quarter end")
    rid = cli.out("post", tid, "Counter with a multi-year deal", "--reply-to", pid)
    topic = cli.json("topic", "show", tid)
    assert [p["id"] for p in topic["posts"]] == [pid, rid]
    assert topic["posts"][1]["reply_to"] == pid
    cli.fails("post", tid, "x", "--reply-to", "deadbeef", needle="no record")
    cli.fails("topic", "add", "X", "--category", "gossip", needle="category")
    cli.out("announce", "Q4 kickoff Monday 9:00", "--pinned")
    notes = cli.json("announcements")
    assert notes[0]["text"] == "Q4 kickoff Monday 9:00" and notes[0]["pinned"] is True
    assert cli.json("search", "quarter")[0]["id"] == pid


def test_resources_are_content_addressed(cli: Cli, tmp_path: Path):
    deck = tmp_path / "deck.pdf"
    deck.write_bytes(b"%PDF-1.4 pricing" * 1000)
    first = cli.out("resource", "add", str(deck))
    second = cli.out("resource", "add", str(deck), "--description", "same deck again")
    assert first != second
    blobs = [p for p in (cli.home / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    out = tmp_path / "copy.pdf"
    cli.out("resource", "get", first, "-o", str(out))
    assert out.read_bytes() == deck.read_bytes()
    listed = cli.json("resource", "list")
    assert {r["mime"] for r in listed} == {"application/pdf"}
    cli.fails("resource", "add", str(tmp_path / "missing.pdf"), needle="not a readable file")


def test_documents(cli: Cli, tmp_path: Path):
    source = tmp_path / "proposal.md"
    source.write_text("Scope: 50 seats\nPrice: 40 € per seat\n", encoding="utf-8")
    did = cli.out("doc", "new", "Acme proposal", "--file", str(source))
    cli.out("doc", "append", did, "Term: 3 years\n")
    shown = cli.json("doc", "show", did)
    assert shown["text"] == "Scope: 50 seats\nPrice: 40 € per seat\nTerm: 3 years\n"
    assert cli.json("search", "seats")[0]["id"] == did
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    cli.fails("doc", "new", "X", "--file", str(bad), needle="cannot read")


def test_status_digest_changes_with_state(cli: Cli):
    before = cli.json("status")["digest"]
    cli.add_opp()
    assert cli.json("status")["digest"] != before


def test_stages_are_workspace_configurable(cli: Cli):
    assert [s["id"] for s in cli.json("stage", "list")][0] == "prospecting"
    cli.out("stage", "set", "Discovery:15:pipeline", "Demo:40:best_case", "Contract:80:commit",
            "Closed Won:100:closed", "Closed Lost:0:omitted")
    oid = cli.add_opp(stage="demo")
    assert cli.json("opp", "show", oid)["probability"] == 40
    cli.fails("opp", "add", "--account", "A", "--title", "T", "--amount", "1", "--stage",
              "proposal", "--close", "2026-12-01", needle="unknown value 'proposal'")
    cli.fails("stage", "set", "Bad:200:pipeline", needle="probability")


def test_desktop_app_without_a_display_explains(tmp_path: Path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "bullpen.cli", "--home", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert "no display" in proc.stderr and "Traceback" not in proc.stderr
