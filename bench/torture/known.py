"""Known open bugs and which failures of a torture run they explain.

A failure is put down to a known bug only when that bug accounts for it: a member lacking a
write whose document it refuses for that bug's reason, a document that differs where a member
refuses it for that reason, a member cut off after moving to a new port. Anything else stays
unexplained, and the CI test fails on it. A failure can name several bugs (``a+b``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bullpen.crdt.schema import kind_spec

from .ledger import Ledger, Write

KNOWN_BUGS = {
    "settings-actor": "issue 12 #1: a quota/rate/snapshot/forecast command's settings change "
                      "(made-up author) is refused by the other members",
    "new-address": "issue 12 #2: a member restarted on a new port is not found again",
    "redial": "issue 12 #3: endless redials (a removed member's node keeps a core busy)",
    "removed-relay": "issue 12 #4: a removed member's change relayed by a member is refused, "
                     "which blocks that document between members for good",
    "demoted-writer": "issue 12 #5 (found by this suite's 1,000-round run, fixed in 82412b4): "
                      "a manager demoted while partitioned writes quotas or rates; members who "
                      "accepted it before learning of the demotion kept it, the others refused "
                      "it for good",
    "blob-retry": "found by this suite: a shared file never reaches a member whose request "
                  "met a peer that did not have it yet (BlobMissing drops the want; nothing "
                  "asks again)",
}
OPEN_BUGS: set[str] = set()  # still open: CI excuses these, and only these
SETTINGS_DOCS = {"pipeline", "admin"}  # where quotas, rates and snapshots live (before/after)
REFUSED_DOC = re.compile(r"(?:refused change to|holds back|is refused|refuses our changes to) "
                         r"(\S+?):? ")


def refusal_bug(reason: str) -> str:
    """The known bug a refusal line shows, or ''."""
    if "unknown actor" in reason:
        return "settings-actor"
    if "may not change admin" in reason:
        return "demoted-writer"
    return "removed-relay" if "(removed), who is not a member" in reason else ""


def docs_of(write: Write, ledger: Ledger) -> set[str]:
    """The documents a confirmed write lives in."""
    if write.what == "setting":
        return SETTINGS_DOCS
    if write.what == "member":
        return {"index"}
    if write.what == "text":
        return {f"doc:{write.target}"}
    kind = ledger.kind_of(write.target)
    return {kind_spec(kind).collection} if kind else set()


def joined(bugs: Iterable[str]) -> str:
    """'a+b' when every item names a bug (or bugs 'a+b'), '' when any does not."""
    found = {key for bug in bugs for key in bug.split("+")}
    return "" if not found or "" in found else "+".join(sorted(found))


class Attribution:
    """What explains the failures of one check, from the refusals and the members' status."""

    def __init__(self, refused: dict[str, list[tuple[str, str]]], isolated: set[str]) -> None:
        """``refused``: per member, (refusal line, its bug); ``isolated``: members connected
        to no one after moving (or their peers moving) to a new port."""
        self.isolated = isolated
        self.refused_docs: dict[str, dict[str, str]] = {}
        for member, lines in refused.items():
            for line, bug in lines:
                found = REFUSED_DOC.search(line)
                if found and bug:
                    self.refused_docs.setdefault(member, {})[found.group(1)] = bug
        self.settings_refused = any(bug == "settings-actor" for lines in refused.values()
                                    for _, bug in lines)

    def doc_bug(self, member: str, doc: str) -> str:
        if member in self.isolated:
            return "new-address"
        if doc in self.refused_docs.get(member, {}):
            return self.refused_docs[member][doc]
        return "settings-actor" if doc in SETTINGS_DOCS and self.settings_refused else ""

    def missing(self, write: Write, ledger: Ledger, lacking: list[str]) -> str:
        if write.what == "blob":
            return "blob-retry"
        return joined(self.doc_bug(m, d) for m in lacking for d in docs_of(write, ledger))

    def diverged(self, docs: dict[str, str], members: list[str]) -> str:
        """Every differing document explained by some member's refusal (or isolation)?"""
        per_doc = [{b for m in members if (b := self.doc_bug(m, d))} for d in docs]
        return "" if not all(per_doc) else joined(set().union(*per_doc))

    def busy(self, member: str, removed: bool) -> str:
        if removed:
            return "redial"
        return joined(self.refused_docs.get(member, {}).values()) or (
            "settings-actor" if self.settings_refused else "")
