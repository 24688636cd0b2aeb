"""Forecast roll-ups with hand-checked numbers, drill-downs, snapshots and the speed budget."""

from __future__ import annotations

import importlib.util
import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bullpen.app.sales.forecast import (
    COLUMNS,
    TOTAL,
    Figures,
    drilldown,
    history,
    rollup,
    snapshot,
    snapshot_due,
)
from bullpen.crdt.schema import DEFAULT_STAGES

Q4 = "2026-Q4"
TEAMS = {"Carol": ["Alice", "Bob"]}
QUOTAS = {
    ("Alice", Q4): 40_000,
    ("Bob", Q4): 20_000,
    ("Erin", Q4): 10_000,
    ("Alice", "2026-Q3"): 999,
}
RATES = {"EUR": 1.1, "GBP": 1.25}


def opp(id_, owner, stage, amount, close, currency="USD", **extra):
    stage_spec = next(s for s in DEFAULT_STAGES if s.id == stage)
    record = {
        "id": id_,
        "account": "Acme",
        "title": f"Deal {id_}",
        "owner": owner,
        "stage": stage,
        "amount": amount,
        "currency": currency,
        "probability": stage_spec.probability,
        "category": stage_spec.category,
        "close_date": close,
        "created_at": "2026-09-01T09:00:00+00:00",
        "created_by": owner,
        "updated_at": "2026-09-01T09:00:00+00:00",
        "updated_by": owner,
    }
    record.update(extra)
    return record


OPPS = [
    opp("o1", "Alice", "closed_won", 10_000, "2026-10-01"),  # first day of the quarter
    opp("o2", "Alice", "negotiation", 20_000, "2026-12-31"),  # last day, commit at 90%
    opp("o3", "Alice", "proposal", 8_000, "2026-11-15"),  # best case at 75%
    opp("o4", "Bob", "prospecting", 5_000, "2026-11-01"),  # pipeline at 10%
    opp("o5", "Bob", "closed_lost", 7_000, "2026-11-02"),
    opp("o6", "Bob", "proposal", 3_000, "2026-11-03", category="omitted"),
    opp("o7", "Carol", "closed_won", 4_000, "2026-12-01", currency="EUR"),
    opp("o8", "Dave", "negotiation", 1_000, "2026-11-20", currency="GBP", probability=50),
    opp("o9", "Alice", "closed_won", 99_999, "2026-09-30"),  # day before: out
    opp("o10", "Bob", "negotiation", 99_999, "2027-01-01"),  # day after: out
]


def figs(closed_won=0, commit=0, best_case=0, pipeline=0, weighted=0, count=0):
    return Figures(closed_won, commit, best_case, pipeline, weighted, count)


def test_by_owner_converted_with_quota_attainment():
    fc = rollup(OPPS, Q4, by="owner", quotas=QUOTAS, rates=RATES, base_currency="USD")
    assert fc.converted is True
    assert fc.missing_rates == []
    assert (fc.period, fc.start, fc.end) == ("2026-Q4", "2026-10-01", "2026-12-31")
    assert [r.key for r in fc.rows] == ["Alice", "Bob", "Carol", "Dave", "Erin"]

    alice = fc.row("Alice")
    assert alice.amounts == figs(10_000, 20_000, 28_000, 28_000, 24_000, 3)
    assert (alice.quota, alice.attainment) == (40_000, 0.25)

    bob = fc.row("Bob")  # lost and omitted deals count but add no money
    assert bob.amounts == figs(pipeline=5_000, weighted=500, count=3)
    assert (bob.quota, bob.attainment) == (20_000, 0.0)

    carol = fc.row("Carol")
    assert carol.amounts == figs(closed_won=4_400, count=1)
    assert carol.currencies == {"EUR": figs(closed_won=4_000, count=1)}
    assert (carol.quota, carol.attainment) == (None, None)

    dave = fc.row("Dave")  # probability override 50% beats the stage's 90%
    assert dave.amounts == figs(0, 1_250, 1_250, 1_250, 625, 1)

    erin = fc.row("Erin")  # a quota but no deals still shows up
    assert erin.amounts == figs()
    assert (erin.count, erin.quota, erin.attainment) == (0, 10_000, 0.0)

    assert fc.total.amounts == figs(14_400, 21_250, 29_250, 34_250, 25_125, 8)
    assert fc.total.quota == 70_000
    assert fc.total.attainment == 0.2057


