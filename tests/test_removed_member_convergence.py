"""The rule for a removed member's changes, and that every remaining member converges.

Rule (docs/SECURITY.md): a removed member's change is kept when a current member accepted it
before learning of the removal (that member's node builds on it, and a change a current
member built on is accepted with it); a change nobody accepted in time is refused everywhere.
"""

from __future__ import annotations

from helpers import opp_fields
from hostile import deliver
from replicas import exchange

from bullpen.crdt.schema import INDEX_DOC


def test_changes_relayed_before_the_removal_was_known_converge(ws, join_ws):
    dana = ws
    mal = join_ws(dana, "Mal", "rep")
    ray = join_ws(dana, "Ray", "rep")
    exchange(mal, ray)
    early = mal.add("opportunity", opp_fields(account="Early Inc"))
    assert deliver(mal, ray, "pipeline") == ""  # Ray still sees Mal as a member
    dana.remove_member(mal.peer_id)
    # Ray's copy of the pipeline, with Mal's change on top, comes alone: refused by Dana
    assert "not a member" in deliver(ray, dana, "pipeline")
    # the removal reaches Ray, whose node builds on what it accepted from Mal
    assert deliver(dana, ray, INDEX_DOC) == ""
    assert deliver(ray, dana, "pipeline") == ""
    assert deliver(dana, ray, "pipeline") == ""
    for member in (dana, ray):
        assert early in [o["id"] for o in member.list("opportunity")]
    assert dana.heads("pipeline") == ray.heads("pipeline")
    assert dana.digest() == ray.digest()


def test_changes_after_the_removal_are_refused_everywhere(ws, join_ws):
    dana = ws
    mal = join_ws(dana, "Mal", "rep")
    ray = join_ws(dana, "Ray", "rep")
    dana.remove_member(mal.peer_id)
    assert deliver(dana, ray, INDEX_DOC) == ""
    late = mal.add("opportunity", opp_fields(account="Late Inc"))
    for member in (dana, ray):
        assert "not a member" in deliver(mal, member, "pipeline")
        assert "not a member" in deliver(mal, member, "pipeline", whole=True)
        assert late not in [o["id"] for o in member.list("opportunity")]
    # Mal's own node building on its change vouches for nothing: Mal is no current member
    mal.add("opportunity", opp_fields(account="Later Inc"))
    assert "not a member" in deliver(mal, dana, "pipeline")
    assert dana.digest() == ray.digest()
