"""The notification inbox: changes made on another replica arrive as local notifications."""

from __future__ import annotations

import pytest
from helpers import opp_fields
from replicas import exchange

from bullpen.app.notifications.inbox import NotificationInbox, subscriptions, update_subscriptions
from bullpen.app.workspace import Workspace, WorkspaceError
from bullpen.crdt.schema import ValidationError


@pytest.fixture
def pair(ws, join_ws):
    """Dana's workspace with her inbox open, and Eli's synced replica."""
    eli = join_ws(ws, "Eli")
    topic = ws.add("topic", {"title": "Beating Globex"})
    post = ws.add("post", {"topic_id": topic, "text": "They discount at quarter end"})
    deal = ws.add("opportunity", opp_fields(amount=90_000))
    exchange(ws, eli)
    inbox = NotificationInbox(ws)
    yield ws, eli, inbox, {"topic": topic, "post": post, "deal": deal}
    inbox.close()


def kinds(inbox):
    return sorted(n["kind"] for n in inbox.list())


def test_defaults_announcements_mentions_own_deals(pair):
    dana, eli, inbox, ids = pair
    eli.add("announcement", {"text": "Q4 commit review Monday"})
    eli.add("post", {"topic_id": ids["topic"], "text": "@Dana what did they offer?"})
    eli.add("post", {"topic_id": ids["topic"], "text": "no mention, no notification"})
    eli.update(ids["deal"], {"next_step": "Legal review"})
    eli.add("opportunity", opp_fields(owner="Eli"))  # not mine: quiet
    exchange(dana, eli)
    assert kinds(inbox) == ["announcement", "mention", "own_deal"]
    deal_note = next(n for n in inbox.list() if n["kind"] == "own_deal")
    assert deal_note["record_id"] == ids["deal"] and "Eli changed next_step" in deal_note["text"]


def test_my_own_changes_and_history_do_not_notify(pair):
    dana, eli, inbox, ids = pair
    dana.add("announcement", {"text": "mine"})
    dana.update(ids["deal"], {"amount": 1})
    exchange(dana, eli)
    assert inbox.list() == []  # and what existed before the inbox started is not news


def test_opt_in_rules(pair):
    dana, eli, inbox, ids = pair
    update_subscriptions(dana, replies=True, own_deals=False, follow_topic=ids["topic"][:6],
                         stage_changes_over="50000")  # fmt: skip
    eli.add("post", {"topic_id": ids["topic"], "text": "Agreed", "reply_to": ids["post"]})
    other = eli.add("opportunity", opp_fields(owner="Eli", amount=60_000))
    exchange(dana, eli)
    eli.update(other, {"stage": "negotiation"})
    eli.add("post", {"topic_id": ids["topic"], "text": "New intel"})
    exchange(dana, eli)
    assert kinds(inbox) == ["reply", "stage_change", "topic_post"]


def test_subscriptions_are_local_and_validated(pair):
    dana, eli, _, ids = pair
    subs = update_subscriptions(dana, follow_opp=ids["deal"][:6], announcements=False)
    assert subs.followed_opportunities == [ids["deal"]] and not subs.announcements
    assert subscriptions(dana).followed_opportunities == [ids["deal"]]
    assert subscriptions(eli).announcements  # a profile setting, never synced
    assert update_subscriptions(dana, unfollow_opp=ids["deal"]).followed_opportunities == []
    with pytest.raises(ValidationError, match="not a topic"):
        update_subscriptions(dana, follow_topic=ids["deal"])
    with pytest.raises(ValidationError, match="negative"):
        update_subscriptions(dana, stage_changes_over="-1")
    assert update_subscriptions(dana, stage_changes_over="off").stage_changes_over is None


def test_changes_written_by_another_process_arrive_through_refresh(pair):
    """The node writes what it receives; the app's replica of the profile sees it by refresh,
    and two inboxes on one profile store each notification once."""
    dana, eli, inbox, _ = pair
    app = Workspace.open(dana.home)
    app_inbox = NotificationInbox(app)
    try:
        eli.add("announcement", {"text": "Kick-off at 9"})
        exchange(dana, eli)  # "the node" (dana) receives
        assert app_inbox.list() != []  # shared table: already there
        app.refresh()
        assert kinds(app_inbox) == ["announcement"]
    finally:
        app_inbox.close()
        app.close()


def test_refresh_alone_notifies(ws, join_ws):
    """Only the app's inbox runs; what the node wrote (already in the shared index) still
    notifies, with the right before-state."""
    deal = ws.add("opportunity", opp_fields(amount=100))
    eli = join_ws(ws, "Eli")
    app = Workspace.open(ws.home)
    inbox = NotificationInbox(app)
    try:
        eli.add("announcement", {"text": "Pipeline review"})
        eli.update(deal, {"amount": 250})
        exchange(ws, eli)  # another process of this profile wrote the change
        assert inbox.list() == []
        app.refresh()
        assert kinds(inbox) == ["announcement", "own_deal"]
        note = next(n for n in inbox.list() if n["kind"] == "own_deal")
        assert note["text"] == "Eli changed amount: 100.0 → 250.0"
    finally:
        inbox.close()
        app.close()


def test_notifications_are_durable_and_can_be_read(pair):
    dana, eli, inbox, _ = pair
    eli.add("announcement", {"text": "one"})
    eli.add("announcement", {"text": "two"})
    exchange(dana, eli)
    first, second = inbox.list()
    assert inbox.mark_read(second["id"]) == 1
    assert [n["id"] for n in inbox.list(unread=True)] == [first["id"]]
    with pytest.raises(WorkspaceError, match="no notification"):
        inbox.mark_read(9999)

    again = Workspace.open(dana.home)
    try:
        reopened = NotificationInbox(again, listen=False)
        assert reopened.unread_count() == 1
        assert reopened.mark_read() == 1 and reopened.unread_count() == 0
    finally:
        again.close()


def test_deletion_of_my_deal_notifies(pair):
    dana, eli, inbox, ids = pair
    eli.delete(ids["deal"])
    exchange(dana, eli)
    [note] = inbox.list()
    assert note["kind"] == "own_deal" and "deleted" in note["text"]