def test_by_team_includes_manager_and_unassigned():
    fc = rollup(OPPS, Q4, by="team", quotas=QUOTAS, rates=RATES, teams=TEAMS)
    assert [r.key for r in fc.rows] == ["Carol", "unassigned"]
    carol = fc.row("Carol")
    assert carol.amounts == figs(14_400, 20_000, 28_000, 33_000, 24_500, 7)
    assert carol.currencies["USD"] == figs(10_000, 20_000, 28_000, 33_000, 24_500, 6)
    assert (carol.quota, carol.attainment) == (60_000, 0.24)
    unassigned = fc.row("unassigned")
    assert unassigned.amounts == figs(0, 1_250, 1_250, 1_250, 625, 1)
    assert (unassigned.quota, unassigned.attainment) == (10_000, 0.0)


def test_team_with_no_deals_is_listed():
    fc = rollup(OPPS, Q4, by="team", rates=RATES, teams={**TEAMS, "Zed": ["Yan"]})
    assert fc.row("Zed").amounts == figs()


def test_by_stage():
    fc = rollup(OPPS, Q4, by="stage", quotas=QUOTAS, rates=RATES)
    assert [r.key for r in fc.rows] == [
        "closed_lost",
        "closed_won",
        "negotiation",
        "proposal",
        "prospecting",
    ]
    assert fc.row("closed_won").amounts == figs(closed_won=14_400, count=2)
    assert fc.row("proposal").amounts == figs(0, 0, 8_000, 8_000, 6_000, 2)
    assert fc.row("closed_lost").quota is None
    assert (fc.total.quota, fc.total.attainment) == (70_000, 0.2057)


def test_missing_rate_reports_per_currency_and_never_mixes():
    fc = rollup(OPPS, Q4, by="owner", quotas=QUOTAS, rates={"EUR": 1.1}, base_currency="USD")
    assert fc.converted is False
    assert fc.missing_rates == ["GBP"]
    # Rows whose currencies all convert keep base-currency amounts ...
    assert fc.row("Alice").amounts == figs(10_000, 20_000, 28_000, 28_000, 24_000, 3)
    assert fc.row("Alice").attainment == 0.25
    # ... the rest report per currency only.
    dave = fc.row("Dave")
    assert dave.amounts is None
    assert dave.currencies == {"GBP": figs(0, 1_000, 1_000, 1_000, 500, 1)}
    assert fc.total.amounts is None
    assert fc.total.attainment is None
    assert fc.total.count == 8
    assert fc.total.currencies == {
        "EUR": figs(closed_won=4_000, count=1),
        "GBP": figs(0, 1_000, 1_000, 1_000, 500, 1),
        "USD": figs(10_000, 20_000, 28_000, 33_000, 24_500, 6),
    }


def test_no_rates_at_all():
    fc = rollup(OPPS, Q4, base_currency="USD")
    assert fc.converted is False
    assert fc.missing_rates == ["EUR", "GBP"]
    assert fc.row("Carol").amounts is None


def test_base_currency_needs_no_rate_and_codes_are_case_insensitive():
    opps = [
        opp("a", "Alice", "closed_won", 100, "2026-11-01", currency="eur"),
        opp("b", "Alice", "closed_won", 50, "2026-11-01", currency=None),
    ]
    fc = rollup(opps, Q4, base_currency="eur")
    assert fc.converted is True
    assert fc.base_currency == "EUR"
    assert fc.total.amounts == figs(closed_won=150, count=2)


