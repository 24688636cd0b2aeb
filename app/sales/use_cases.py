"""Sales use cases over a workspace: forecast, quotas, exchange rates, snapshots, recognition.

The arithmetic lives in the pure modules (``forecast``, ``leaderboard``, ``periods``); this
module only gathers their inputs from the workspace (opportunities, the member list as teams,
quotas and rates from the admin document's settings) and writes back what must be shared.
Quotas, rates and weekly snapshots are settings *maps* of the ``admin`` document, which only
managers write (every peer refuses anyone else's change to it), merged per key, so two managers
setting different quotas offline both keep theirs, and every member sees the same snapshots
after sync. The maps exist from the document's genesis: no change ever needs to create them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from bullpen.app.members.authz import require_manager
from bullpen.app.members.lookup import hint, member_named
from bullpen.app.sales import forecast as fc
from bullpen.app.sales.leaderboard import Standing, leaderboard
from bullpen.app.sales.periods import Period, current_period, parse_period
from bullpen.app.workspace import Workspace, now_iso
from bullpen.crdt.checks import MAX_AMOUNT, currency
from bullpen.crdt.schema import ADMIN_DOC, ADMIN_MAPS, ValidationError, kind_spec

PIPELINE_DOC = kind_spec("opportunity").collection
# quotas: "OWNER|PERIOD" -> amount in the base currency; rates: "CUR" -> value of one CUR in
# the base currency; snapshots: "PERIOD|ISO-WEEK" -> JSON snapshot
QUOTAS, RATES, SNAPSHOTS = ADMIN_MAPS
SNAPSHOT_BY = "owner"  # snapshots keep the finest grouping; the total rides along
KUDOS_KINDS = ("post", "resource", "document")
LEGACY_ADOPTED = "legacy_adopted"  # admin setting: the pipeline's old maps were copied over


# ----- names ---------------------------------------------------------------------------------


def author_names(ws: Workspace) -> dict[str, str]:
    """Peer id -> name for everyone who ever was a member, current names winning.

    Records keep their author's peer id forever; when a rep leaves, the verified member list no
    longer has them, but the membership log still holds the entry that added them (with their
    name), so their deals and posts still say who wrote them.
    """
    names: dict[str, tuple[str, str]] = {}  # peer id -> (at, name): the latest name wins
    for text in ws.membership_log().values():
        try:
            payload = json.loads(text)["payload"]
            subject, name, at = payload["subject"], payload.get("name"), payload.get("at", "")
        except (ValueError, KeyError, TypeError):
            continue  # a malformed entry names nobody; replay reports it elsewhere
        if isinstance(name, str) and name and at >= names.get(subject, ("", ""))[0]:
            names[subject] = (at, name)
    out = {peer: name for peer, (_, name) in names.items()}
    out.update(ws.member_names())
    return out


def teams(ws: Workspace) -> dict[str, list[str]]:
    """Manager name -> names of the reps they manage (from the verified member list)."""
    members = ws.members()
    name_of = {m["peer_id"]: m["name"] for m in members}
    out: dict[str, list[str]] = {m["name"]: [] for m in members if m["role"] == "manager"}
    for m in members:
        manager = name_of.get(m.get("manager") or "")
        if manager and m["peer_id"] != m.get("manager"):
            out.setdefault(manager, []).append(m["name"])
    return out


# ----- parsing user input ---------------------------------------------------------------------


def period_of(text: str | None, today: dt.date | None = None) -> Period:
    """A period from user text; the current quarter when none is given."""
    if not text:
        return current_period("quarter", today)
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _amount(text: Any, what: str, *, positive: bool = False) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        sign = "positive" if positive else "non-negative"
        raise ValidationError(f"{what}: {text!r} must be a {sign} number")
    if value > MAX_AMOUNT:
        raise ValidationError(f"{what}: {text!r} must be at most {MAX_AMOUNT:g}")
    return value


def _currency(text: str) -> str:
    return currency(text)


# ----- quotas and rates -------------------------------------------------------------------------


def _settings_map(ws: Workspace, name: str) -> dict[str, Any]:
    return dict(ws.setting(name, ADMIN_DOC) or {})


def _set_entry(ws: Workspace, name: str, key: str, value: Any, what: str) -> None:
    require_manager(ws.role(), what)
    _adopt_legacy(ws)
    ws.set_setting_entry(ADMIN_DOC, name, key, value)


def _adopt_legacy(ws: Workspace) -> None:
    """Copy quotas, rates and snapshots from where releases before the admin document kept
    them (settings maps of the pipeline, which any member could write) into the admin
    document, once, on the first manager's write: the manager's own machine held them."""
    if ws.setting(LEGACY_ADOPTED, ADMIN_DOC):
        return
    for name in ADMIN_MAPS:
        current = _settings_map(ws, name)
        for key, value in (ws.setting(name, PIPELINE_DOC) or {}).items():
            if key not in current and value is not None:
                ws.set_setting_entry(ADMIN_DOC, name, key, value)
    ws.set_setting(ADMIN_DOC, LEGACY_ADOPTED, True)


def set_quota(ws: Workspace, owner: str, period: str, amount: Any) -> str:
    """Store one owner's quota for a period (base currency), keyed by the owner's name as the
    forecast groups deals; returns the settings key."""
    require_manager(ws.role(), "set quotas")  # a rep learns that before any typo of theirs
    key = f"{quota_owner(ws, owner)}|{period_of(period).label}"
    _set_entry(ws, QUOTAS, key, _amount(amount, "quota"), "set quotas")
    return key


def remove_quota(ws: Workspace, owner: str, period: str) -> str:
    """Remove one owner's quota for a period; returns the settings key."""
    require_manager(ws.role(), "remove quotas")
    label = period_of(period).label
    wanted = " ".join(owner.split()).lower()
    keys = [f"{o}|{p}" for o, p in quotas(ws) if p == label and o.lower() == wanted]
    if not keys:
        raise ValidationError(f"no quota of {owner!r} for {label} (see `bullpen quota list`)")
    _set_entry(ws, QUOTAS, keys[0], None, "remove quotas")
    return keys[0]


