"""Modified clients of every role try to write what their role does not allow.

Each attack is made with raw automerge in the attacker's own replica (tests/hostile.py) and
delivered to the manager through the sync node's receiving code, by sync messages and as a
whole saved document: it must be refused, and nothing the manager sees may change.
"""

from __future__ import annotations

import json

import pytest
from automerge.core import ROOT
from helpers import opp_fields
from hostile import deliver, forge, put_record, put_setting, replace_root, sign, views
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replicas import exchange, give

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.invites import InviteError, admit, create_invite, parse_invite
from bullpen.app.sales import use_cases as sales
from bullpen.app.workspace import Workspace
from bullpen.crdt import records as rec
from bullpen.crdt.schema import ADMIN_DOC, INDEX_DOC

NOW = "2026-11-30T09:00:00+00:00"


@pytest.fixture
def office(ws, join_ws, tmp_path):
    """Dana (manager), Eli (rep), Carl (guest of one deal room), and a stranger."""
    rep = join_ws(ws, "Eli", "rep")
    guest = Workspace.create_joining(tmp_path / "carl", "Carl", ws.workspace_id)
    stranger = Workspace.create_joining(tmp_path / "sam", "Sam", ws.workspace_id)
    ws.add_member(guest.peer_id, "guest", "Carl")
    room = ws.add("space", {"title": "Initech room", "guests": [guest.peer_id]})
    topic = ws.add("topic", {"title": "Rollout"}, space=room)
    post = ws.add("post", {"topic_id": topic, "text": "Kickoff Monday?"})
    ws.add("opportunity", opp_fields(account="Initech", amount=40000))
    sales.set_quota(ws, "Eli", "2026-Q4", 100000)
    exchange(ws, rep)
    give(ws, guest)
    give(ws, stranger)  # what a stranger could hold: nothing but what it made itself
    office = {"manager": ws, "rep": rep, "guest": guest, "stranger": stranger, "room": room,
              "topic": topic, "post": post}
    yield office
    office["guest"].close()  # a test may have reopened it
    stranger.close()


def refused_everywhere(attacker: Workspace, victim: Workspace, doc_id: str) -> None:
    """The attacker's ``doc_id`` is refused by both receiving paths; the victim's views and
    document are untouched."""
    seen, heads = views(victim), victim.heads(doc_id) if doc_id in victim.doc_ids() else None
    for whole in (False, True):
        reason = deliver(attacker, victim, doc_id, whole=whole)
        assert reason.startswith(f"refused change to {doc_id}"), reason
        assert views(victim) == seen
        if heads is not None:
            assert victim.heads(doc_id) == heads


REP_ATTACKS = {
    "quota in the admin document": (ADMIN_DOC, lambda tx: put_setting(
        tx, ("quotas", "Eli|2026-Q4"), 1.0)),
    "exchange rate": (ADMIN_DOC, lambda tx: put_setting(tx, ("rates", "USD"), 1000.0)),
    "workspace title": (INDEX_DOC, lambda tx: put_setting(tx, ("title",), "Hacked")),
    "base currency": (INDEX_DOC, lambda tx: put_setting(tx, ("currency",), "XXX")),
    "pipeline stages": (INDEX_DOC, lambda tx: put_setting(tx, ("stages",), json.dumps(
        [{"id": "won", "name": "Won", "probability": 100, "category": "closed"}]))),
    "the members map replaced": (INDEX_DOC, lambda tx: put_setting(tx, ("membership",), None)),
    # found by the property test below: judging read the log as a map and crashed
    "the members map replaced by a number": (INDEX_DOC, lambda tx: put_setting(
        tx, ("membership",), 1)),
    "the pipeline's records hidden": ("pipeline", lambda tx: replace_root(tx, "records")),
    "the index's settings hidden": (INDEX_DOC, lambda tx: replace_root(tx, "settings")),
}


@pytest.mark.parametrize("attack", sorted(REP_ATTACKS))
def test_a_rep_cannot_change_what_only_managers_set(office, attack):
    doc_id, write = REP_ATTACKS[attack]
    forge(office["rep"], doc_id, write)
    refused_everywhere(office["rep"], office["manager"], doc_id)


def test_a_rep_cannot_delete_or_rewrite_membership_entries(office):
    rep, manager = office["rep"], office["manager"]
    entry = next(iter(rep.membership_log()))
    forge(rep, INDEX_DOC, lambda tx: put_setting(tx, ("membership", entry), None))
    refused_everywhere(rep, manager, INDEX_DOC)


