"""CI's torture run (bench/torture.py, issue 12): five real ``bullpen serve`` members, a short
fixed seed of random operations of every kind through the CLI, kill -9 and restarts on the
same and new ports; in network namespaces (root) also partitions and 100 ms delay / 2% loss
each way (``tc netem`` where the kernel has ``sch_netem``, else the suite's userspace TUN
emulator, bench/torture/tunnetem.py), checked by a self-check at the start and by packets
really lost during the run. Every member must end equal, hold every confirmed write and refuse
nothing from another member.

Every failure fails, except one explained entirely by a bug still open (``OPEN_BUGS`` in
bench/torture/known.py, none today), which is reported as xfail naming it;
``BULLPEN_TORTURE_STRICT=1`` fails on those too. The bugs this suite was built against (issue
12's refused settings changes, a member not found again on a new port, redial storms, a
document blocked by a removed member's relayed change, files that never arrived, a demoted
manager's admin writes splitting the admin document) are fixed and fail the run. What the
rule for removed and demoted members allows is not a failure: a member refusing such a
member's change that arrived alone, in a document every member holds equal in the end
(``Settled`` in bench/torture/verify.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from helpers import opp_fields  # noqa: E402
from helpers_procs import Serve, cli, env, make_profiles, wait_converged, wait_for  # noqa: E402
from replicas import exchange  # noqa: E402
from torture.known import (
    OPEN_BUGS,  # noqa: E402
    Attribution,  # noqa: E402
)
from torture.ledger import Ledger, Write  # noqa: E402
from torture.netlab import NetUnavailable  # noqa: E402
from torture.run import Report, run  # noqa: E402
from torture.verify import (  # noqa: E402
    Settled,
    check_write,
    diverged_docs,
    refusals_in_logs,
    refusals_in_status,
)

STRICT = os.environ.get("BULLPEN_TORTURE_STRICT") == "1"  # "1": open bugs fail too
SEED, ROUNDS, NODES = 12, 20, 5


def verdict(report: Report) -> None:
    print(report.text())
    if report.ok:
        assert report.heal_s is not None
        return
    bugs = {b for f in report.failures for b in f.bug.split("+")}
    if report.only_known and bugs <= OPEN_BUGS and not STRICT:
        pytest.xfail(f"only known open bugs ({', '.join(sorted(bugs))}):\n{report.text()}")
    pytest.fail(report.text(), pytrace=False)


def test_checks_name_what_a_member_lacks(ws, join_ws) -> None:
    """The final checks can fail: a record, a field value, a deletion, a role a member does
    not hold yet are each named; a value replaced later still counts (it is in history)."""
    eli = join_ws(ws, "Eli")
    rid = ws.add("opportunity", opp_fields(title="late deal"))
    ledger = Ledger()
    ledger.add(Write(1, "Dana", "opp add", "field", rid, "title", "late deal"))
    ledger.add(Write(2, "Dana", "opp delete", "deleted", rid))
    ledger.add(Write(3, "Dana", "member role", "member", eli.peer_id, value="rep"))
    ledger.add(Write(4, "Dana", "member role", "member", eli.peer_id, value="manager"))
    assert [w.round for w in ledger.current()] == [1, 2, 4]  # only the last role counts
    assert "no record" in check_write(eli, ledger.writes[0])
    ws.update(rid, {"title": "renamed"})
    ws.set_role(eli.peer_id, "manager")
    exchange(ws, eli)
    assert check_write(eli, ledger.writes[0]) is None  # replaced, but in the history
    assert check_write(eli, ledger.writes[1]) == "not deleted"
    assert check_write(eli, ledger.writes[3]) is None
    assert diverged_docs({"A": {"pipeline": "h1", "index": "i"},
                          "B": {"pipeline": "h2", "index": "i"}}) == {
        "pipeline": "h1 on A; h2 on B"}


def test_failures_are_put_down_to_a_known_bug_only_when_it_explains_them() -> None:
    """A write is excused only on a member refusing its document for a known bug's reason;
    a differing document only when every differing document is so explained."""
    ledger = Ledger()
    ledger.created("opportunity", "opp1", "Ann")
    ledger.created("contact", "con1", "Ann")
    why = Attribution({
        "Bob#1": [("peer Ann#0: refused change to pipeline: change by an unknown actor; that "
                   "document is not synced", "settings-actor")],
        "Gus#6": [("holds back doc:ab12 from Ann#0: refused change to doc:ab12: change by "
                   "Eve#4 (removed), who is not a member", "removed-relay")],
        "Cat#2": [("peer Ann#0: refused change to calendar: something new", "")],
    }, isolated=set())
    deal = Write(1, "Ann", "opp add", "field", "opp1", "title", "x")
    contact = Write(2, "Ann", "contact add", "field", "con1", "name", "y")
    text = Write(3, "Eve", "doc append", "text", "ab12", value="z")
    assert why.missing(deal, ledger, ["Bob#1"]) == "settings-actor"
    assert why.missing(contact, ledger, ["Bob#1"]) == ""  # refusing pipeline explains no contact
    assert why.missing(text, ledger, ["Gus#6"]) == "removed-relay"
    assert why.missing(text, ledger, ["Gus#6", "Cat#2"]) == ""
    assert why.missing(Write(4, "Ann", "resource add", "blob", "r1"), ledger, ["Cat#2"]) == \
        "blob-retry"
    members = ["Bob#1", "Cat#2", "Gus#6"]
    assert why.diverged({"pipeline": "", "doc:ab12": ""}, members) == \
        "removed-relay+settings-actor"
    assert why.diverged({"pipeline": "", "calendar": ""}, members) == ""
    assert Attribution({}, isolated={"Cat#2"}).diverged({"calendar": ""}, members) == \
        "new-address"


def test_refusals_are_settled_only_for_a_former_members_change_every_member_holds(
        tmp_path: Path) -> None:
    """A refusal is left out only when it is for its author's role, the author stood demoted
    or removed when it was refused, the sender is a current member and the document is equal
    on every member: a change by a member who was a manager then (demoted only later, or
    promoted again), a signature, a removed sender or a document that still differs each stay
    a failure."""
    ann, bob, dan, eve, gus = (f"12D3KooW{c * 46}{c.upper()}{c * 5}" for c in "abdeg")
    names = {ann: "Ann#0", bob: "Bob#1", dan: "Dan#3", gus: "Gus#6"}
    former = {eve: "Eve#4 (removed)"}
    standing = {dan[-6:]: [(0.0, True)], eve[-6:]: [(0.0, True)],
                bob[-6:]: [(0.0, True), (1.0, False)],  # demoted, then a manager again
                gus[-6:]: [(time.time() + 5, True)]}  # demoted after the refusal

    def kept(reason: str, sender: str = bob, doc: str = "admin", converged=("admin",)) -> list:
        log = tmp_path / "ann.log"
        log.write_text(f"{time.strftime('%H:%M:%S')} WARNING bullpen.sync: peer {sender[-6:]}: "
                       f"refused change to {doc}: {reason}; that document is not synced with "
                       "this peer until it sends changes this workspace accepts\n")
        settled = Settled(standing, {n[-6:] for n in names}, set(converged))
        return refusals_in_logs([log], ann[-6:], names, former, settled)

    demoted = f"a rep may not change admin (by {dan[-6:]})"
    assert kept(demoted) == []
    assert kept(f"change by {eve[-6:]}, who is not a member", doc="pipeline",
                converged={"pipeline"}) == []
    assert kept(f"a rep may not change admin (by {bob[-6:]})")  # a manager again: a failure
    assert kept(f"a rep may not change admin (by {gus[-6:]})")  # demoted only later
    assert kept(demoted, converged=())  # the document still differs
    assert kept(demoted, sender=eve)  # sent by a removed member
    assert kept(f"change 0a1b2c3d4e5f is not signed by its author (by {dan[-6:]})")
    assert kept(f"replaces a top-level container (by {dan[-6:]})")  # not a role refusal
    status = {"peers": [{"peer_id": bob, "refused": {"admin": f"refused change to admin: "
                                                               f"{demoted}"},
                         "held_by_peer": {"index": "refused change to index: a rep may not "
                                                   f"change workspace settings (by {gus[-6:]})"}}]}
    settled = Settled(standing, {n[-6:] for n in names}, {"admin", "index"})
    assert refusals_in_status(status, ann[-6:], names, former, settled) == [
        "is refused index by Bob#1: refused change to index: a rep may not change workspace "
        "settings (by Gus#6)"]
    assert settled.excused == {f"admin ({dan[-6:]})": 1}


@pytest.mark.slow
@pytest.mark.timeout(290)
def test_torture_loopback(tmp_path: Path) -> None:
    verdict(run(SEED, ROUNDS, NODES, netns=False, root=tmp_path, converge_timeout=45))


@pytest.mark.slow
@pytest.mark.netns
@pytest.mark.timeout(290)
def test_torture_netns_partitions(tmp_path: Path) -> None:
    try:
        report = run(SEED, ROUNDS, NODES, netns=True, root=tmp_path, converge_timeout=45)
    except NetUnavailable as exc:
        pytest.skip(f"netns mode not possible here: {exc}")
    verdict(report)
    if report.stats.get("netem_rtt_ms") is None:
        pytest.skip(f"partitions passed; delay/loss not possible here: {report.notes}")
    assert report.stats["netem_rounds"] >= ROUNDS // 2, report.text()  # delay/loss were on
    if "netem_lost" in report.stats:  # userspace: the emulator counts what it dropped
        assert report.stats["netem_lost"] > 0 and report.stats["netem_cut"] > 0, report.text()


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_cli_write_beside_a_node_that_started_in_sync_reaches_the_peer(tmp_path: Path) -> None:
    """The torture run's first unknown failure, minimised: A's node restarts when A and B are
    already equal (it loads no document), then ``bullpen doc new`` on A must reach B."""
    from bullpen.app.workspace import Workspace

    a, b = make_profiles(tmp_path, ["Ann", "Bob"])
    with Serve(a) as first, Serve(b):
        cli(b, "peer", "add", first.addr)
        wait_converged([a, b])
        port = first.addr.split("/tcp/")[1].split("/")[0]
        first.kill()
        with Serve(a, listen=f"/ip4/127.0.0.1/tcp/{port}"):
            wait_converged([a, b])
            cli(a, "doc", "new", "Written beside a node in sync")
            ws = Workspace.open(b, passphrase=env()["BULLPEN_PASSPHRASE"])
            try:
                wait_for(lambda: any(d["title"] == "Written beside a node in sync"
                                     for d in ws.list("document")), 20,
                         "the new document to reach B")
            finally:
                ws.close()
