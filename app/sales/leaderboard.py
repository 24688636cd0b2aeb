"""Knowledge-sharing leaderboard: who shares insights that colleagues find useful.

Scoring (points per item, counted for items created in the period):

* 2 per post written (a topic reply or a thread starter alike),
* 3 per resource shared (file) and 3 per document started (co-edited proposal, playbook),
* 2 per "helpful" reaction received and 1 per any other reaction received, on any of the above,
* 1 per reply received from someone else to one of my posts (counted when the reply is
  written in the period, wherever the original sits).

Reacting to or replying to one's own items earns nothing, so the board rewards being reused by
others rather than volume. Reactions carry no timestamp, so they count with the item they are
on. Ties on points are broken by name (case-insensitive), so every peer shows the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bullpen.app.sales.periods import Period, parse_period

POINTS = {"post": 2, "resource": 3, "document": 3, "helpful": 2, "reaction": 1, "reply": 1}


@dataclass
class Standing:
    rank: int
    member: str
    points: int
    posts: int = 0
    resources: int = 0  # resources and documents shared
    helpful: int = 0
    reactions: int = 0  # reactions other than "helpful"
    replies: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Tally:
    posts: int = 0
    resources: int = 0
    documents: int = 0
    helpful: int = 0
    reactions: int = 0
    replies: int = 0

    @property
    def points(self) -> int:
        return (
            POINTS["post"] * self.posts
            + POINTS["resource"] * self.resources
            + POINTS["document"] * self.documents
            + POINTS["helpful"] * self.helpful
            + POINTS["reaction"] * self.reactions
            + POINTS["reply"] * self.replies
        )


def _count_reactions(
    tally: _Tally, item: Mapping[str, Any], author: str, names: Mapping[str, str]
) -> None:
    """Reactions map reactor (peer id or name) -> reaction; self-reactions don't count."""
    for reactor, reaction in (item.get("reactions") or {}).items():
        if names.get(reactor, reactor) == author or not reaction:
            continue
        if str(reaction).strip().lower() == "helpful":
            tally.helpful += 1
        else:
            tally.reactions += 1


def leaderboard(
    posts: Iterable[Mapping[str, Any]],
    resources: Iterable[Mapping[str, Any]],
    documents: Iterable[Mapping[str, Any]],
    period: str | Period,
    member_names: Mapping[str, str] | None = None,
) -> list[Standing]:
    """Ranked standings for the period, best first; members with no points are left out.

    ``member_names`` maps peer ids to member names for reaction keys that are peer ids.
    """
    span = parse_period(period)
    names = member_names or {}
    posts = list(posts)
    author_of = {p.get("id"): p.get("created_by") for p in posts}
    tallies: dict[str, _Tally] = {}

    def tally_for(member: str) -> _Tally:
        return tallies.setdefault(member, _Tally())

    for kind, items in (("posts", posts), ("resources", resources), ("documents", documents)):
        for item in items:
            author = item.get("created_by")
            if not author or not span.contains(item.get("created_at")):
                continue
            tally = tally_for(author)
            setattr(tally, kind, getattr(tally, kind) + 1)
            _count_reactions(tally, item, author, names)

    for post in posts:
        parent_author = author_of.get(post.get("reply_to"))
        if (
            parent_author
            and parent_author != post.get("created_by")
            and span.contains(post.get("created_at"))
        ):
            tally_for(parent_author).replies += 1

    ranked = sorted(
        ((m, t) for m, t in tallies.items() if t.points > 0),
        key=lambda mt: (-mt[1].points, mt[0].casefold(), mt[0]),
    )
    return [
        Standing(
            rank=i,
            member=member,
            points=t.points,
            posts=t.posts,
            resources=t.resources + t.documents,
            helpful=t.helpful,
            reactions=t.reactions,
            replies=t.replies,
        )
        for i, (member, t) in enumerate(ranked, start=1)
    ]
