"""The torture run's checks, read from each member's own profile: equal state digests, every
confirmed write present, nothing refused between members, memory, and idle behaviour.

A ``Probe`` opens a member's profile in this process (as ``bullpen status`` does beside a
running node) so that convergence can be polled every 100 ms and the heal time measured to
that precision; the final digests are also read with ``bullpen status --json``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bullpen.app.sales import use_cases as sales
from bullpen.app.workspace import Workspace, WorkspaceError

from .cluster import env
from .ledger import Write

T = TypeVar("T")
REFUSAL = re.compile(r"refused change|refuses our changes|not synced with this peer|"
                     r"protocol violation|unknown actor|may not change", re.I)
# a refusal for its author's role (app/members/authz.py, app/members/access.py), naming the author
ROLE_REFUSAL = re.compile(r"(?:may not|may only|only managers).* \(by (\w{6})\)$|"
                          r"^refused change to \S+: change by (\w{6}), who is not a member$")
HELD = re.compile(r"peer (\w{6}): (refused change to (\S+?): .*?); that document is not synced")
TOLD = re.compile(r"peer \w{6} refuses our changes to (\S+?): (.*)$")


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.1) -> T | None:
    """The predicate's first truthy value within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value or None
        time.sleep(interval)


class Probe:
    """A member's profile opened read-mostly in this process."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.ws = Workspace.open(home, passphrase=env()["BULLPEN_PASSPHRASE"])

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ws.close()

    def digest(self) -> str:
        return self.ws.digest()

    def heads(self) -> dict[str, str]:
        with self.ws.lock:
            self.ws.refresh()
            return {d: hashlib.sha256(self.ws.heads_hex(d).encode()).hexdigest()[:12]
                    for d in self.ws.doc_ids()}


def check_write(ws: Workspace, w: Write) -> str | None:
    """What this profile lacks of one confirmed write, or None."""
    try:
        if w.what == "member":
            roles = {m["peer_id"]: m["role"] for m in ws.members()}
            have = roles.get(w.target, "")
            return None if have == w.value else f"role {have or 'none'}, expected " \
                                                f"{w.value or 'removed'}"
        if w.what == "setting":
            return None if w.target in settings(ws, w.name) else f"no {w.name} entry"
        record = ws.get(w.target, include_deleted=True)
        if w.what == "deleted":
            return None if record["deleted"] else "not deleted"
        if w.what == "blob":
            return None if ws.blobs.has(record["sha256"]) else "file content missing"
        if w.what == "text":
            return None if w.value in ws.document(w.target)["text"] else "text lacks the edit"
        if record.get(w.name) == w.value or any(
                e.fields.get(w.name, (None, None))[1] == w.value for e in ws.history(w.target)):
            return None
        return f"{w.name}={w.value!r} neither current ({record.get(w.name)!r}) nor in history"
    except WorkspaceError as exc:
        return str(exc)


def settings(ws: Workspace, name: str) -> dict[str, Any]:
    """A quota/rate/snapshot map as the app reads it, by the key the ledger uses."""
    if name == sales.QUOTAS:
        return {f"{owner}|{label}": v for (owner, label), v in sales.quotas(ws).items()}
    if name == sales.RATES:
        return dict(sales.rates(ws))
    return {f"{s.get('period')}|{s.get('week')}": s for s in sales.snapshots(ws)}


def missing_writes(probe: Probe, writes: Iterable[Write]) -> list[tuple[Write, str]]:
    """Each confirmed write this member lacks, with a line saying what and why."""
    with probe.ws.lock:
        probe.ws.refresh()
    return [(w, f"{w.what} {w.target[:24]} ({w.name or w.command}) by {w.node} in round {w.round}:"
            f" {why}") for w in writes if (why := check_write(probe.ws, w))]


def settings_conflicts(probe: Probe, writes: Sequence[Write]) -> list[str]:
    """A settings entry whose value is none of the values confirmed for it."""
    out = []
    for w in writes:
        if w.what != "setting" or w.value is None:
            continue
        allowed = {x.value for x in writes
                   if x.what == "setting" and x.name == w.name and x.target == w.target}
        value = settings(probe.ws, w.name).get(w.target)
        if value is not None and float(value) not in allowed:
            out.append(f"{w.name}[{w.target}] = {value}, none of the confirmed {sorted(allowed)}")
    return sorted(set(out))


def diverged_docs(heads: dict[str, dict[str, str]]) -> dict[str, str]:
    """Per document whose heads differ between members: which members hold which heads."""
    lines = {}
    for doc in sorted({d for h in heads.values() for d in h}):
        groups: dict[str, list[str]] = {}
        for member, docs in heads.items():
            groups.setdefault(docs.get(doc, "(missing)"), []).append(member)
        if len(groups) > 1:
            lines[doc] = "; ".join(f"{h} on {', '.join(m)}" for h, m in sorted(groups.items()))
    return lines


def named(text: str, names: dict[str, str]) -> str:
    """``text`` with every peer's short id (last 6 characters) replaced by its name."""
    for peer_id, name in names.items():
        text = text.replace(peer_id[-6:], name)
    return text