def quota_owner(ws: Workspace, text: str) -> str:
    """The name a quota is kept under: a current member's (any way ``member_named`` takes
    it), or, as the forecast shows them, a deal owner who is no member (imported, or a former
    member) or a name that already has a quota."""
    wanted = " ".join(text.split())
    others = {o.get("owner") for o in ws.list("opportunity")} | {o for o, _ in quotas(ws)}
    by_lower = {o.lower(): o for o in others if isinstance(o, str) and o}
    members = {m["name"].lower() for m in ws.members()}
    if wanted.lower() in by_lower and wanted.lower() not in members:
        return by_lower[wanted.lower()]
    try:
        return member_named(ws, wanted)["name"]
    except ValidationError:
        names = [m["name"] for m in ws.members()] + list(by_lower.values())
        raise ValidationError(f"no member or deal owner is called {wanted!r}"
                              f"{hint(wanted, names)} (see `bullpen member list`)") from None


def quotas(ws: Workspace) -> dict[tuple[str, str], float]:
    """(owner, period label) -> quota, as ``forecast.rollup`` takes them."""
    out: dict[tuple[str, str], float] = {}
    for key, value in _settings_map(ws, QUOTAS).items():
        owner, sep, label = key.rpartition("|")
        if sep and value is not None:
            out[(owner, label)] = float(value)
    return out


def set_rate(ws: Workspace, currency: str, rate: Any) -> str:
    """Store the value of one unit of ``currency`` in the workspace's base currency."""
    code = _currency(currency)
    if code == ws.currency:
        raise ValidationError(f"{code} is the base currency; its rate is always 1")
    _set_entry(ws, RATES, code, _amount(rate, f"rate for {code}", positive=True),
               "set exchange rates")
    return code


def rates(ws: Workspace) -> dict[str, float]:
    return {k: float(v) for k, v in _settings_map(ws, RATES).items() if v is not None}


# ----- forecast -----------------------------------------------------------------------------------


def _opportunities(ws: Workspace, span: Period) -> list[dict[str, Any]]:
    """Only the period's deals are decoded (the index filters on close date)."""
    return ws.list("opportunity", close_from=span.start_iso, close_to=span.end_iso)


def forecast(
    ws: Workspace,
    period: str | None = None,
    by: str = "owner",
    *,
    now: str | None = None,
    auto_snapshot: bool = True,
) -> fc.Forecast:
    """The forecast for a period (default: this quarter), grouped by owner, team or stage.

    The first forecast of a period a manager runs in a new ISO week also stores that week's
    snapshot, so the week-over-week history fills itself in as managers look at the numbers
    (only managers write snapshots: a rep's forecast stores nothing).
    """
    if by not in fc.GROUPINGS:
        raise ValidationError(f"--by {by!r}: use one of {', '.join(fc.GROUPINGS)}")
    span = period_of(period, _day(now))
    opps = _opportunities(ws, span)
    result = _rollup(ws, opps, span, by)
    if (auto_snapshot and ws.role() == "manager"
            and fc.snapshot_due(last_snapshot_at(ws, span.label), now or now_iso())):
        owner_view = result if by == SNAPSHOT_BY else _rollup(ws, opps, span, SNAPSHOT_BY)
        _store_snapshot(ws, owner_view, now)
    return result


def _day(now: str | None) -> dt.date | None:
    return dt.date.fromisoformat(now[:10]) if now else None