def test_defaults_from_stage_when_category_and_probability_unset():
    record = opp("x", "Alice", "negotiation", 1_000, "2026-11-01")
    del record["category"], record["probability"]
    fc = rollup([record], Q4)
    assert fc.total.amounts == figs(0, 1_000, 1_000, 1_000, 900, 1)


def test_to_json_is_plain_data():
    fc = rollup(OPPS, Q4, quotas=QUOTAS, rates={"EUR": 1.1})
    data = json.loads(json.dumps(fc.to_json()))
    assert data["missing_rates"] == ["GBP"]
    assert data["total"]["currencies"]["GBP"]["commit"] == 1_000
    assert data["rows"][0]["key"] == "Alice"
    assert data["rows"][0]["amounts"]["best_case"] == 28_000


def test_bad_grouping_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot group a forecast by 'region'"):
        rollup(OPPS, Q4, by="region")
    with pytest.raises(ValueError, match="not understood"):
        rollup(OPPS, "Q4")


def ids(opps):
    return [o["id"] for o in opps]


def test_drilldown_matches_the_numbers():
    assert ids(drilldown(OPPS, Q4, "Carol", "team", "best_case", teams=TEAMS)) == ["o3", "o2"]
    assert ids(drilldown(OPPS, Q4, "Bob", "owner", "count")) == ["o4", "o5", "o6"]
    assert ids(drilldown(OPPS, Q4, None, "owner", "closed_won")) == ["o1", "o7"]
    assert ids(drilldown(OPPS, Q4, TOTAL, "stage", "weighted")) == ["o4", "o3", "o8", "o2"]
    assert ids(drilldown(OPPS, Q4, "unassigned", "team", "commit", teams=TEAMS)) == ["o8"]
    with pytest.raises(ValueError, match="unknown forecast column 'revenue'"):
        drilldown(OPPS, Q4, None, "owner", "revenue")


def test_snapshots_and_week_over_week_history():
    week1 = snapshot(rollup(OPPS[:3], Q4), "2026-11-23T09:00:00+00:00")
    week1_later = snapshot(rollup(OPPS[:2], Q4), "2026-11-24T09:00:00+00:00")
    week2 = snapshot(rollup(OPPS[:4], Q4), "2026-11-30T09:00:00+00:00")
    other_period = snapshot(rollup(OPPS, "2026-11"), "2026-11-30T10:00:00+00:00")
    assert week1["week"] == "2026-W48"
    assert json.loads(json.dumps(week1)) == week1

    rows = history([week2, other_period, week1, week1_later], Q4)
    assert [(r["week"], r["group"]) for r in rows] == [
        ("2026-W48", "Alice"),
        ("2026-W48", TOTAL),
        ("2026-W49", "Alice"),
        ("2026-W49", "Bob"),
        ("2026-W49", TOTAL),
    ]
    first = rows[0]
    assert first["taken_at"] == "2026-11-24T09:00:00+00:00"  # latest of the week wins
    assert first["figures"]["best_case"] == 20_000
    assert first["changes"] is None
    assert rows[2]["changes"] == {
        "closed_won": 0,
        "commit": 0,
        "best_case": 8_000,
        "pipeline": 8_000,
        "weighted": 6_000,
        "count": 1,
    }
    assert rows[3]["changes"]["pipeline"] == 5_000  # Bob is new: moved from zero
    assert rows[4]["figures"]["pipeline"] == 33_000
    assert rows[4]["changes"]["weighted"] == 6_500


def test_history_of_unconverted_snapshots_keys_by_currency():
    snap = snapshot(rollup(OPPS, Q4), "2026-11-23T09:00:00+00:00")
    total = [r for r in history([snap], Q4) if r["group"] == TOTAL][0]
    assert total["figures"]["commit GBP"] == 1_000
    assert total["figures"]["closed_won EUR"] == 4_000
    assert total["figures"]["count"] == 8