@dataclass
class Settled:
    """Which refusals a run may leave behind (docs/SECURITY.md, "Removed and demoted
    members"): a change refused for its author's role while it arrived alone (before the
    marker of a member who accepted it in time), when the author stood demoted or removed at
    that moment (to the log's second), is fine when its sender is a current member (who holds
    it, having sent it) and the document is equal on every member at the check, so that every
    member holds it now. Anything else stays a failure: a refusal of a change by a member who
    was a manager (or never demoted or removed) when it was refused, for any other reason (a
    signature, a protocol violation), from a removed member, or in a document that still
    differs."""

    former: dict[str, list[tuple[float, bool]]]  # short id -> (when, demoted or removed
    # from then on) for each of its role changes and removals, in order
    members: set[str]  # short ids of current members
    converged: set[str]  # documents equal on every member
    excused: dict[str, int] = field(default_factory=dict)  # (doc, author) -> lines excused

    def excuses(self, sender: str, doc: str, reason: str, at: float) -> bool:
        """Is a refusal (``at``: when, to the second) one the rule allows?"""
        author = ROLE_REFUSAL.search(reason)
        if not (author and sender in self.members and doc in self.converged):
            return False
        who = author.group(1) or author.group(2)
        demoted = [former for when, former in self.former.get(who, ()) if when <= at + 1]
        if not (demoted and demoted[-1]):  # the author's standing when it was refused
            return False
        key = f"{doc} ({who})"
        self.excused[key] = self.excused.get(key, 0) + 1
        return True


def line_time(line: str, now: float) -> float:
    """When a serve log line (``HH:MM:SS ...``, local time) was written: the latest such
    moment not after ``now`` (a run lasts less than a day)."""
    hour, minute, second = (int(x) for x in line[:8].split(":"))
    day = datetime.datetime.fromtimestamp(now)
    at = day.replace(hour=hour, minute=minute, second=second, microsecond=0).timestamp()
    return at - 86400 if at > now + 1 else at


def refusals_in_status(status: dict[str, Any], own: str, names: dict[str, str],
                       former: dict[str, str], settled: Settled) -> list[str]:
    """What ``status --json`` of member ``own`` (short id) says it holds back from which
    member, and what a member told it that it refuses of its changes (short ids of ``former``
    members named); those ``settled`` excuses are left out."""
    peers = [p for p in status.get("peers", []) if p["peer_id"] in names]
    return [named(f"{verb} {doc} {side} {names[p['peer_id']]}: {why}", {**names, **former})
            for p in peers
            for key, verb, side in (("refused", "holds back", "from"),
                                    ("held_by_peer", "is refused", "by"))
            for doc, why in (p.get(key) or {}).items()
            if not settled.excuses(p["peer_id"][-6:] if key == "refused" else own, doc, why,
                                   time.time())]


def refusals_in_logs(logs: Iterable[Path], own: str, names: dict[str, str],
                     former: dict[str, str], settled: Settled, limit: int = 5) -> list[str]:
    """Refusal lines of member ``own``'s serve logs that concern a member (by short id),
    but those ``settled`` excuses; short ids of members and ``former`` members are replaced
    by their names."""
    shorts = [pid[-6:] for pid in names]
    found: dict[str, int] = {}
    now = time.time()
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            if not (REFUSAL.search(line) and any(s in line for s in shorts)):
                continue
            held, told = HELD.search(line), TOLD.search(line)
            if held and settled.excuses(held[1], held[3], held[2], line_time(line, now)):
                continue
            if told and settled.excuses(own, told[1], told[2], line_time(line, now)):
                continue
            text = named(re.sub(r"^\S+ \S+ ", "", line), {**names, **former})  # no time
            found[text] = found.get(text, 0) + 1
    return [f"{text} (x{n})" for text, n in list(found.items())[:limit]]


def parse_status(stdout: str) -> dict[str, Any]:
    try:
        return json.loads(stdout)
    except ValueError:
        return {}