def _rollup(ws: Workspace, opps: list[dict[str, Any]], span: Period, by: str) -> fc.Forecast:
    return fc.rollup(
        opps,
        span,
        by=by,
        quotas=quotas(ws),
        rates=rates(ws),
        base_currency=ws.currency,
        teams=teams(ws),
        stages=ws.stages(),
    )


def drill(
    ws: Workspace,
    target: str | None,
    column: str = "pipeline",
    period: str | None = None,
    by: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """(grouping used, opportunities behind one number): an owner's or a team's column.

    ``by`` defaults to "owner" when ``target`` owns deals in the period, else "team" when it
    names a manager, so ``--drill Dana`` does what the user meant without a second flag. A
    target that owns no deal and names no team must name a member (a typo is an error, not an
    empty list).
    """
    if column not in fc.COLUMNS:
        raise ValidationError(f"--column {column!r}: use one of {', '.join(fc.COLUMNS)}")
    span = period_of(period)
    opps = _opportunities(ws, span)
    team_map = teams(ws)
    owners = {o.get("owner") for o in opps if span.contains(o.get("close_date"))}
    if (by in (None, "owner", "team") and target not in (None, fc.TOTAL)
            and target not in owners and target not in team_map):
        target = member_named(ws, target)["name"]
    if by is None:
        by = "team" if target in team_map and target not in owners else "owner"
    if by not in fc.GROUPINGS:
        raise ValidationError(f"--by {by!r}: use one of {', '.join(fc.GROUPINGS)}")
    picked = fc.drilldown(
        opps, span, target, by=by, column=column, teams=team_map, stages=ws.stages()
    )
    return by, [dict(o) for o in picked]


# ----- snapshots ----------------------------------------------------------------------------------


def snapshots(ws: Workspace, period: str | None = None) -> list[dict[str, Any]]:
    """Stored snapshots (of one period when given), oldest first; unreadable ones skipped."""
    prefix = f"{period_of(period).label}|" if period else ""
    out = []
    for key, text in _settings_map(ws, SNAPSHOTS).items():
        if not key.startswith(prefix) or not isinstance(text, str):
            continue
        try:
            out.append(json.loads(text))
        except ValueError:
            continue
    return sorted(out, key=lambda s: s.get("taken_at", ""))


def last_snapshot_at(ws: Workspace, label: str) -> str | None:
    found = snapshots(ws, label)
    return found[-1]["taken_at"] if found else None


def take_snapshot(ws: Workspace, period: str | None = None, *, now: str | None = None) -> str:
    """Store this week's snapshot of a period's forecast now (replacing this week's earlier
    one); returns its key."""
    span = period_of(period, _day(now))
    return _store_snapshot(ws, _rollup(ws, _opportunities(ws, span), span, SNAPSHOT_BY), now)


def _store_snapshot(ws: Workspace, result: fc.Forecast, now: str | None) -> str:
    snap = fc.snapshot(result, now or now_iso())
    key = f"{result.period}|{snap['week']}"
    _set_entry(ws, SNAPSHOTS, key, json.dumps(snap, separators=(",", ":")),
               "store forecast snapshots")
    return key


def forecast_history(ws: Workspace, period: str | None = None) -> list[dict[str, Any]]:
    """How the call moved, week over week (see ``forecast.history``)."""
    span = period_of(period)
    return fc.history(snapshots(ws, span.label), span)


# ----- recognition --------------------------------------------------------------------------------


def kudos(ws: Workspace, record_id: str, reaction: str = "helpful") -> dict[str, Any]:
    """React to a post, resource or document (one reaction per member, merged per key)."""
    reaction = reaction.strip().lower()
    if not reaction:
        raise ValidationError("reaction must not be empty")
    record = ws.get(record_id)
    if record["kind"] not in KUDOS_KINDS:
        raise ValidationError(
            f"{record_id} is not for kudos (it is: {record['kind']}); kudos go to "
            f"{', '.join(KUDOS_KINDS)}"
        )
    if record.get("created_by") == ws.peer_id:
        raise ValidationError("kudos are for colleagues' work, not your own")
    return ws.update(record["id"], {"reactions": {ws.peer_id: reaction}})


def standings(ws: Workspace, period: str | None = None) -> list[Standing]:
    """The knowledge-sharing leaderboard for a period (default: this quarter), by name."""
    span = period_of(period)
    names = author_names(ws)

    def named(kind: str) -> list[dict[str, Any]]:
        return [with_names(r, names) for r in ws.list(kind)]

    return leaderboard(named("post"), named("resource"), named("document"), span, names)


def with_names(record: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A record with its author fields, and an owner given as a peer id (an action item's),
    as names (unknown peer ids and names stay as they are): the pure modules and exports
    speak names, the records store peer ids."""
    out = dict(record)
    for key in ("created_by", "updated_by", "owner"):
        if out.get(key):
            out[key] = names.get(out[key], out[key])
    return out
