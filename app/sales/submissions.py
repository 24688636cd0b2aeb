"""The forecast call: reps submit their number for a period, managers adjust it, and the
roll-up shows submitted, adjusted and computed figures side by side, and who has not submitted.

As in Salesforce's forecast adjustments, a manager's adjustment never changes the rep's own
number: submissions and adjustments are separate records of the ``forecasts`` document, each
kept with who made it and when, and never changed once written (every peer refuses a change
to one: app/members/office_rules.py). A resubmission or a second adjustment is a new record;
the latest counts and the earlier ones stay as the history. Amounts are in the workspace's
base currency, like quotas. The computed figures are the pipeline's own (the roll-up of
``forecast.py``), so a call shows how far the reps' judgement is from their deals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bullpen.app.members.authz import NotAllowed, require_manager
from bullpen.app.members.lookup import member_named
from bullpen.app.sales import use_cases as sales
from bullpen.app.workspace import Workspace
from bullpen.crdt.schema import FORECAST_ADJUSTMENT, FORECAST_SUBMISSION, ValidationError
from bullpen.crdt.validation import validate

SUBMISSION, ADJUSTMENT = FORECAST_SUBMISSION.name, FORECAST_ADJUSTMENT.name
FIGURES = ("commit", "best_case")


@dataclass
class Call:
    """One number of the call: a submission or an adjustment, with who and when."""

    commit: float
    best_case: float
    by: str  # a name
    at: str
    comment: str = ""
    versions: int = 1  # how many were made; the latest counts


@dataclass
class CallRow:
    """A rep's (or a team's, or everyone's) line of the call. ``final`` is what counts: the
    adjustment when there is one, else the submission (for a team, the sum of its reps')."""

    key: str  # the rep's or team manager's name, or "(total)"
    peer_id: str | None
    submitted: Call | None
    adjusted: Call | None
    computed: dict[str, float | None]
    final: dict[str, float] | None
    reps: list[str] = field(default_factory=list)  # a team's reps, by name


def _role_may_submit(ws: Workspace) -> None:
    role = ws.role()
    if role not in ("rep", "manager"):
        raise NotAllowed(f"only reps and managers submit a forecast (you are a "
                         f"{role or 'non-member'})")


def submit(ws: Workspace, commit: Any, best_case: Any, comment: str = "",
           period: str | None = None) -> dict[str, Any]:
    """Submit this user's own forecast for a period (default: this quarter); returns it.
    A resubmission is a new version: the earlier ones stay."""
    _role_may_submit(ws)
    values = _figures(commit, best_case, comment, period)
    rid = ws.add(SUBMISSION, {**values, "rep": ws.peer_id})
    return ws.get(rid)


def adjust(ws: Workspace, who: str, commit: Any, best_case: Any, comment: str = "",
           period: str | None = None, *, team: bool = False) -> dict[str, Any]:
    """A manager's adjustment of a rep's number (``team``: of the team a manager leads, named
    by that manager); the rep's own submission is unchanged. Returns the adjustment."""
    require_manager(ws.role(), "adjust a forecast")
    member = member_named(ws, who)
    if team and member["role"] != "manager":
        raise ValidationError(f"{member['name']} leads no team (name the team's manager)")
    if not team and member["role"] == "guest":
        raise ValidationError(f"{member['name']} is a guest and has no forecast")
    values = _figures(commit, best_case, comment, period)
    rid = ws.add(ADJUSTMENT, {**values, "scope": "team" if team else "rep",
                              "target": member["peer_id"]})
    return ws.get(rid)


def _figures(commit: Any, best_case: Any, comment: str, period: str | None) -> dict[str, Any]:
    values = validate(SUBMISSION, {"period": sales.period_of(period).label, "commit": commit,
                                   "best_case": best_case, "comment": comment or ""},
                      partial=True)
    if values["best_case"] < values["commit"]:
        raise ValidationError("best case includes commit: it must be at least the commit")
    return values


def history(ws: Workspace, period: str | None = None) -> list[dict[str, Any]]:
    """Every submission and adjustment of a period, oldest first, with names."""
    label = sales.period_of(period).label
    names = sales.author_names(ws)
    out = []
    for kind in (SUBMISSION, ADJUSTMENT):
        for record in ws.list(kind):
            if record.get("period") == label:
                named = sales.with_names(record, names)
                for key in ("rep", "target"):
                    if named.get(key):
                        named[key] = names.get(named[key], named[key])
                out.append(named)
    return sorted(out, key=lambda r: (r.get("created_at") or "", r["id"]))


def _latest(records: Iterable[Mapping[str, Any]], key: str,
            names: Mapping[str, str]) -> dict[str, Call]:
    """The latest record per ``key`` value (a rep, a team), as a Call counting versions."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        found.setdefault(str(record.get(key)), []).append(record)
    out = {}
    for target, items in found.items():
        last = max(items, key=lambda r: (r.get("created_at") or "", r["id"]))
        author = last.get("created_by") or ""
        out[target] = Call(float(last.get("commit") or 0), float(last.get("best_case") or 0),
                           names.get(author, author), last.get("created_at") or "",
                           last.get("comment") or "", len(items))
    return out


def status(ws: Workspace, period: str | None = None) -> dict[str, Any]:
    """The call for a period: a line per rep, per team and in total, each with submitted,
    adjusted, computed and final commit and best case, the reps who have not submitted, and
    every submission and adjustment made (``history``)."""
    span = sales.period_of(period)
    names = sales.author_names(ws)
    records = [r for kind in (SUBMISSION, ADJUSTMENT) for r in ws.list(kind)
               if r.get("period") == span.label]
    submitted = _latest([r for r in records if r["kind"] == SUBMISSION
                         and r.get("rep") == r.get("created_by")], "rep", names)
    adjusted = _latest([r for r in records if r["kind"] == ADJUSTMENT
                        and r.get("scope") == "rep"], "target", names)
    team_adjusted = _latest([r for r in records if r["kind"] == ADJUSTMENT
                             and r.get("scope") == "team"], "target", names)
    by_owner = sales.forecast(ws, span.label, "owner", auto_snapshot=False)
    by_team = sales.forecast(ws, span.label, "team", auto_snapshot=False)
    members = ws.members()
    callers = [m for m in members if m["role"] == "rep" or m["peer_id"] in submitted]
    reps = [_row(m["name"], m["peer_id"], submitted, adjusted, by_owner) for m in callers]
    teams = [_team_row(m, reps, team_adjusted, by_team, sales.teams(ws).get(m["name"], []))
             for m in members if m["role"] == "manager"]
    total = _sum_row("(total)", None, reps, None, _computed(by_owner.total))
    if any(t.adjusted for t in teams):  # a team's adjusted number replaces its reps' sum
        in_teams = {name for t in teams for name in t.reps}
        parts = ([t.final for t in teams if t.final]
                 + [r.final for r in reps if r.final and r.key not in in_teams])
        total.final = {f: sum(p[f] for p in parts) for f in FIGURES}
    return {
        "period": span.label, "currency": ws.currency,
        "reps": [asdict(r) for r in reps], "teams": [asdict(t) for t in teams],
        "total": asdict(total),
        "not_submitted": [r.key for r in reps if r.submitted is None],
        "history": history(ws, span.label),
    }  # fmt: skip


def _computed(row: Any) -> dict[str, float | None]:
    figures = row.amounts if row is not None else None
    return {f: (getattr(figures, f) if figures is not None else None) for f in FIGURES}


def _forecast_row(result: Any, key: str) -> Any:
    try:
        return result.row(key)
    except KeyError:
        return None


def _row(name: str, peer_id: str, submitted: Mapping[str, Call], adjusted: Mapping[str, Call],
         by_owner: Any) -> CallRow:
    sub, adj = submitted.get(peer_id), adjusted.get(peer_id)
    best = adj or sub
    final = {f: getattr(best, f) for f in FIGURES} if best else None
    found = _forecast_row(by_owner, name)  # None: no deals in the period
    computed = _computed(found) if found is not None else {f: 0.0 for f in FIGURES}
    return CallRow(name, peer_id, sub, adj, computed, final)


def _sum_row(key: str, peer_id: str | None, rows: list[CallRow], adjusted: Call | None,
             computed: dict[str, float | None], reps: list[str] | None = None) -> CallRow:
    """A team's or everyone's line: the sums of its reps' submitted and final numbers, unless
    a manager adjusted the team's number (then that is final)."""
    subs = [r.submitted for r in rows if r.submitted is not None]
    submitted = None
    if subs:
        submitted = Call(sum(s.commit for s in subs), sum(s.best_case for s in subs), "",
                         max(s.at for s in subs), versions=len(subs))
    finals = [r.final for r in rows if r.final is not None]
    final = ({f: getattr(adjusted, f) for f in FIGURES} if adjusted else
             {f: sum(x[f] for x in finals) for f in FIGURES} if finals else None)
    return CallRow(key, peer_id, submitted, adjusted, computed, final, reps or [])


def _team_row(manager: Mapping[str, Any], reps: list[CallRow], team_adjusted: Mapping[str, Call],
              by_team: Any, team: list[str]) -> CallRow:
    members = [r for r in reps if r.key in team]
    return _sum_row(manager["name"], manager["peer_id"], members,
                    team_adjusted.get(manager["peer_id"]),
                    _computed(_forecast_row(by_team, manager["name"])), list(team))