def test_a_guest_cannot_write_team_records_into_its_space(office):
    guest, manager, room = office["guest"], office["manager"], office["room"]
    space = f"space:{room}"
    fake = {"_kind": "opportunity", "account": "Guest Inc", "title": "hacked",
            "amount": 10_000_000.0, "stage": "negotiation", "close_date": "2026-12-01",
            "_created_by": guest.peer_id, "_deleted": False}
    for kind, fields in (("opportunity", fake),
                         ("announcement", {"text": "hacked: reset your password",
                                           "pinned": True}),
                         ("event", {"title": "hacked", "start": "2026-12-01T10:00"}),
                         ("contact", {"name": "hacked"})):
        forge(guest, space, lambda tx, k=kind, f=fields, g=guest.peer_id: put_record(
            tx, f"fake-{k}", {**f, "_kind": k, "_created_by": g}))
        refused_everywhere(guest, manager, space)
        guest.close()
        office["guest"] = guest = Workspace.open(guest.home)  # drop the forged change
        give(manager, guest)


def test_a_guest_cannot_widen_its_space_or_rewrite_others_posts(office):
    guest, manager, room, post = (office[k] for k in ("guest", "manager", "room", "post"))
    space = f"space:{room}"
    others = {"_kind": "space", "title": "Initech room", "guests": [guest.peer_id, "x"]}
    forge(guest, space, lambda tx: put_record(tx, room, others))
    refused_everywhere(guest, manager, space)


def test_a_guest_cannot_edit_a_reps_post(office, tmp_path):
    guest, manager, room, post = (office[k] for k in ("guest", "manager", "room", "post"))
    forge(guest, f"space:{room}", lambda tx: put_record(tx, post, {"text": "hacked"}))
    refused_everywhere(guest, manager, f"space:{room}")


@pytest.mark.parametrize("doc_id", ["pipeline", "contacts", INDEX_DOC, ADMIN_DOC])
def test_a_guest_cannot_write_team_documents(office, doc_id):
    guest = office["guest"]
    forge(guest, doc_id, lambda tx: put_record(tx, "fake", {"_kind": "opportunity",
                                                            "title": "hacked"}))
    refused_everywhere(guest, office["manager"], doc_id)


@pytest.mark.parametrize("doc_id", ["pipeline", INDEX_DOC, ADMIN_DOC])
def test_a_stranger_cannot_write_anything(office, doc_id):
    stranger = office["stranger"]
    forge(stranger, doc_id, lambda tx: put_record(tx, "fake", {"_kind": "opportunity",
                                                               "title": "hacked"}))
    refused_everywhere(stranger, office["manager"], doc_id)


def test_what_roles_may_do_is_accepted(office):
    """The rules refuse misuse, not use: a guest's own post and reaction, a rep's deal and
    guest invite, arrive."""
    guest, rep, manager = office["guest"], office["rep"], office["manager"]
    guest.add("post", {"topic_id": office["topic"], "text": "Monday works"})
    sales.kudos(guest, office["post"])
    assert deliver(guest, manager, f"space:{office['room']}") == ""
    rep.add("opportunity", opp_fields(account="Globex"))
    create_invite(rep, "guest", sales.dt.timedelta(days=1), [])
    for doc_id in ("pipeline", INDEX_DOC):
        assert deliver(rep, manager, doc_id) == ""
    assert "Monday works" in [p["text"] for p in manager.list("post")]
    assert "Globex" in [o["account"] for o in manager.list("opportunity")]


# ----- invites -------------------------------------------------------------------------------


def _plant(rep: Workspace, manager: Workspace, secret: bytes, record: dict) -> None:
    import hashlib

    key = hashlib.sha256(secret).hexdigest()
    forge(rep, INDEX_DOC, lambda tx: put_setting(tx, ("invites", key), json.dumps(record)))
    assert deliver(rep, manager, INDEX_DOC) == ""  # adding an entry is allowed ...


