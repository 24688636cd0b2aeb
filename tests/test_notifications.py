"""Subscription rules: who hears about which change, and never about their own."""

from __future__ import annotations

import json

import pytest

from bullpen.app.notifications.rules import (
    Notification,
    Subscriptions,
    mentions,
    notifications_for,
)

AT = "2026-11-25T10:00:00+00:00"


def deal(owner="Dana", stage="proposal", amount=50_000.0, **extra):
    record = {
        "id": "opp1",
        "account": "Initech",
        "title": "Renewal",
        "owner": owner,
        "stage": stage,
        "amount": amount,
        "close_date": "2026-12-15",
        "created_at": "2026-11-01T09:00:00+00:00",
        "created_by": owner,
        "updated_at": AT,
        "updated_by": "Sam",
    }
    record.update(extra)
    return record


def event(kind, record, before=None, author="Sam", remote=True, id_=None):
    rid = id_ or (record or before)["id"]
    return {
        "kind": kind,
        "id": rid,
        "record": record,
        "before": before,
        "author": author,
        "remote": remote,
    }


def post(id_, text, author="Sam", topic="t1", reply_to=None, **extra):
    return {
        "id": id_,
        "topic_id": topic,
        "text": text,
        "reply_to": reply_to,
        "created_at": AT,
        "created_by": author,
        **extra,
    }


def test_defaults_are_quiet_except_announcements_mentions_and_own_deals():
    subs = Subscriptions()
    assert (subs.announcements, subs.mentions, subs.own_deals) == (True, True, True)
    assert (subs.replies, subs.followed_topics, subs.followed_opportunities) == (False, [], [])
    assert subs.stage_changes_over is None


def test_json_round_trip_tolerates_old_and_new_keys():
    subs = Subscriptions(replies=True, followed_topics=["t1"], stage_changes_over=100_000)
    assert Subscriptions.from_json(subs.to_json()) == subs
    assert Subscriptions.from_json('{"replies": true, "from_the_future": 1}') == Subscriptions(
        replies=True
    )
    assert Subscriptions.from_json(None) == Subscriptions()
    assert json.loads(subs.to_json())["followed_topics"] == ["t1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks @Dana!", True),
        ("@dana can you look", True),
        ("ping @DANA.", True),
        ("(@Dana)", True),
        ("@Danaher is a customer", False),
        ("mail dana@example.com", False),
        ("email bob@Dana", False),
        ("Dana, no at sign", False),
        ("", False),
        (None, False),
    ],
)
def test_mention_matching(text, expected):
    assert mentions(text, "Dana") is expected


def test_mention_with_space_in_name():
    assert mentions("hi @Dana Scully", "Dana Scully")
    assert not mentions("hi @Dana Scullyson", "Dana Scully")


def test_own_deal_change_lists_changed_fields():
    before = deal()
    after = deal(stage="negotiation", amount=60_000.0)
    notes = notifications_for([event("opportunity", after, before)], "Dana")
    assert notes == [
        Notification(
            kind="own_deal",
            record_id="opp1",
            title="Initech - Renewal",
            text="Sam changed amount: 50000.0 → 60000.0; stage: proposal → negotiation",
            at=AT,
            author="Sam",
        )
    ]


def test_never_about_my_own_or_local_changes():
    before, after = deal(), deal(stage="negotiation")
    assert notifications_for([event("opportunity", after, before, author="Dana")], "Dana") == []
    assert notifications_for([event("opportunity", after, before, author="dana")], "Dana") == []
    assert notifications_for([event("opportunity", after, before, remote=False)], "Dana") == []


def test_metadata_only_change_is_silent():
    before = deal()
    after = deal(updated_at="2026-11-26T00:00:00+00:00", updated_by="Sam")
    assert notifications_for([event("opportunity", after, before)], "Dana") == []


def test_deal_taken_away_from_me_still_notifies():
    notes = notifications_for([event("opportunity", deal(owner="Sam"), deal())], "Dana")
    assert [(n.kind, n.text) for n in notes] == [("own_deal", "Sam changed owner: Dana → Sam")]


def test_new_and_deleted_deals():
    created = notifications_for([event("opportunity", deal(), None)], "Dana")
    assert [(n.kind, n.text) for n in created] == [("own_deal", "Sam created this deal")]
    deleted = notifications_for([event("opportunity", None, deal())], "Dana")
    assert [(n.kind, n.text, n.record_id) for n in deleted] == [
        ("own_deal", "Sam deleted this deal", "opp1")
    ]


def test_own_deals_can_be_turned_off():
    subs = Subscriptions(own_deals=False)
    assert notifications_for([event("opportunity", deal(stage="x"), deal())], "Dana", subs) == []


