"""Attack review (deal rooms): what a rep who does not own a room may not take away from it.

Threat model: a modified client of a rep writes any change to a room's document; every peer
judges it by the author's role (docs/SECURITY.md). Fixture: tests/test_rooms_hostile.py.
"""

from __future__ import annotations

import pytest
from hostile import deliver, forge, put_record
from replicas import exchange
from test_hostile_roles import refused_everywhere
from test_rooms_hostile import office, space  # noqa: F401  (the fixture)

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.authz import NotAllowed
from bullpen.crdt import records as rec


def test_a_rep_who_does_not_own_the_room_cannot_delete_it(office):  # noqa: F811
    """Marking the room record deleted hides the room from everyone and ends every guest's
    access to it: a take-away only the owner or a manager may do."""
    ray, dana, carl = office["other_rep"], office["manager"], office["guest"]
    assert f"space:{office['room']}" in AccessPolicy(dana).guest_docs(carl.peer_id)
    with pytest.raises(NotAllowed):  # the honest client says no first
        ray.delete(office["room"])
    forge(ray, space(office), lambda tx: put_record(tx, office["room"], {"_deleted": True}))
    refused_everywhere(ray, dana, space(office))
    assert f"space:{office['room']}" in AccessPolicy(dana).guest_docs(carl.peer_id)
    office["rep"].delete(office["other"])  # the owner may


def _react(tx, record_id: str, reactions: dict) -> None:
    """A raw reaction change: entries of the record's reactions map, as the app merges them."""
    rec.write_record(tx, rec.container(tx, rec.RECORDS), record_id,
                     {"reactions": reactions}, map_fields=["reactions"])


@pytest.mark.parametrize("whose", ["a teammate's record", "its own record"])
def test_a_guest_reacts_only_as_itself(office, whose):  # noqa: F811
    """A guest may react to any record of its room, but only under its own name: a reaction
    in a teammate's name (which the leaderboard counts) is refused, whoever wrote the record."""
    carl, dana, eli = office["guest"], office["manager"], office["rep"]
    if whose == "its own record":
        forge(carl, space(office), lambda tx: put_record(tx, "carl-topic", {
            "_kind": "topic", "title": "Question", "_created_by": carl.peer_id,
            "_updated_by": carl.peer_id, "_deleted": False}))
        assert deliver(carl, dana, space(office)) == ""
        target = "carl-topic"
    else:
        target = office["topic"]
    forge(carl, space(office), lambda tx: _react(tx, target, {carl.peer_id: "+1"}))
    assert deliver(carl, dana, space(office)) == ""  # the control: its own reaction
    forge(carl, space(office), lambda tx: _react(tx, target, {eli.peer_id: "+1"}))
    refused_everywhere(carl, dana, space(office))


def test_a_guest_cannot_make_reactions_other_than_a_map(office):  # noqa: F811
    carl, dana = office["guest"], office["manager"]
    forge(carl, space(office), lambda tx: put_record(tx, office["topic"], {"reactions": "x"}))
    refused_everywhere(carl, dana, space(office))


def test_a_rep_who_does_not_own_the_room_cannot_withdraw_an_invite(office):  # noqa: F811
    """A pending invite of the room is how a customer gets in when it joins: striking it is
    a take-away, as removing a guest is (adding one is not)."""
    eli, ray, dana = office["rep"], office["other_rep"], office["manager"]
    eli.update(office["room"], {"invites": {"a" * 64: "buyer@initech.example"}})
    for member in (dana, ray):
        exchange(eli, member)

    def invites(entries):
        return lambda tx: rec.write_record(tx, rec.container(tx, rec.RECORDS), office["room"],
                                           {"invites": entries}, map_fields=["invites"])

    forge(ray, space(office), invites({"b" * 64: "cfo@initech.example"}))
    assert deliver(ray, dana, space(office)) == ""  # the control: adding one
    for taken in ("", "someone@else.example"):
        forge(ray, space(office), invites({"a" * 64: taken}))
        refused_everywhere(ray, dana, space(office))