def test_snapshot_due_weekly():
    assert snapshot_due(None, "2026-11-25T09:00:00")
    assert not snapshot_due("2026-11-23T08:00:00+00:00", "2026-11-29T23:59:00+00:00")
    assert snapshot_due("2026-11-29T23:59:00+00:00", "2026-11-30T00:01:00+00:00")
    assert snapshot_due("2026-12-28T10:00:00", "2027-01-04T10:00:00")  # across W53


# --- properties -------------------------------------------------------------------------------

OWNERS = ["Alice", "Bob", "Carol", "Dave", None]
STAGE_IDS = [s.id for s in DEFAULT_STAGES]

opportunities = st.lists(
    st.builds(
        lambda i, owner, stage, amount, day, cur, prob, cat: {
            "id": f"p{i}",
            "owner": owner,
            "stage": stage,
            "amount": amount,
            "close_date": f"2026-{day // 28 + 10:02d}-{day % 28 + 1:02d}",
            "currency": cur,
            "probability": prob,
            "category": cat,
        },
        st.integers(0, 10**6),
        st.sampled_from(OWNERS),
        st.sampled_from(STAGE_IDS),
        st.integers(0, 10**7),
        st.integers(0, 28 * 3 - 1),
        st.sampled_from(["USD", "EUR", "GBP", None]),
        st.one_of(st.none(), st.integers(0, 100)),
        st.sampled_from([None, "pipeline", "best_case", "commit", "omitted"]),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(opportunities, st.sampled_from(["owner", "team", "stage"]), st.booleans())
def test_total_equals_sum_of_groups(opps, by, with_rates):
    rates = RATES if with_rates else {"EUR": 1.1}
    fc = rollup(opps, Q4, by=by, quotas=QUOTAS, rates=rates, teams=TEAMS)
    assert fc.total.count == sum(r.count for r in fc.rows) == len(opps)
    currencies = set(fc.total.currencies)
    for cur in currencies:
        for col in COLUMNS:
            parts = sum(getattr(r.currencies[cur], col) for r in fc.rows if cur in r.currencies)
            assert math.isclose(getattr(fc.total.currencies[cur], col), parts, abs_tol=0.05)
    if fc.converted:
        for col in COLUMNS:
            parts = sum(getattr(r.amounts, col) for r in fc.rows)
            assert math.isclose(getattr(fc.total.amounts, col), parts, abs_tol=0.05)
    else:
        assert fc.total.amounts is None
        assert fc.missing_rates == ["GBP"]
    if by != "stage":
        assert math.isclose(sum(r.quota or 0 for r in fc.rows), fc.total.quota)
    # best case includes commit, pipeline includes best case
    for row in [*fc.rows, fc.total]:
        for f in row.currencies.values():
            assert f.commit <= f.best_case <= f.pipeline


@settings(max_examples=60, deadline=None)
@given(opportunities, st.sampled_from(["owner", "team"]))
def test_drilldown_adds_up_to_the_figure(opps, by):
    fc = rollup(opps, Q4, by=by, rates=RATES, teams=TEAMS)
    for row in fc.rows:
        for col in ("closed_won", "commit", "best_case", "pipeline"):
            deals = drilldown(opps, Q4, row.key, by, col, teams=TEAMS)
            usd = sum(o["amount"] * RATES.get(o["currency"], 1.0) for o in deals)
            assert math.isclose(usd, getattr(row.amounts, col), abs_tol=0.05)
        assert len(drilldown(opps, Q4, row.key, by, "count", teams=TEAMS)) == row.count


# --- speed --------------------------------------------------------------------------------------


def _bench_module():
    path = Path(__file__).resolve().parent.parent / "bench" / "features_forecast.py"
    spec = importlib.util.spec_from_file_location("features_forecast", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rollup_of_10000_opportunities_is_under_100ms():
    bench = _bench_module()
    opps = bench.make_opps()
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        rollup(opps, "2026", by="team", rates=RATES, teams=bench.TEAMS)
        best = min(best, time.perf_counter() - start)
    assert best < 0.1