def test_others_deals_are_quiet_unless_followed():
    before, after = deal(owner="Sam"), deal(owner="Sam", stage="negotiation")
    changes = [event("opportunity", after, before, author="Lee")]
    assert notifications_for(changes, "Dana") == []
    subs = Subscriptions(followed_opportunities=["opp1"])
    assert [n.kind for n in notifications_for(changes, "Dana", subs)] == ["followed_deal"]
    followed = deal(owner="Sam", stage="negotiation", followers=["Dana"])
    changes = [event("opportunity", followed, {**before, "followers": ["Dana"]}, author="Lee")]
    assert [n.kind for n in notifications_for(changes, "Dana")] == ["followed_deal"]


def test_stage_changes_above_an_amount():
    subs = Subscriptions(stage_changes_over=100_000)
    big = [event("opportunity", deal("Sam", "negotiation", 150_000), deal("Sam", amount=150_000))]
    small = [event("opportunity", deal("Sam", "negotiation"), deal("Sam"))]
    amount_only = [event("opportunity", deal("Sam", amount=200_000), deal("Sam"))]
    notes = notifications_for(big, "Dana", subs)
    assert [(n.kind, n.text) for n in notes] == [
        ("stage_change", "Sam moved it proposal → negotiation")
    ]
    assert notifications_for(small, "Dana", subs) == []
    assert notifications_for(amount_only, "Dana", subs) == []
    assert notifications_for(big, "Dana") == []


def test_announcements_on_by_default_once():
    ann = {"id": "a1", "title": "Q4 kickoff", "text": "All hands at 10", "updated_at": AT}
    notes = notifications_for([event("announcement", ann)], "Dana")
    assert [(n.kind, n.title, n.text, n.at) for n in notes] == [
        ("announcement", "Q4 kickoff", "All hands at 10", AT)
    ]
    read = {**ann, "read_by": {"Lee": AT}}
    assert notifications_for([event("announcement", read, ann)], "Dana") == []
    quiet = Subscriptions(announcements=False)
    assert notifications_for([event("announcement", ann)], "Dana", quiet) == []


def test_mentions_win_over_other_reasons_and_only_when_new():
    ann = {"id": "a1", "text": "@Dana please present", "created_at": AT}
    notes = notifications_for([event("announcement", ann)], "Dana")
    assert [(n.kind, n.title, n.text) for n in notes] == [
        ("mention", "Sam mentioned you", "@Dana please present")
    ]
    before = deal(notes="call back")
    after = deal(notes="call back; @dana has the contract")
    notes = notifications_for([event("opportunity", after, before)], "Dana")
    assert [n.kind for n in notes] == ["mention"]
    again = deal(notes="call back; @dana has the contract. Sent.")
    assert [n.kind for n in notifications_for([event("opportunity", again, after)], "Dana")] == [
        "own_deal"
    ]
    assert (
        notifications_for(
            [event("post", post("p1", "@Dana hi"))], "Dana", Subscriptions(mentions=False)
        )
        == []
    )


def test_replies_to_my_posts_opt_in_with_parent_from_records_or_batch():
    mine = post("p1", "Initech wants fiscal quarters", author="Dana")
    reply = post("p2", "Same at Globex", reply_to="p1")
    subs = Subscriptions(replies=True)
    assert notifications_for([event("post", reply)], "Dana") == []
    notes = notifications_for([event("post", reply)], "Dana", subs, records={"p1": mine})
    assert [(n.kind, n.title, n.text) for n in notes] == [
        ("reply", "Sam replied to your post", "Same at Globex")
    ]
    batch = [event("post", mine, author="Dana"), event("post", reply)]
    assert [n.record_id for n in notifications_for(batch, "Dana", subs)] == ["p2"]
    others = post("p3", "me too", reply_to="p9")
    assert notifications_for([event("post", others)], "Dana", subs) == []


def test_followed_topic_posts():
    topic = {"id": "t1", "title": "Competitive: Globex"}
    subs = Subscriptions(followed_topics=["t1"])
    new_post = post("p5", "They dropped prices " * 10)
    notes = notifications_for([event("post", new_post)], "Dana", subs, records={"t1": topic})
    assert len(notes) == 1
    assert notes[0].title == "Sam posted in Competitive: Globex"
    assert len(notes[0].text) == 120 and notes[0].text.endswith("…")
    elsewhere = post("p6", "hello", topic="t2")
    assert notifications_for([event("post", elsewhere)], "Dana", subs) == []
    edit = event("post", {**new_post, "text": "edited"}, new_post)
    assert notifications_for([edit], "Dana", subs) == []
