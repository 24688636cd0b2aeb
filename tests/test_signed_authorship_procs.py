"""Signed authorship over the network: a modified rep client's quota written under the
manager's key, offered by the rep's own ``bullpen serve``, is refused by every real peer and
shown; the rep's honest writes keep flowing."""

from __future__ import annotations

from pathlib import Path

from helpers_procs import (
    PASSPHRASE,
    Serve,
    add_opp,
    cli,
    cli_json,
    make_profiles,
    status,
    titles,
    wait_for,
)
from hostile import forge, put_setting

from bullpen.app.workspace import Workspace
from bullpen.crdt.schema import ADMIN_DOC


def quotas(home: Path) -> list[tuple[str, str, float]]:
    return [(q["owner"], q["period"], q["amount"]) for q in cli_json(home, "quota", "list")]


def holds_back(home: Path, doc_id: str) -> str:
    """The reason ``home``'s node gives for refusing ``doc_id`` from a peer ('' if none)."""
    for peer in status(home)["peers"]:
        reason = (peer.get("refused") or {}).get(doc_id)
        if reason:
            return reason
    return ""


def test_a_quota_forged_under_the_managers_key_is_refused_by_real_peers(tmp_path: Path) -> None:
    ann, bob, cat = make_profiles(tmp_path, ["Ann", "Bob", "Cat"])
    cli(ann, "quota", "set", "Bob", "2026-Q4", "300000")
    with Serve(ann) as sa:
        for rep in (bob, cat):
            cli(rep, "sync", "--peer", sa.addr, "--once")
    honest = quotas(ann)
    assert honest == quotas(bob) == quotas(cat) == [("Bob", "2026-Q4", 300000.0)]
    manager = Workspace.open(ann, passphrase=PASSPHRASE)
    ann_actor = manager.actor[:32] + b"\x00\x00\x00\x01"
    manager.close()
    modified = Workspace.open(bob, passphrase=PASSPHRASE)  # Bob's modified client
    try:
        forge(modified, ADMIN_DOC, lambda tx: put_setting(tx, ("quotas", "Bob|2026-Q4"), 1.0),
              actor=ann_actor, sigs=lambda _: [])
    finally:
        modified.close()
    assert quotas(bob) == [("Bob", "2026-Q4", 1.0)]  # what Bob's own copy now says
    with Serve(ann) as sa, Serve(bob) as sb, Serve(cat):
        cli(bob, "peer", "add", sa.addr)
        cli(cat, "peer", "add", sb.addr)
        add_opp(bob, "honest deal")
        wait_for(lambda: "honest deal" in titles(ann) and "honest deal" in titles(cat), 60,
                 "Bob's honest deal on Ann and Cat")
        for home in (ann, cat):
            reason = wait_for(lambda h=home: holds_back(h, ADMIN_DOC), 60,
                              "the forged admin change shown as held back")
            assert "not signed by its author" in reason, reason
        assert quotas(ann) == quotas(cat) == honest
        once = cli(cat, "sync", "--peer", sb.addr, "--once", check=False)
        assert once.returncode != 0 and ADMIN_DOC in once.stderr + once.stdout
        assert "Traceback" not in once.stderr
