"""Every operation a role may run is accepted by every other member (issue: sync never stalls).

For each CLI command that writes shared data and each role that may run it: run it on A's
profile, then deliver A's documents to B (a manager) and C (a rep) through the sync node's
receiving code under their own access policies; B and C never ran the command themselves.
Nothing may be refused, and B and C must hold everything A has (every change of every
document shared with them, so every record, field and setting). A role that may not run a
command gets a one-line error and a non-zero exit, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile import deliver
from replicas import exchange, give

from bullpen.app.members.access import AccessPolicy
from bullpen.app.workspace import Workspace
from bullpen.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures" / "interop"


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """Homes of A-runners of each role, and of B (manager) and C (rep)."""
    base = tmp_path_factory.mktemp("matrix")
    dana = Workspace.create(base / "dana", "Dana", "Acme Sales")
    homes = {"manager": base / "dana"}
    others = {}
    for name, role in (("Eli", "rep"), ("Carl", "guest"), ("Mia", "manager"), ("Ray", "rep")):
        other = Workspace.create_joining(base / name.lower(), name, dana.workspace_id)
        dana.add_member(other.peer_id, role, name)
        others[name] = other
    room = dana.add("space", {"title": "Initech room", "guests": [others["Carl"].peer_id]})
    topic = dana.add("topic", {"title": "Rollout"}, space=room)
    post = dana.add("post", {"topic_id": topic, "text": "Kickoff Monday?"})
    shared = dana.new_document("Initech proposal", "Price: 45", space=room)
    for name in ("Eli", "Mia", "Ray"):
        exchange(dana, others[name])
    give(dana, others["Carl"])
    homes.update(rep=base / "eli", guest=base / "carl", B=base / "mia", C=base / "ray")
    ids = {"room": room, "room_topic": topic, "room_post": post, "shared_doc": shared,
           "ray": others["Ray"].peer_id}
    for workspace in (dana, *others.values()):
        workspace.close()
    return {"homes": homes, "ids": ids, "base": base}


def run(home: Path, argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def made(home: Path, argv: list[str], capsys) -> str:
    """Run a command that must succeed; its printed id (first word of the output)."""
    code, out, err = run(home, argv, capsys)
    assert code == 0, f"{argv}: {err}"
    return out.split()[0] if out else ""


def synced_everywhere(office) -> None:
    """Deliver every document of every runner to B and C; nothing refused, all held."""
    homes = office["homes"]
    for runner in ("manager", "rep", "guest"):
        source = Workspace.open(homes[runner])
        try:
            for target in ("B", "C"):
                dest = Workspace.open(homes[target])
                try:
                    visible = AccessPolicy(source).docs_visible_to(dest.peer_id,
                                                                   source.doc_ids())
                    for doc_id in sorted(visible):
                        for whole in (False, True):
                            assert deliver(source, dest, doc_id, whole=whole) == "", doc_id
                        held = dest.doc(doc_id)
                        missing = [h.hex()[:8] for h in source.heads(doc_id)
                                   if not _holds(held, h)]
                        assert not missing, f"{target} lacks {doc_id} changes of {runner}"
                finally:
                    dest.close()
        finally:
            source.close()


def _holds(doc, change_hash: bytes) -> bool:
    from automerge.core import ROOT

    return doc.get(ROOT, "_doc", [change_hash]) is not None


def write_commands(role: str, ids: dict[str, str], base: Path) -> list[list[str]]:
    """The commands ``role`` may run that write shared data; ``{opp}``-style placeholders
    name records made by earlier commands in the list."""
    csv = FIXTURES / "hubspot_deals.csv"
    team = [
        ["opp", "add", "--account", "Initech", "--title", f"{role} deal", "--amount", "5000",
         "--stage", "proposal", "--close", "2026-12-15"],
        ["opp", "update", "{opp}", "--stage", "negotiation", "--next-step", "Legal"],
        ["contact", "add", "--name", f"Ann {role}", "--company", "Initech"],
        ["contact", "update", "{contact}", "--company", "Initech GmbH"],
        ["event", "add", "--title", f"QBR {role}", "--start", "2026-12-01T10:00", "--end",
         "2026-12-01T11:00"],
        ["event", "update", "{event}", "--location", "Berlin"],
        ["topic", "add", f"Beating Globex {role}"],
        ["post", "{topic}", "They discount 20%"],
        ["announce", f"Review Monday ({role})"],
        ["doc", "new", f"Proposal {role}"],
        ["doc", "append", "{doc}", "More text"],
        ["resource", "add", str(csv)],
        ["import", "opportunities", str(csv)],
        ["import", "contacts", str(FIXTURES / "google_contacts.vcf")],
        ["import", "calendar", str(FIXTURES / "google_calendar.ics")],
        ["forecast", "--period", "2026-Q4"],
        ["opp", "delete", "{opp}"],
        ["contact", "delete", "{contact}"],
        ["event", "delete", "{event}"],
        ["invite", "--role", "guest", "--addr", "/ip4/127.0.0.1/tcp/4001"],
        ["room", "create", f"Room {role}", "--account", "Initech"],
        ["room", "add", "{room}", "--task", "Demo for IT", "--side", "vendor"],
        ["room", "add", "{room}", "--status", "Proposal sent", "--next-steps", "Legal"],
        ["room", "add", "{room}", "--doc", "Room proposal"],
        ["room", "add", "{room}", "--discussion", "Rollout", "--text", "Kickoff?"],
        ["room", "invite", "{room}", "--email", "ann@initech.example", "--addr",
         "/ip4/127.0.0.1/tcp/4001"],
        ["room", "close", "{room}"],
        ["room", "reopen", "{room}"],
        ["forecast", "submit", "--commit", "1000", "--best-case", "2000", "--period", "2026-Q4"],
        ["task", "add", f"Follow up ({role})", "--owner", "Ray", "--due", "2026-12-05"],
        ["task", "add", f"Own task ({role})", "--due", "2026-12-05"],
        ["task", "edit", "{task}", "--text", "Own task, reworded"],
        ["task", "done", "{task}"],
        ["task", "reopen", "{task}"],
    ]
    managers = [
        ["quota", "set", "Eli", "2026-Q4", "300000"],
        ["rate", "set", "USD", "0.92"],
        ["forecast", "snapshot", "--period", "2026-Q4"],
        ["stage", "set", "Prospecting:5:pipeline", "Qualification:15:pipeline",
         "Proposal:70:best_case", "Negotiation:90:commit", "Closed Won:100:closed",
         "Closed Lost:0:omitted"],
        ["invite", "--role", "rep"],
        ["member", "role", ids["ray"], "rep"],
        ["forecast", "adjust", "Eli", "--commit", "500", "--best-case", "900", "--period",
         "2026-Q4", "--comment", "haircut"],
        ["forecast", "adjust", "Dana", "--team", "--commit", "800", "--best-case", "1500",
         "--period", "2026-Q4"],
        ["task", "done", "{task_for_ray}"],
    ]
    guest = [
        ["post", ids["room_topic"], "Monday works for us"],
        ["kudos", ids["room_post"]],
        ["doc", "append", ids["shared_doc"], "Could you do 42?"],
        ["room", "add", ids["room"], "--task", "Security review", "--side", "customer"],
    ]
    reps = [["kudos", ids["room_post"]]]  # a colleague's post (kudos are not for your own)
    return {"manager": team + managers, "rep": team + reps, "guest": guest}[role]


@pytest.mark.slow
@pytest.mark.parametrize("role", ["manager", "rep", "guest"])
def test_every_allowed_command_reaches_every_member(office, role, capsys):
    home, made_ids = office["homes"][role], {}
    for argv in write_commands(role, office["ids"], office["base"]):
        argv = [a.format(**made_ids) if "{" in a else a for a in argv]
        out = made(home, argv, capsys)
        if argv[0] in ("opp", "contact", "event", "topic", "doc") and argv[1] in ("add", "new"):
            made_ids[argv[0]] = out
        if argv[:2] == ["room", "create"]:
            made_ids["room"] = out
        if argv[:2] == ["task", "add"]:  # the first is for Ray, the next the runner's own
            made_ids["task" if "task_for_ray" in made_ids else "task_for_ray"] = out
    synced_everywhere(office)


MANAGERS_ONLY = [
    ["quota", "set", "Eli", "2026-Q4", "1"],
    ["rate", "set", "USD", "9"],
    ["forecast", "snapshot", "--period", "2026-Q4"],
    ["stage", "set", "Won:100:closed"],
    ["invite", "--role", "manager"],
    ["forecast", "adjust", "Eli", "--commit", "1", "--best-case", "2"],
]


@pytest.mark.parametrize("argv", MANAGERS_ONLY, ids=lambda a: " ".join(a[:2]))
def test_a_rep_gets_a_one_line_refusal_for_manager_commands(office, argv, capsys):
    home = office["homes"]["rep"]
    before = Workspace.open(home)
    heads = {d: before.heads(d) for d in before.doc_ids()}
    before.close()
    code, _, err = run(home, argv, capsys)
    assert code != 0 and "\n" not in err and "Traceback" not in err
    assert "manager" in err
    after = Workspace.open(home)
    try:
        assert {d: after.heads(d) for d in after.doc_ids()} == heads
    finally:
        after.close()


@pytest.mark.parametrize("argv", [
    ["opp", "add", "--account", "X", "--title", "Y", "--amount", "1", "--stage", "proposal",
     "--close", "2026-12-01"],
    ["announce", "hacked"],
    ["quota", "set", "Eli", "2026-Q4", "1"],
    ["forecast", "submit", "--commit", "1", "--best-case", "2"],
    ["task", "add", "hacked"],
], ids=lambda a: a[0])
def test_a_guest_gets_a_one_line_refusal_for_team_commands(office, argv, capsys):
    code, _, err = run(office["homes"]["guest"], argv, capsys)
    assert code != 0 and "\n" not in err and "Traceback" not in err, err
