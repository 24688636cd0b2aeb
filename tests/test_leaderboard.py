"""Leaderboard scoring with hand-computed points, period filtering and tie-breaks."""

from __future__ import annotations

from bullpen.app.sales.leaderboard import POINTS, Standing, leaderboard


def item(id_, author, created, reactions=None, **extra):
    return {
        "id": id_,
        "created_by": author,
        "created_at": created,
        "reactions": reactions or {},
        **extra,
    }


POSTS = [
    item(
        "p1",
        "Dana",
        "2026-11-02T09:00:00+00:00",
        {"Sam": "helpful", "Lee": "+1", "Dana": "helpful"},
    ),
    item("p2", "Sam", "2026-11-03T09:00:00+00:00", {"Dana": "helpful"}, reply_to="p1"),
    item("p3", "Lee", "2026-11-30T23:59:00+00:00", reply_to="p1"),  # last minute: in
    item("p4", "Dana", "2026-11-04T09:00:00+00:00", reply_to="p1"),  # self-reply: no reply point
    item("p5", "Sam", "2026-10-31T23:59:00+00:00", {"Dana": "helpful"}),  # before: out
    item("p6", "Lee", "2026-11-05T09:00:00+00:00", reply_to="p5"),  # reply in period counts
    item("p7", "Kim", "2026-12-01T00:00:00+00:00"),  # after: out
]
RESOURCES = [
    item("r1", "Lee", "2026-11-10T09:00:00+00:00", {"peerA": "helpful", "peerB": "👍"}),
]
DOCUMENTS = [
    item("d1", "Sam", "2026-11-11T09:00:00+00:00", {"Lee": "Helpful"}),
    item("d2", "Ann", "2026-11-12T09:00:00+00:00"),
]
NAMES = {"peerA": "Dana", "peerB": "Lee"}  # peerB is Lee reacting to his own resource


def test_scoring_and_ranking():
    board = leaderboard(POSTS, RESOURCES, DOCUMENTS, "2026-11", member_names=NAMES)
    assert board == [
        Standing(1, "Sam", 10, posts=1, resources=1, helpful=2, reactions=0, replies=1),
        Standing(2, "Dana", 9, posts=2, resources=0, helpful=1, reactions=1, replies=2),
        Standing(3, "Lee", 9, posts=2, resources=1, helpful=1, reactions=0, replies=0),
        Standing(4, "Ann", 3, posts=0, resources=1, helpful=0, reactions=0, replies=0),
    ]


def test_points_are_the_documented_weights():
    assert POINTS == {
        "post": 2,
        "resource": 3,
        "document": 3,
        "helpful": 2,
        "reaction": 1,
        "reply": 1,
    }


def test_ties_broken_by_name_case_insensitively():
    posts = [item(f"x{i}", name, "2026-11-02") for i, name in enumerate(["zoe", "Adam", "bea"])]
    board = leaderboard(posts, [], [], "2026-11")
    assert [(s.rank, s.member, s.points) for s in board] == [
        (1, "Adam", 2),
        (2, "bea", 2),
        (3, "zoe", 2),
    ]


def test_other_periods_and_empty_input():
    assert [s.member for s in leaderboard(POSTS, [], [], "2026-12")] == ["Kim"]
    assert leaderboard([], [], [], "2026-Q4") == []
    assert leaderboard(POSTS, RESOURCES, DOCUMENTS, "2025") == []


def test_to_json():
    board = leaderboard(POSTS, RESOURCES, DOCUMENTS, "2026-Q4", member_names=NAMES)
    assert board[0].to_json() == {
        "rank": 1,
        "member": "Sam",
        "points": 14,  # p5 (post 2 + helpful 2) joins in Q4
        "posts": 2,
        "resources": 1,
        "helpful": 3,
        "reactions": 0,
        "replies": 1,
    }