def test_a_planted_invite_admits_nobody(office):
    rep, manager = office["rep"], office["manager"]
    newcomer = Workspace.create_joining(rep.home.parent / "mallory", "Mal", rep.workspace_id)
    try:
        unsigned = {"role": "manager", "by": manager.peer_id, "expires": "2099-01-01T00:00:00"
                    "+00:00", "created": NOW}
        _plant(rep, manager, b"1" * 16, unsigned)
        with pytest.raises(InviteError, match="unsigned|not signed"):  # ... but admits nobody
            admit(manager, b"1" * 16, newcomer.peer_id, "Mal")
        # a real code the rep may make (a guest), its stored record copied with role manager
        code = create_invite(rep, "guest", sales.dt.timedelta(days=1), [])
        invite = parse_invite(code)
        stored = json.loads(rep.setting("invites")[invite.secret_hash])
        _plant(rep, manager, b"2" * 16, {**stored, "role": "manager"})
        with pytest.raises(InviteError, match="not signed"):
            admit(manager, b"2" * 16, newcomer.peer_id, "Mal")
        # signed by the rep itself, asking for a manager
        import hashlib

        from bullpen.app.members.invites import _payload_bytes

        terms = {"ws": rep.workspace_id, "hash": hashlib.sha256(b"3" * 16).hexdigest(),
                 "role": "manager", "by": rep.peer_id, "expires": "2099-01-01T00:00:00+00:00"}
        signed = {**terms, "sig": rep.identity.sign(_payload_bytes(terms)).hex()}
        _plant(rep, manager, b"3" * 16, signed)
        with pytest.raises(InviteError, match="a rep cannot invite a manager"):
            admit(manager, b"3" * 16, newcomer.peer_id, "Mal")
        assert manager.role(newcomer.peer_id) is None
        # the rep's own guest invite still works, as a guest
        deliver(rep, manager, INDEX_DOC)
        admit(manager, invite.secret, newcomer.peer_id, "Mal")
        assert manager.role(newcomer.peer_id) == "guest"
    finally:
        newcomer.close()


# ----- random change sets per role ------------------------------------------------------------

PATHS = [
    (ADMIN_DOC, ("quotas", "Eli|2026-Q4")), (ADMIN_DOC, ("rates", "USD")),
    (INDEX_DOC, ("title",)), (INDEX_DOC, ("currency",)), (INDEX_DOC, ("stages",)),
    (INDEX_DOC, ("membership",)), (INDEX_DOC, ("invites",)), ("pipeline", ("quotas",)),
]
VALUES = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False),
                   st.text(max_size=8))
