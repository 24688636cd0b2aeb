"""Demotions and removals judged by the log's causal structure, not by its tie-break order:
a demoted or removed member's backdated entries are void whatever entry id it grinds, and
the seal cannot pass off a forged change (review: n4, n3)."""

from __future__ import annotations

import json

import pytest

from bullpen.app.members.identity import Identity
from bullpen.app.members.membership import founding_entry, new_entry, replay

AT = "2026-11-30T00:00:00Z"
HEADS = {"pipeline": ["ab" * 32]}


class Log:
    """A membership log built entry by entry, each naming the parents its author saw."""

    def __init__(self, signed: bool = True) -> None:
        names = ("dana", "gil", "hal", "eli", "carl", "ian", "joe")
        self.ids = {n: Identity.generate() for n in names}
        self.ws, self.root, text = founding_entry(self.ids["dana"], "Dana", AT, signed)
        self.entries = {self.root: text}

    def add(self, by: str, action: str, subject: str, parents: list[str] | None = None,
            at: str = AT, **kw: object) -> str:
        eid, text = new_entry(self.ids[by], self.ws, action, self.ids[subject].peer_id, at=at,
                              parents=self.tips() if parents is None else parents, **kw)
        self.entries[eid] = text
        return eid

    def tips(self) -> list[str]:
        used = {p for t in self.entries.values() for p in json.loads(t)["payload"]["parents"]}
        return sorted(set(self.entries) - used)

    def roles(self) -> dict[str, str | None]:
        state = replay(self.entries, self.ws)
        return {n: state.role_of(i.peer_id) for n, i in self.ids.items()}


def office(signed: bool = True) -> Log:
    log = Log(signed)
    log.add("dana", "add", "gil", role="manager", name="Gil")
    log.add("dana", "add", "hal", role="manager", name="Hal")
    log.add("dana", "add", "eli", role="rep", name="Eli")
    return log


def backdated(log: Log, before: list[str], ahead_of: str, action: str, subject: str,
              **kw: object) -> str:
    """Gil's entry on the log as it was at ``before``, its id ground to sort ahead of
    ``ahead_of`` in the tie-break; the outcome must not depend on that."""
    for i in range(4000):
        eid = log.add("gil", action, subject, parents=before, at=f"2026-01-01T00:00:{i}Z", **kw)
        if eid < ahead_of:
            return eid
        del log.entries[eid]
    raise AssertionError("no id found")


@pytest.mark.parametrize("action,subject,kw", [
    ("role", "hal", {"role": "rep"}),            # a third manager
    ("add", "eli", {"role": "manager"}),         # anyone: not a member yet, so add
    ("role", "eli", {"role": "manager"}),        # promote an ally
])
def test_a_demoted_manager_cannot_backdate_an_entry_past_its_demotion(action, subject, kw):
    log = office()
    before = log.tips()
    demotion = log.add("dana", "role", "gil", role="rep")
    if action == "add":
        log.add("dana", "remove", "eli")
    hal_work = log.add("hal", "role", "dana", role="manager")  # concurrent with Gil's entry
    eid = backdated(log, before, demotion, action, subject, **kw)
    state = replay(log.entries, log.ws)
    assert state.rejected[eid] == "signed without seeing its author's demotion"
    assert demotion in state.applied and state.role_of(log.ids["gil"].peer_id) == "rep"
    assert state.role_of(log.ids["hal"].peer_id) == "manager"
    assert hal_work in state.applied  # a void revocation voids nothing


def test_a_removed_manager_cannot_backdate_an_entry_past_its_removal():
    log = office()
    before = log.tips()
    removal = log.add("dana", "remove", "gil")
    eid = backdated(log, before, removal, "role", "hal", role="rep")
    state = replay(log.entries, log.ws)
    assert state.rejected[eid] == "signed without seeing its author's removal"
    assert {n: r for n, r in log.roles().items() if r} == {
        "dana": "manager", "hal": "manager", "eli": "rep"}


def test_a_backdated_counter_demotion_takes_nothing_over():
    """The review's attack: Gil, demoted by Dana, demotes Dana on the log from before. Dana
    made Gil a manager, so she outranks him, whatever entry ids either grinds."""
    log = office()
    before = log.tips()
    demotion = log.add("dana", "role", "gil", role="rep", parents=before)
    for action, kw in (("role", {"role": "rep"}), ("remove", {})):
        counter = backdated(log, before, demotion, action, "dana", **kw)
        state = replay(log.entries, log.ws)
        assert state.rejected[counter] == "signed without seeing its author's demotion"
        assert demotion in state.applied
        assert log.roles()["dana"] == "manager" and log.roles()["gil"] == "rep"


def test_managers_of_equal_standing_demoting_each_other_both_stay():
    """Ian and Joe were made managers concurrently: neither outranks the other, so their
    concurrent demotions of each other are both void (and void nothing else); a re-issue made
    after seeing the other's holds."""
    log = office()
    before = log.tips()
    log.add("dana", "add", "ian", role="manager", name="Ian", parents=before)
    log.add("hal", "add", "joe", role="manager", name="Joe", parents=before)
    both = log.tips()
    first = log.add("ian", "role", "joe", role="rep", parents=both)
    second = log.add("joe", "remove", "ian", parents=both)
    work = log.add("joe", "role", "eli", role="guest", parents=both)  # voided by Ian's only
    state = replay(log.entries, log.ws)
    assert state.rejected[first] == state.rejected[second] == (
        "voided by a concurrent demotion or removal of its author")
    assert work in state.applied
    assert log.roles()["ian"] == log.roles()["joe"] == "manager"
    log.add("ian", "role", "joe", role="rep")
    assert log.roles()["ian"] == "manager" and log.roles()["joe"] == "rep"


def test_honest_work_concurrent_with_a_demotion_is_void_everywhere():
    """Gil adds a rep while Hal demotes him (neither has seen the other's): in any order."""
    log = office()
    before = log.tips()
    log.add("hal", "role", "gil", role="rep", parents=before)
    added = log.add("gil", "add", "carl", role="guest", parents=before)  # a rep may: kept
    promoted = log.add("gil", "role", "eli", role="manager", parents=before)  # voided
    state = replay(log.entries, log.ws)
    assert added not in state.rejected
    assert state.rejected[promoted] == "signed without seeing its author's demotion"
    assert replay(dict(reversed(log.entries.items())), log.ws).rejected == state.rejected


def test_a_workspace_founded_with_signatures_refuses_every_seal():
    log = office()
    seal = log.add("dana", "seal", "dana", docs=HEADS)
    state = replay(log.entries, log.ws)
    assert state.sealed is None and "founded with signed authorship" in state.rejected[seal]


def test_in_an_upgraded_workspace_a_demoted_manager_cannot_backdate_the_first_seal():
    log = office(signed=False)
    before = log.tips()
    demotion = log.add("dana", "role", "gil", role="rep")
    seal = backdated(log, before, demotion, "seal", "gil", docs=HEADS)
    state = replay(log.entries, log.ws)
    assert state.sealed is None and state.rejected[seal].startswith("signed without seeing")
    first = log.add("dana", "seal", "dana", docs=HEADS)
    log.add("hal", "seal", "hal", docs={"pipeline": ["cd" * 32]})
    state = replay(log.entries, log.ws)
    assert first in state.applied and state.sealed == {"pipeline": frozenset([b"\xab" * 32])}
