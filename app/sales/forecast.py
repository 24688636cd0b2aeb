"""Forecast roll-ups: what is won, committed, likely and open in a period, per owner/team/stage.

Pure functions over opportunity dicts (as the workspace stores them), so the same numbers come
out of the CLI, the UI and the tests. Money is never added across currencies unless every
currency involved has a conversion rate; otherwise each figure is reported per currency and the
result says which rates are missing, because a silently wrong total is worse than no total.

Column conventions (Salesforce style, cumulative):

* ``closed_won`` - deals whose stage is a won stage (``closed_won`` by default).
* ``commit``     - open deals in the ``commit`` forecast category.
* ``best_case``  - open deals in ``best_case`` **plus commit**: best case includes commit.
* ``pipeline``   - every open deal that is not ``omitted`` (so it includes best case/commit).
* ``weighted``   - amount x probability / 100 over the same open, non-omitted deals.
* ``count``      - every opportunity closing in the period, whatever its state.

An opportunity's forecast category is its own ``category`` field when set, else its stage's
default; likewise its probability. Whether a deal is open, won or lost is decided by its stage
alone, so a stale category cannot make a lost deal count as pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bullpen.app.sales.periods import Period, parse_period, week_label
from bullpen.crdt.schema import DEFAULT_STAGES, Stage

COLUMNS = ("closed_won", "commit", "best_case", "pipeline", "weighted", "count")
GROUPINGS = ("owner", "team", "stage")
UNASSIGNED = "unassigned"
TOTAL = "(total)"

# Indices into the per-currency accumulator list (same order as COLUMNS).
_WON, _COMMIT, _BEST, _PIPE, _WEIGHTED, _COUNT = range(6)


@dataclass
class Figures:
    """One set of forecast numbers, all in one currency."""

    closed_won: float = 0.0
    commit: float = 0.0
    best_case: float = 0.0
    pipeline: float = 0.0
    weighted: float = 0.0
    count: int = 0

    @classmethod
    def from_sums(cls, sums: Sequence[float], rate: float = 1.0) -> Figures:
        money = [round(value * rate, 2) for value in sums[:_COUNT]]
        return cls(*money, count=int(sums[_COUNT]))


@dataclass
class Row:
    """Figures for one group (or the total).

    ``amounts`` is in the base currency and is None when any currency in this group has no
    rate; ``currencies`` always holds the unconverted figures per original currency.
    ``quota`` and ``attainment`` (closed_won / quota) are set only where a quota exists, and
    attainment also needs converted amounts, since quotas are in the base currency.
    """

    key: str
    count: int
    amounts: Figures | None
    currencies: dict[str, Figures]
    quota: float | None = None
    attainment: float | None = None


@dataclass
class Forecast:
    period: str
    start: str
    end: str
    by: str
    base_currency: str
    converted: bool  # every figure was converted to base_currency
    missing_rates: list[str]
    rows: list[Row]
    total: Row

    def row(self, key: str) -> Row:
        """The row for one group key (TOTAL for the total); KeyError if absent."""
        if key == TOTAL:
            return self.total
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        """Plain dicts, lists and numbers: safe for json.dumps and for snapshots."""
        return asdict(self)


@dataclass(frozen=True)
class _Rules:
    """Stage table digested once per call so the per-record work is a few dict lookups."""

    won: frozenset[str]
    lost: frozenset[str]
    category: dict[str, str] = field(default_factory=dict)
    probability: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_stages(cls, stages: Iterable[Stage]) -> _Rules:
        stages = tuple(stages)
        won = {s.id for s in stages if s.category == "closed"} | {"closed_won"}
        lost = {s.id for s in stages if s.category == "omitted" and s.probability == 0}
        return cls(
            won=frozenset(won),
            lost=frozenset(lost | {"closed_lost"}),
            category={s.id: s.category for s in stages},
            probability={s.id: s.probability for s in stages},
        )

    def classify(self, opp: Mapping[str, Any]) -> tuple[float, float, bool, bool, bool, bool]:
        """(amount, weighted, won, commit, best_case, pipeline) for one opportunity."""
        stage = opp.get("stage")
        amount = float(opp.get("amount") or 0)
        if stage in self.won:
            return amount, 0.0, True, False, False, False
        if stage in self.lost:
            return amount, 0.0, False, False, False, False
        category = opp.get("category") or self.category.get(stage, "pipeline")
        if category == "omitted":
            return amount, 0.0, False, False, False, False
        probability = opp.get("probability")
        if probability is None:
            probability = self.probability.get(stage, 0)
        commit = category == "commit"
        best = commit or category == "best_case"
        return amount, amount * probability / 100, False, commit, best, True


def _owner_grouper(by: str, teams: Mapping[str, Sequence[str]] | None) -> Callable[[Any], str]:
    """Map an owner name to its group key for ``by`` = owner or team.

    A manager's own deals belong to their team even if someone else also lists them as a rep;
    a rep listed under several managers goes to the first manager in name order, so the answer
    does not depend on dict ordering that may differ between peers.
    """
    if by == "owner":
        return lambda owner: owner or UNASSIGNED
    manager_of: dict[str, str] = {}
    for manager in sorted(teams or {}):
        for rep in (teams or {})[manager]:
            manager_of.setdefault(rep, manager)
    for manager in teams or {}:
        manager_of[manager] = manager
    return lambda owner: manager_of.get(owner, UNASSIGNED)


def _grouper(by: str, teams: Mapping[str, Sequence[str]] | None) -> Callable[[Mapping], str]:
    if by not in GROUPINGS:
        raise ValueError(f"cannot group a forecast by {by!r} (one of: {', '.join(GROUPINGS)})")
    if by == "stage":
        return lambda opp: opp.get("stage") or UNASSIGNED
    of_owner = _owner_grouper(by, teams)
    return lambda opp: of_owner(opp.get("owner"))


def _currency(opp: Mapping[str, Any], base_currency: str) -> str:
    return (opp.get("currency") or base_currency).strip().upper()


def _in_period(opps: Iterable[Mapping[str, Any]], period: Period) -> Iterable[Mapping[str, Any]]:
    """Opportunities closing in the period; ISO dates compare correctly as text."""
    start, end = period.start_iso, period.end_iso
    for opp in opps:
        close = opp.get("close_date")
        if close and start <= close[:10] <= end:
            yield opp


def _quotas_by_group(
    quotas: Mapping[tuple[str, str], float], label: str, of_owner: Callable[[Any], str] | None
) -> tuple[dict[str, float], float | None]:
    """Sum individual quotas for the period into groups (a team's quota is its members')."""
    by_group: dict[str, float] = {}
    total: float | None = None
    for (owner, quota_period), amount in quotas.items():
        if quota_period != label:
            continue
        total = (total or 0.0) + float(amount)
        if of_owner is not None:
            key = of_owner(owner)
            by_group[key] = by_group.get(key, 0.0) + float(amount)
    return by_group, total


def _row(
    key: str,
    sums: dict[str, list[float]],
    rates: Mapping[str, float],
    base_currency: str,
    quota: float | None,
) -> Row:
    currencies = {cur: Figures.from_sums(values) for cur, values in sorted(sums.items())}
    count = sum(int(values[_COUNT]) for values in sums.values())
    amounts: Figures | None = None
    if all(cur == base_currency or cur in rates for cur in sums):
        converted = [0.0] * len(COLUMNS)
        for cur, values in sums.items():
            rate = 1.0 if cur == base_currency else float(rates[cur])
            for i in range(_COUNT):
                converted[i] += values[i] * rate
        converted[_COUNT] = count
        amounts = Figures.from_sums(converted)
    attainment = None
    if quota and amounts is not None:
        attainment = round(amounts.closed_won / quota, 4)
    return Row(key, count, amounts, currencies, quota, attainment)


def _sort_key(key: str) -> tuple[bool, str, str]:
    return (key == UNASSIGNED, key.casefold(), key)


def rollup(
    opps: Iterable[Mapping[str, Any]],
    period: str | Period,
    by: str = "owner",
    quotas: Mapping[tuple[str, str], float] | None = None,
    rates: Mapping[str, float] | None = None,
    base_currency: str = "USD",
    teams: Mapping[str, Sequence[str]] | None = None,
    stages: Iterable[Stage] = DEFAULT_STAGES,
) -> Forecast:
    """Roll up opportunities closing in ``period`` into per-group and total figures.

    ``quotas`` maps (owner, period label) to an amount in the base currency; a team's quota is
    the sum of its members' quotas. ``rates`` maps a currency to its value in the base
    currency (1 EUR = ``rates["EUR"]`` base). Groups with a quota but no deals still appear
    (attainment 0), as do managers whose teams have no deals, so nobody drops off the board.
    """
    span = parse_period(period)
    group_of = _grouper(by, teams)
    rules = _Rules.from_stages(stages)
    rates = {cur.strip().upper(): rate for cur, rate in (rates or {}).items()}
    base_currency = base_currency.strip().upper()

    groups: dict[str, dict[str, list[float]]] = {}
    total: dict[str, list[float]] = {}
    for opp in _in_period(opps, span):
        amount, weighted, won, commit, best, pipe = rules.classify(opp)
        cur = _currency(opp, base_currency)
        for bucket in (groups.setdefault(group_of(opp), {}), total):
            sums = bucket.get(cur)
            if sums is None:
                sums = bucket[cur] = [0.0, 0.0, 0.0, 0.0, 0.0, 0]
            if won:
                sums[_WON] += amount
            if commit:
                sums[_COMMIT] += amount
            if best:
                sums[_BEST] += amount
            if pipe:
                sums[_PIPE] += amount
                sums[_WEIGHTED] += weighted
            sums[_COUNT] += 1

    of_owner = None if by == "stage" else _owner_grouper(by, teams)
    group_quotas, total_quota = _quotas_by_group(quotas or {}, span.label, of_owner)
    for key in group_quotas:
        groups.setdefault(key, {})
    if by == "team":
        for manager in teams or {}:
            groups.setdefault(manager, {})

    rows = [
        _row(key, groups[key], rates, base_currency, group_quotas.get(key))
        for key in sorted(groups, key=_sort_key)
    ]
    missing = sorted(cur for cur in total if cur != base_currency and cur not in rates)
    return Forecast(
        period=span.label,
        start=span.start_iso,
        end=span.end_iso,
        by=by,
        base_currency=base_currency,
        converted=not missing,
        missing_rates=missing,
        rows=rows,
        total=_row(TOTAL, total, rates, base_currency, total_quota),
    )


def drilldown(
    opps: Iterable[Mapping[str, Any]],
    period: str | Period,
    group_key: str | None,
    by: str = "owner",
    column: str = "pipeline",
    teams: Mapping[str, Sequence[str]] | None = None,
    stages: Iterable[Stage] = DEFAULT_STAGES,
) -> list[Mapping[str, Any]]:
    """The opportunities behind one number of ``rollup`` (group_key None or TOTAL: all groups).

    Uses the same classification as the roll-up, so the list always adds up to the figure.
    ``weighted`` drills into the same deals as ``pipeline``. Sorted by close date, then largest
    amount first.
    """
    if column not in COLUMNS:
        raise ValueError(f"unknown forecast column {column!r} (one of: {', '.join(COLUMNS)})")
    span = parse_period(period)
    group_of = _grouper(by, teams)
    rules = _Rules.from_stages(stages)
    flag = {"closed_won": 2, "commit": 3, "best_case": 4, "pipeline": 5, "weighted": 5}.get(column)
    picked = [
        opp
        for opp in _in_period(opps, span)
        if (group_key in (None, TOTAL) or group_of(opp) == group_key)
        and (flag is None or rules.classify(opp)[flag])
    ]
    picked.sort(key=lambda o: (o.get("close_date") or "", -float(o.get("amount") or 0)))
    return picked


# --- weekly snapshots -------------------------------------------------------------------------


def _iso(moment: str | dt.datetime | dt.date) -> str:
    return moment if isinstance(moment, str) else moment.isoformat()


def snapshot(forecast: Forecast, taken_at: str | dt.datetime) -> dict[str, Any]:
    """A JSON-able record of a forecast at a moment, tagged with its ISO week for history."""
    taken = _iso(taken_at)
    return {"taken_at": taken, "week": week_label(taken), **forecast.to_json()}


def snapshot_due(last_taken_at: str | dt.datetime | None, now: str | dt.datetime) -> bool:
    """True when no snapshot exists yet for the ISO week containing ``now``.

    Calendar weeks rather than "seven days since" keep one snapshot per week even when the app
    was closed for a while, which is what the week-over-week history is keyed on.
    """
    if last_taken_at is None:
        return True
    return week_label(_iso(now)) > week_label(_iso(last_taken_at))


def _flat(row: Mapping[str, Any]) -> dict[str, float]:
    """Row figures as one flat dict; unconvertible rows keep per-currency keys ("commit EUR")."""
    amounts = row.get("amounts")
    if amounts is not None:
        flat = {col: amounts[col] for col in COLUMNS}
    else:
        flat = {"count": row["count"]}
        for cur, figures in row["currencies"].items():
            flat.update({f"{col} {cur}": figures[col] for col in COLUMNS if col != "count"})
    if row.get("quota") is not None:
        flat["quota"] = row["quota"]
    if row.get("attainment") is not None:
        flat["attainment"] = row["attainment"]
    return flat


def history(snapshots: Iterable[Mapping[str, Any]], period: str | Period) -> list[dict[str, Any]]:
    """Week-over-week movement of every figure for one period's forecast.

    Keeps the latest snapshot of each ISO week. Returns one row per (week, group), the total
    under ``TOTAL``: ``{"week", "taken_at", "group", "figures", "changes"}`` where ``changes``
    is the difference from the previous week's snapshot (a group absent then counts as zero)
    and None in the first week.
    """
    label = parse_period(period).label
    latest: dict[str, Mapping[str, Any]] = {}
    for snap in snapshots:
        if snap.get("period") != label:
            continue
        week = snap.get("week") or week_label(snap["taken_at"])
        if week not in latest or snap["taken_at"] > latest[week]["taken_at"]:
            latest[week] = snap

    out: list[dict[str, Any]] = []
    previous: dict[str, dict[str, float]] | None = None
    for week in sorted(latest):
        snap = latest[week]
        current = {row["key"]: _flat(row) for row in snap["rows"]}
        current[TOTAL] = _flat(snap["total"])
        for group, figures in current.items():
            changes = None
            if previous is not None:
                before = previous.get(group, {})
                changes = {k: round(v - before.get(k, 0), 4) for k, v in figures.items()}
            out.append(
                {
                    "week": week,
                    "taken_at": snap["taken_at"],
                    "group": group,
                    "figures": figures,
                    "changes": changes,
                }
            )
        previous = current
    return out
