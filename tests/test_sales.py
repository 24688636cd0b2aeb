"""Sales use cases over real workspaces: forecast, quotas, rates, snapshots, kudos, names."""

from __future__ import annotations

import pytest
from helpers import opp_fields
from replicas import exchange

from bullpen.app.sales import use_cases as sales
from bullpen.app.sales.forecast import TOTAL
from bullpen.app.sales.periods import current_period
from bullpen.crdt.schema import ValidationError

Q4 = "2026-Q4"


@pytest.fixture
def team(ws, join_ws):
    """Dana (manager) with reps Eli and Fay, all synced."""
    eli = join_ws(ws, "Eli")
    fay = join_ws(ws, "Fay")
    exchange(ws, eli)
    exchange(ws, fay)
    return ws, eli, fay


def test_forecast_by_owner_and_team_with_quota(team):
    dana, eli, _ = team
    dana.add("opportunity", opp_fields(owner="Eli", amount=1000, stage="negotiation"))
    dana.add("opportunity", opp_fields(owner="Fay", amount=500, stage="closed_won"))
    dana.add("opportunity", opp_fields(amount=200, stage="proposal"))
    dana.add("opportunity", opp_fields(amount=999, close_date="2027-01-10"))  # not in Q4
    sales.set_quota(dana, "Fay", Q4, 1000)

    by_owner = sales.forecast(dana, Q4)
    fay = by_owner.row("Fay")
    assert fay.amounts.closed_won == 500 and fay.quota == 1000 and fay.attainment == 0.5
    assert by_owner.row("Eli").amounts.commit == 1000
    assert by_owner.total.count == 3

    by_team = sales.forecast(dana, Q4, "team")
    assert [r.key for r in by_team.rows] == ["Dana"]  # the manager's team: Eli, Fay and Dana
    row = by_team.row("Dana")
    assert (row.amounts.closed_won, row.amounts.commit, row.amounts.best_case) == (500, 1000, 1200)
    assert row.quota == 1000


def test_mixed_currencies_are_never_silently_added(ws):
    ws.add("opportunity", opp_fields(amount=100, currency="USD", stage="closed_won"))
    ws.add("opportunity", opp_fields(amount=100, stage="closed_won"))
    result = sales.forecast(ws, Q4)
    assert result.total.amounts is None and result.missing_rates == ["USD"]
    assert result.total.currencies["USD"].closed_won == 100
    assert result.total.currencies["EUR"].closed_won == 100

    sales.set_rate(ws, "usd", 0.5)
    assert sales.rates(ws) == {"USD": 0.5}
    assert sales.forecast(ws, Q4).total.amounts.closed_won == 150


def test_bad_inputs_are_validation_errors(ws):
    with pytest.raises(ValidationError, match="base currency"):
        sales.set_rate(ws, "EUR", 2)
    with pytest.raises(ValidationError, match="positive"):
        sales.set_rate(ws, "USD", 0)
    with pytest.raises(ValidationError, match="three-letter"):
        sales.set_rate(ws, "dollars", 1)
    with pytest.raises(ValidationError, match="non-negative"):
        sales.set_quota(ws, "Dana", Q4, -5)
    with pytest.raises(ValidationError, match="quarter"):
        sales.forecast(ws, "2026-Q7")
    with pytest.raises(ValidationError, match="--by"):
        sales.forecast(ws, Q4, "region")
    with pytest.raises(ValidationError, match="--column"):
        sales.drill(ws, "Dana", "revenue", Q4)


def test_default_period_is_this_quarter(ws):
    assert sales.forecast(ws, auto_snapshot=False).period == current_period("quarter").label


def test_quotas_and_rates_merge_per_key_across_replicas(team):
    dana, eli, _ = team
    dana.set_role(eli.peer_id, "manager")  # two managers, offline at once
    exchange(dana, eli)
    sales.set_quota(dana, "Eli", Q4, 1000)
    sales.set_quota(eli, "Fay", Q4, 2000)  # concurrently, offline
    sales.set_rate(eli, "GBP", 1.2)
    exchange(dana, eli)
    expected = {("Eli", Q4): 1000.0, ("Fay", Q4): 2000.0}
    assert sales.quotas(dana) == sales.quotas(eli) == expected
    assert sales.rates(dana) == {"GBP": 1.2}


def test_only_managers_set_quotas_rates_and_snapshots(team):
    _, eli, _ = team  # a rep
    for write in (lambda: sales.set_quota(eli, "Eli", Q4, 10**6),
                  lambda: sales.set_rate(eli, "GBP", 9),
                  lambda: sales.take_snapshot(eli, Q4)):
        with pytest.raises(ValidationError, match="only managers"):
            write()
    sales.forecast(eli, Q4)  # a rep's look at the forecast stores no snapshot
    assert sales.snapshots(eli, Q4) == [] and sales.quotas(eli) == {}
    assert eli.heads("admin") == eli.doc("admin").get_heads()
    assert len(eli.doc("admin").get_changes([])) == 1  # the genesis only


