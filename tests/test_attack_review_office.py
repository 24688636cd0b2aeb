"""Attack review (forecast call): operations the per-record judge must account for. Each
change below also writes a valid submission of the rep's own (allowed alone), so only the
extra operation can get it refused (app/members/office_rules.py: every operation must show
as a value the change wrote in the records it names)."""

from __future__ import annotations

import pytest
from automerge.core import ScalarType
from hostile import deliver, forge, put_setting
from test_forecast_submissions import DOC, refused, submission, team  # noqa: F401

from bullpen.app.sales import submissions as calls
from bullpen.crdt import records as rec


def _own(eli, tx) -> bytes:
    """Eli's own new submission, named as Bullpen names what it writes."""
    rec.write_record(tx, rec.container(tx, rec.RECORDS), "mine", submission(eli))
    rec.mark_touched(tx, ["mine"])
    return tx.get(rec.container(tx, rec.RECORDS), "mine")[1]


def _twice(eli, old, tx):
    obj = _own(eli, tx)
    tx.put(obj, "commit", ScalarType.F64, 1e9)  # hidden by the second write at its heads
    tx.put(obj, "commit", ScalarType.F64, 1.0)


def _deleted_field(eli, old, tx):
    obj = _own(eli, tx)
    tx.put(obj, "note", ScalarType.Str, "x")
    tx.delete(obj, "note")


def _old_deleted(eli, old, tx):
    """Rewrite history: delete the earlier submission while adding a new one."""
    _own(eli, tx)
    tx.delete(rec.container(tx, rec.RECORDS), old)


def _extra_touched_key(eli, old, tx):
    _own(eli, tx)
    tx.put(rec.container(tx, rec.TOUCHED), "elsewhere", ScalarType.Str, "x")


def _settings(eli, old, tx):
    _own(eli, tx)
    put_setting(tx, ("target",), "1")


@pytest.mark.parametrize("extra", [_twice, _deleted_field, _old_deleted, _extra_touched_key,
                                   _settings], ids=lambda f: f.__name__.strip("_"))
def test_an_operation_the_judge_does_not_see_is_refused(team, extra):  # noqa: F811
    dana, eli = team["manager"], team["eli"]
    old = calls.submit(eli, 10000, 20000, "first", "2026-Q4")["id"]
    forge(eli, DOC, lambda tx: extra(eli, old, tx))
    assert "more than the records it names" in refused(eli, dana)


def test_the_submission_alone_is_accepted(team):  # noqa: F811
    """The control: what every attack above adds its operation to."""
    forge(team["eli"], DOC, lambda tx: _own(team["eli"], tx))
    assert deliver(team["eli"], team["manager"], DOC) == ""
