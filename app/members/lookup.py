"""Finding a member from what a user typed: one rule for every command that names a member.

A peer id, a unique short id (its last characters, at least four) or a name in any case. A
typo never silently acts on nobody (a quota nobody has, a removal of the wrong person): it is a
one-line error naming the closest names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bullpen.crdt.schema import ValidationError

if TYPE_CHECKING:
    from bullpen.app.workspace import Workspace

HINTS = 3  # closest names an unknown name's error suggests
HINT_CUTOFF = 0.5  # names less alike than this are not suggested


def member_named(ws: Workspace, text: str) -> dict[str, Any]:
    """The current member ``text`` names, or a one-line ValidationError."""
    wanted = " ".join(text.split())
    members = ws.members()
    matches = [m for m in members
               if m["peer_id"] == wanted or (len(wanted) >= 4 and m["peer_id"].endswith(wanted))
               or m["name"].lower() == wanted.lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(f"{m['name']} ({m['peer_id'][-6:]})" for m in matches)
        raise ValidationError(f"{wanted!r} names {len(matches)} members: {ids}; give the id")
    closest = hint(wanted, [m["name"] for m in members])
    raise ValidationError(f"no member is called {wanted!r}{closest} (see `bullpen member list`)")


def hint(wanted: str, names: Iterable[str]) -> str:
    """'; closest: ...' for the names most like ``wanted`` (empty when none is close)."""
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(wanted.lower(), by_lower, HINTS, HINT_CUTOFF)
    return f"; closest: {', '.join(repr(by_lower[c]) for c in close)}" if close else ""