def test_weekly_snapshots_and_history_shared_by_sync(team):
    dana, eli, _ = team
    oid = dana.add("opportunity", opp_fields(amount=100, stage="negotiation"))
    monday = "2026-11-23T09:00:00+00:00"
    sales.forecast(dana, Q4, now=monday)  # first look this week: snapshot stored
    sales.forecast(dana, Q4, now="2026-11-24T09:00:00+00:00")  # same week: nothing new
    assert len(sales.snapshots(dana, Q4)) == 1

    dana.update(oid, {"amount": 300})
    sales.forecast(dana, Q4, "stage", now="2026-11-30T09:00:00+00:00")  # next week
    exchange(dana, eli)
    assert [s["week"] for s in sales.snapshots(eli, Q4)] == ["2026-W48", "2026-W49"]

    moved = [r for r in sales.forecast_history(eli, Q4) if r["group"] == TOTAL]
    assert moved[0]["changes"] is None
    assert moved[1]["figures"]["commit"] == 300 and moved[1]["changes"]["commit"] == 200


def test_snapshot_on_demand_replaces_this_weeks(ws):
    ws.add("opportunity", opp_fields(amount=100, stage="negotiation"))
    key = sales.take_snapshot(ws, Q4, now="2026-11-23T09:00:00+00:00")
    ws.add("opportunity", opp_fields(amount=50, stage="negotiation"))
    assert sales.take_snapshot(ws, Q4, now="2026-11-25T09:00:00+00:00") == key == "2026-Q4|2026-W48"
    [snap] = sales.snapshots(ws, Q4)
    assert snap["total"]["amounts"]["commit"] == 150


def test_drill_down_owner_team_and_total(team):
    dana, _, _ = team
    eli_deal = dana.add("opportunity", opp_fields(owner="Eli", stage="negotiation"))
    dana.add("opportunity", opp_fields(owner="Eli", stage="prospecting"))
    fay_deal = dana.add("opportunity", opp_fields(owner="Fay", stage="negotiation"))

    by, rows = sales.drill(dana, "Eli", "commit", Q4)
    assert by == "owner" and [r["id"] for r in rows] == [eli_deal]
    by, rows = sales.drill(dana, "Dana", "commit", Q4)  # Dana owns nothing: her team
    assert by == "team" and {r["id"] for r in rows} == {eli_deal, fay_deal}
    _, rows = sales.drill(dana, TOTAL, "pipeline", Q4)
    assert len(rows) == 3


def test_author_names_keep_members_who_left(team):
    dana, eli, _ = team
    post_topic = eli.add("topic", {"title": "Pricing"})
    exchange(dana, eli)
    dana.remove_member("Eli")
    assert eli.peer_id not in dana.member_names()
    names = sales.author_names(dana)
    assert names[eli.peer_id] == "Eli" and names[dana.peer_id] == "Dana"
    assert names[dana.get(post_topic)["created_by"]] == "Eli"


def test_kudos_feed_the_leaderboard(team):
    dana, eli, fay = team
    topic = eli.add("topic", {"title": "Beating Globex"})
    post = eli.add("post", {"topic_id": topic, "text": "They discount at quarter end"})
    exchange(dana, eli)
    exchange(fay, eli)
    sales.kudos(dana, post[:8])
    sales.kudos(fay, post, "+1")
    dana.add("post", {"topic_id": topic, "text": "Thanks!", "reply_to": post})
    exchange(dana, fay)
    exchange(dana, eli)

    board = {s.member: s for s in sales.standings(eli)}
    assert board["Eli"].helpful == 1 and board["Eli"].reactions == 1
    assert board["Eli"].replies == 1 and board["Eli"].rank == 1
    assert board["Eli"].points == 2 + 2 + 1 + 1
    assert board["Dana"].posts == 1


def test_kudos_refuses_own_items_and_other_kinds(ws):
    topic = ws.add("topic", {"title": "Pricing"})
    post = ws.add("post", {"topic_id": topic, "text": "mine"})
    with pytest.raises(ValidationError, match="not your own"):
        sales.kudos(ws, post)
    with pytest.raises(ValidationError, match="kudos go to"):
        sales.kudos(ws, topic)


def test_quota_maps_exist_from_the_admin_genesis_and_writing_reindexes_nothing(ws):
    ws.add("opportunity", opp_fields())
    seen = []
    ws.subscribe(seen.append)
    sales.set_quota(ws, "Dana", "2026-Q4", 1000)
    assert [(c.doc_id, c.ids) for c in seen if c.doc_id != "admin"] == []
    assert {c.ids == set() for c in seen} == {True}
    # the only changes of the admin document are its genesis and this manager's writes
    changes = ws.doc("admin").get_changes([])
    assert len(changes[0].actor_id) == 16 and not changes[0].deps
    assert all(len(c.actor_id) == 36 for c in changes[1:])
