"""Which membership entries a demotion or removal voids, decided by causality alone.

The membership log is replayed in a topological order whose ties are broken by entry id, and
an author picks its entry's id (parents and time are free): a manager demoted or removed could
otherwise sign, after the fact, an entry on the log as it was before, ground to sort ahead of
its demotion, and take over (review: a demoted manager demoting the one who demoted him).
So a demotion or removal is judged on its own causal past, and voids what its subject signed
concurrently with it that needed the role it lost; see :class:`Revocations`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bullpen.app.members.membership import MembershipState

ROLES = ("manager", "rep", "guest")
# replays the given entries (in order, some voided with a reason) into a fresh state
Run = Callable[[list[str], dict[str, str]], "MembershipState"]
# applies one entry to a state: None, or why it was rejected
Apply = Callable[["MembershipState", str], "str | None"]


def _needs(p: dict[str, Any]) -> int:
    """Index in ROLES of the weakest role that may make entry ``p``."""
    if p["action"] == "remove" and p["subject"] == p["by"]:
        return 2
    return 1 if p["action"] == "add" and p.get("role") == "guest" else 0


class Revocations:
    """Which entries a demotion or removal voids, decided by the log's causal structure only.

    The replay order among concurrent entries is a tie-break by entry id, which an author
    picks (parents and ``at`` are free), so it must decide nothing a member could contest. A
    *revocation* is a ``remove`` or a ``role`` that lowers its subject's role, judged on the
    state of its own causal past (its author held the role there, whatever is concurrent). It
    voids every entry by its subject concurrent with it (neither seen by it nor made after
    it) that needs a role the subject lost: what a member signed without having seen its
    demotion or removal, honestly or backdated on purpose (one's own demotion or removal voids
    nothing: one's own entries are one's own choice). Of two managers demoting or
    removing each other concurrently, the senior one wins: the one made a manager by an entry
    in the causal past of the other's grant (the founder outranks everyone), which no later
    entry can change. If neither is senior (grants made concurrently) both revocations are
    void and void nothing else (grounded semantics: a revocation counts when every revocation
    voiding it is void); either may re-issue after seeing the other's.
    """

    def __init__(self, entries: dict[str, dict[str, Any]], order: list[str], run: Run,
                 apply: Apply):
        self.entries, self.order, self.run, self.apply = entries, order, run, apply
        self.pos = {eid: i for i, eid in enumerate(order)}
        self.by_author: dict[str, list[str]] = {}
        for eid in order:
            self.by_author.setdefault(entries[eid]["by"], []).append(eid)
        # valid revocation -> (bitset of the entries it voids, reason); its author's grant
        self.voids: dict[str, tuple[int, str]] = {}
        self.grant: dict[str, str | None] = {}
        candidates = [eid for eid in order if entries[eid]["action"] in ("remove", "role")
                      and entries[eid]["subject"] != entries[eid]["by"]
                      and entries[eid]["subject"] in self.by_author]
        self.past: dict[str, int] = {}  # entry -> bitset (by position) of its causal past
        if candidates:  # (most logs have none: members who signed entries are rarely demoted)
            for eid in order:
                bits = 0
                for parent in entries[eid]["parents"]:
                    bits |= self.past[parent] | (1 << self.pos[parent])
                self.past[eid] = bits
        for eid in candidates:
            self._judge(eid)

    def _judge(self, eid: str) -> None:
        p, bit = self.entries[eid], 1 << self.pos[eid]
        mine = [e for e in self.by_author.get(p["subject"], ()) if e != eid
                and not self.past[eid] >> self.pos[e] & 1 and not self.past[e] & bit]
        if not mine:
            return  # nothing concurrent to void
        before = self.run([e for e in self.order if self.past[eid] >> self.pos[e] & 1],
                          self._voided_within(self.past[eid]))
        old, grant = before.role_of(p["subject"]), before.granted.get(p["by"])
        if old is None or self.apply(before, eid) is not None:
            return
        new = before.role_of(p["subject"])
        lost = len(ROLES) if new is None else ROLES.index(new)
        if lost <= ROLES.index(old):
            return
        targets = 0
        for e in mine:
            if _needs(self.entries[e]) < lost:
                targets |= 1 << self.pos[e]
        if not targets:
            return
        for other, (theirs, why) in list(self.voids.items()):
            if theirs & bit and targets >> self.pos[other] & 1:  # two demoting each other
                if self._outranks(self.grant[other], grant):
                    targets &= ~(1 << self.pos[other])
                elif self._outranks(grant, self.grant[other]):
                    self.voids[other] = (theirs & ~bit, why)
        what = "removal" if new is None else "demotion"
        self.voids[eid] = (targets, f"signed without seeing its author's {what}")
        self.grant[eid] = grant

    def _outranks(self, grant: str | None, other: str | None) -> bool:
        """Whether a manager made so by ``grant`` was one before (causally) ``other``'s."""
        return grant is not None and other is not None and bool(
            self.past[other] >> self.pos[grant] & 1)

    def _voided_within(self, scope: int) -> dict[str, str]:
        """Grounded labelling of the revocations within ``scope`` (a down-closed bitset)."""
        live = {r: (t & scope, why) for r, (t, why) in self.voids.items()
                if scope >> self.pos[r] & 1 and t & scope}
        attackers: dict[str, list[str]] = {r: [] for r in live}
        revocations = sum(1 << self.pos[r] for r in live)
        for a, (targets, _) in live.items():
            for r in self._members(targets & revocations):
                attackers[r].append(a)
        counts: set[str] = set()
        void: set[str] = set()
        changed = True
        while changed:
            changed = False
            for r in live.keys() - counts - void:
                if all(a in void for a in attackers[r]):
                    counts.add(r)
                    changed = True
                elif any(a in counts for a in attackers[r]):
                    void.add(r)
                    changed = True
        voided: dict[str, str] = {}
        for r in sorted(counts, key=self.pos.__getitem__):
            targets, why = live[r]
            for eid in self._members(targets):
                voided.setdefault(eid, why)
        for r in live.keys() - counts - void:
            voided[r] = "voided by a concurrent demotion or removal of its author"
        return voided

    def _members(self, bits: int) -> list[str]:
        """The entries a bitset names."""
        found = []
        while bits:
            low = bits & -bits
            found.append(self.order[low.bit_length() - 1])
            bits ^= low
        return found

    def voided(self) -> dict[str, str]:
        return self._voided_within((1 << len(self.order)) - 1) if self.voids else {}