OPS = st.one_of(
    st.tuples(st.just("setting"), st.sampled_from(PATHS), VALUES),
    st.tuples(st.just("record"), st.sampled_from(["pipeline", "contacts", "space", INDEX_DOC]),
              st.sampled_from(["opportunity", "contact", "announcement", "event", "space"])),
    st.tuples(st.just("root"), st.sampled_from(["pipeline", INDEX_DOC, ADMIN_DOC, "space"]),
              st.sampled_from(["records", "settings", "touched"])),
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(role=st.sampled_from(["rep", "guest", "stranger"]), ops=st.lists(OPS, min_size=1,
                                                                         max_size=4))
def test_random_changes_never_alter_what_the_role_may_not(tmp_path_factory, role, ops):
    """Whatever a rep writes, the manager's settings, numbers and members stay; whatever a
    guest or a stranger writes, nothing the manager sees changes."""
    base = tmp_path_factory.mktemp("office")
    manager = Workspace.create(base / "dana", "Dana", "Acme Sales")
    attacker = Workspace.create_joining(base / "x", "X", manager.workspace_id)
    try:
        room = manager.add("space", {"title": "Room", "guests": [attacker.peer_id]})
        if role != "stranger":
            manager.add_member(attacker.peer_id, role, "X")
        sales.set_quota(manager, "Dana", "2026-Q4", 5)
        (give if role != "rep" else exchange)(manager, attacker)
        before = views(manager)
        for op in ops:
            doc_id = op[1][0] if op[0] == "setting" else op[1]
            doc_id = f"space:{room}" if doc_id == "space" else doc_id
            if op[0] == "setting":
                write = _setting_write(op[1][1], op[2])
            elif op[0] == "record":
                write = _record_write(op[2], attacker.peer_id)
            else:
                write = _root_write(op[2])
            forge(attacker, doc_id, write)
            deliver(attacker, manager, doc_id)
            deliver(attacker, manager, doc_id, whole=True)
        after = views(manager)
        protected = ("settings", "numbers", "members")
        if role == "rep":
            assert {k: after[k] for k in protected} == {k: before[k] for k in protected}
        else:
            assert after == before
    finally:
        attacker.close()
        manager.close()


def _setting_write(path, value):
    def write(tx):
        try:
            put_setting(tx, path, value)
        except Exception:  # noqa: BLE001 - automerge raises a bare Exception for a bad path
            put_setting(tx, path[:1], value)  # the path's map is missing here: write its key
    return write


def _record_write(kind, author):
    return lambda tx: put_record(tx, f"r-{kind}", {"_kind": kind, "title": "hacked",
                                                   "_created_by": author, "_deleted": False})


def _root_write(name):
    return lambda tx: replace_root(tx, name)


def test_team_kinds_already_in_a_space_are_never_listed(office):
    """A record of a team kind that reached a space document before these rules (accepted by
    an older release) is not listed, searched or counted."""
    manager, room = office["manager"], office["room"]
    forge(manager, f"space:{room}", lambda tx: put_record(tx, "old-fake", {
        "_kind": "opportunity", "account": "Guest Inc", "title": "hacked", "amount": 1e7,
        "stage": "negotiation", "close_date": "2026-12-01", "_deleted": False}))
    manager.reindex_doc(f"space:{room}")
    assert "old-fake" not in [o["id"] for o in manager.list("opportunity")]
    assert manager.search("hacked") == []
    assert [s["id"] for s in manager.list("space")] == [room]


# ----- found by an attacker's review ----------------------------------------------------------


def test_a_guest_cannot_reuse_a_team_records_id(office):
    """A space record under an opportunity's or a private document's id would replace it in
    the manager's index (and open the private text to the guest)."""
    guest, manager, room = office["guest"], office["manager"], office["room"]
    deal = manager.add("opportunity", opp_fields(account="Initech"))
    secret = manager.new_document("Internal pricing", "floor 40 per seat")
    give(manager, guest)
    for rid, kind in ((deal, "topic"), (secret, "document")):
        forge(guest, f"space:{room}", lambda tx, r=rid, k=kind: put_record(
            tx, r, {"_kind": k, "title": "mine", "_created_by": guest.peer_id,
                    "_deleted": False}))
        refused_everywhere(guest, manager, f"space:{room}")
    assert deal in [o["id"] for o in manager.list("opportunity")]
    assert f"doc:{secret}" not in AccessPolicy(manager).guest_docs(guest.peer_id)


def test_a_malformed_membership_entry_is_refused(office):
    """An entry that is no text (a map) would make every later membership replay fail."""
    rep, manager = office["rep"], office["manager"]

    def write(tx):
        from automerge.core import ObjType

        log = tx.get(rec.container(tx, rec.SETTINGS), "membership")[1]
        tx.put_object(log, "f" * 64, ObjType.Map)

    forge(rep, INDEX_DOC, write)
    refused_everywhere(rep, manager, INDEX_DOC)
    assert manager.role(rep.peer_id) == "rep"


def test_a_record_that_is_no_map_is_never_read(office):
    """A rep's scalar under a record id is harmless (never listed, the profile reopens); a
    guest's is refused."""
    rep, guest, manager, room = (office[k] for k in ("rep", "guest", "manager", "room"))
    forge(rep, "pipeline", lambda tx: rec._put_value(
        tx, rec.container(tx, rec.RECORDS), "zzz", "x"))
    assert deliver(rep, manager, "pipeline") == ""
    manager.reindex_doc("pipeline")
    assert "zzz" not in [o["id"] for o in manager.list("opportunity")]
    forge(guest, f"space:{room}", lambda tx: rec._put_value(
        tx, rec.container(tx, rec.RECORDS), "zzz", "x"))
    refused_everywhere(guest, manager, f"space:{room}")


def test_a_change_that_does_not_build_on_genesis_is_refused(office):
    """A root container written with no dependencies loses to the genesis one (so the root
    looks intact) but is refused all the same: only genesis starts a document."""
    from automerge.core import Document, ScalarType

    from bullpen.crdt.changes import apply_changes

    rep, manager = office["rep"], office["manager"]
    orphan = Document(actor_id=rep.actor[:32] + b"\x00\x00\x00\x07")
    with orphan.transaction() as tx:
        tx.put(ROOT, "records", ScalarType.Str, "orphan")
    changes = orphan.get_changes([])
    with rep.lock:
        apply_changes(rep.doc("pipeline"), [c.bytes for c in changes])
        rep.doc_store.append("pipeline", changes, sign(rep, "pipeline", changes))
    refused_everywhere(rep, manager, "pipeline")
