"""crdt.schema, crdt.checks and crdt.iso4217 on their own: what user input becomes a stored
value, what is refused with a message naming the field, and how a value a modified client
stored is read back. No workspace, no storage."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bullpen.crdt.checks import (
    MAX_AMOUNT,
    MAX_INT,
    MAX_TEXT,
    ValidationError,
    check_span,
    currency,
    text,
    timezone,
)
from bullpen.crdt.iso4217 import CURRENCIES, currency_code
from bullpen.crdt.schema import (
    ADMIN_DOC,
    ADMIN_MAPS,
    COLLECTIONS,
    DEFAULT_STAGES,
    FORECAST_CATEGORIES,
    INDEX_DOC,
    KINDS,
    FieldSpec,
    genesis_shape,
    kind_spec,
    space_doc_id,
    text_doc_id,
)
from bullpen.crdt.validation import (
    coerce,
    normalise_choice,
    parse_date,
    parse_datetime,
    readable,
    validate,
)

STAGES = {"stage": tuple(s.id for s in DEFAULT_STAGES)}
DEAL = {"account": "Acme", "title": "Renewal", "amount": "50000", "stage": "Proposal",
        "close_date": "2026-12-15"}


def test_a_deal_is_coerced_into_its_stored_form() -> None:
    stored = validate("opportunity", {**DEAL, "currency": " eur ", "probability": "75",
                                      "contact_ids": "a, b,,c"}, choices=STAGES)
    assert stored == {"account": "Acme", "title": "Renewal", "amount": 50000.0,
                      "stage": "proposal", "close_date": "2026-12-15", "currency": "EUR",
                      "probability": 75, "contact_ids": ["a", "b", "c"]}
    assert isinstance(stored["amount"], float) and isinstance(stored["probability"], int)


@pytest.mark.parametrize(("values", "message"), [
    ({"title": "Renewal"}, "opportunity needs account, amount, stage, close_date"),
    ({**DEAL, "colour": "red"}, "opportunity has no field 'colour'"),
    ({**DEAL, "title": ""}, "title must not be empty"),
    ({**DEAL, "stage": "won"}, "stage: unknown value 'won' (one of: prospecting"),
    ({**DEAL, "amount": "-1"}, "amount: '-1' must be at least 0"),
    ({**DEAL, "amount": "inf"}, "amount: 'inf' is not a finite number"),
    ({**DEAL, "amount": True}, "amount: True is not a number"),
    ({**DEAL, "amount": str(MAX_AMOUNT * 10)}, "must be at most"),
    ({**DEAL, "probability": "101"}, "probability: '101' must be at most 100"),
    ({**DEAL, "close_date": "15/12/2026"}, "close_date: '15/12/2026' is not a date"),
    ({**DEAL, "currency": "€€€"}, "currency: '€€€' is not an ISO 4217 currency code"),
    ({**DEAL, "category": "maybe"}, "category: unknown value 'maybe'"),
    ({**DEAL, "contact_ids": 7}, "contact_ids: 7 is not a list"),
])
def test_bad_input_is_refused_naming_the_field(values: dict, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate("opportunity", values, choices=STAGES)
    assert message in str(refused.value)


def test_an_update_needs_no_required_field_but_still_checks_the_given_ones() -> None:
    assert validate("opportunity", {"amount": 3}, partial=True) == {"amount": 3.0}
    with pytest.raises(ValidationError, match="amount must not be empty"):
        validate("opportunity", {"amount": None}, partial=True)
    with pytest.raises(ValidationError, match="unknown record kind 'deal'"):
        validate("deal", {})


def test_an_event_ends_at_or_after_its_start() -> None:
    event = {"title": "QBR", "start": "2026-12-01T10:00", "end": "2026-12-01T09:00"}
    with pytest.raises(ValidationError, match="end 2026-12-01T09:00:00 is before start"):
        validate("event", event)
    assert validate("event", {**event, "end": "2026-12-01T10:00"})["end"] == "2026-12-01T10:00:00"
    # one side with an offset, one without: compared as local times
    check_span({"start": "2026-12-01T10:00+02:00", "end": "2026-12-01T11:00"})
    with pytest.raises(ValidationError):
        check_span({"start": "2026-12-01T10:00+02:00", "end": "2026-12-01T09:00"})
    check_span({"start": "not a time", "end": "2026-01-01"})  # stored elsewhere: no order
    check_span({"start": "2026-12-01"})


def test_dates_and_times_are_iso_text() -> None:
    assert parse_date(dt.datetime(2026, 3, 4, 5, 6)) == "2026-03-04"
    assert parse_date(dt.date(2026, 3, 4)) == parse_date(" 2026-03-04 ") == "2026-03-04"
    assert parse_datetime("2026-03-04") == "2026-03-04"  # all-day events keep a date
    assert parse_datetime("2026-03-04T05:06Z") == "2026-03-04T05:06:00+00:00"
    assert parse_datetime(dt.date(2026, 3, 4)) == "2026-03-04"
    with pytest.raises(ValidationError, match="start: 'soon' is not a date-time"):
        parse_datetime("soon", "start")


@given(st.dates())
def test_a_date_survives_its_stored_form(day: dt.date) -> None:
    assert parse_date(parse_date(day)) == day.isoformat()
    assert dt.date.fromisoformat(parse_date(day)) == day


@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_a_datetime_survives_its_stored_form(moment: dt.datetime) -> None:
    stored = parse_datetime(moment)
    assert parse_datetime(stored) == stored
    assert dt.datetime.fromisoformat(stored) == moment


def test_booleans_maps_and_enums() -> None:
    flag = FieldSpec("pinned", "bool")
    assert [coerce(flag, v) for v in ("Yes", "on", "1", True, "no", "", "OFF")] == [
        True, True, True, True, False, False, False]
    with pytest.raises(ValidationError, match="pinned: 'maybe' is not yes/no"):
        coerce(flag, "maybe")
    reactions = FieldSpec("reactions", "map")
    assert coerce(reactions, {"peer": "+1"}) == {"peer": "+1"}
    with pytest.raises(ValidationError, match="is not a mapping"):
        coerce(reactions, ["+1"])
    assert coerce(FieldSpec("x", "str"), None) is None
    assert normalise_choice("  Closed-Won ") == normalise_choice("closed/won") == "closed_won"
    assert coerce(KINDS["opportunity"].by_name["category"], "Best Case") == "best_case"
    with pytest.raises(AssertionError, match="unhandled field type"):
        coerce(FieldSpec("x", "colour"), "red")


@given(st.integers(min_value=-(2**60), max_value=2**60))
def test_an_int_field_holds_only_integers_every_peer_represents(number: int) -> None:
    size = KINDS["resource"].by_name["size"]
    if 0 <= number <= MAX_INT:
        assert coerce(size, number) == number
    else:
        with pytest.raises(ValidationError, match="size: "):
            coerce(size, number)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_an_amount_is_finite_and_in_range_or_refused(number: float) -> None:
    amount = KINDS["opportunity"].by_name["amount"]
    try:
        stored = coerce(amount, number)
    except ValidationError as exc:
        assert str(exc).startswith("amount: ")
        assert not math.isfinite(number) or not 0 <= number <= MAX_AMOUNT
    else:
        assert stored == number and 0 <= stored <= MAX_AMOUNT


def test_text_is_valid_unicode_and_bounded() -> None:
    assert text(12, "n") == "12"
    with pytest.raises(ValidationError, match="notes: not valid text"):
        text("bad \udcff byte", "notes")
    assert len(text("x" * MAX_TEXT, "notes")) == MAX_TEXT
    with pytest.raises(ValidationError, match=f"notes: longer than {MAX_TEXT:,}"):
        text("x" * (MAX_TEXT + 1), "notes")


def test_currencies_and_time_zones_come_from_their_standards() -> None:
    assert len(CURRENCIES) == 183 and all(len(c) == 3 and c.isupper() for c in CURRENCIES)
    assert currency_code(" usd ") == currency("usd") == "USD"
    assert currency_code("US$") is None and currency_code("") is None
    assert timezone(" Europe/Paris ") == "Europe/Paris"
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "\udcff"):
        with pytest.raises(ValidationError):
            timezone(bad)


@given(st.text(max_size=5))
def test_any_text_is_a_currency_code_or_none(value: str) -> None:
    code = currency_code(value)
    assert code is None or (code in CURRENCIES and code == value.strip().upper())


def test_what_a_modified_client_stored_is_read_as_sane_values() -> None:
    stored = {"title": 42, "amount": "lots", "probability": 250, "currency": "eur",
              "contact_ids": "a,b", "close_date": "2026-12-15", "extra": object}
    shown = readable("opportunity", stored)
    assert shown["title"] == "42" and shown["amount"] is None and shown["probability"] is None
    assert shown["currency"] == "EUR" and shown["contact_ids"] is None
    assert shown["extra"] is object and stored["amount"] == "lots"  # the input is not changed
    assert readable("event", {"timezone": "Nowhere/Land"})["timezone"] is None
    assert readable("no such kind", stored) is stored


def test_collections_and_document_names() -> None:
    # every workspace starts with the index, the admin document and one per record family;
    # spaces and texts come one document each, later
    families = {spec.collection for spec in KINDS.values()}
    assert set(COLLECTIONS) == {INDEX_DOC, ADMIN_DOC} | {c for c in families if ":" not in c}
    assert list(COLLECTIONS) == sorted(COLLECTIONS) and "pipeline" in COLLECTIONS
    assert kind_spec("space").collection == "space:*"
    assert text_doc_id("abc") == "doc:abc" and space_doc_id("abc") == "space:abc"
    assert genesis_shape("doc:abc") == (("body",), ())
    assert genesis_shape(ADMIN_DOC) == ((), ADMIN_MAPS)
    assert genesis_shape("pipeline") == genesis_shape("space:abc") == ((), ())
    assert {s.category for s in DEFAULT_STAGES} <= set(FORECAST_CATEGORIES)
    for spec in KINDS.values():  # every kind's title is one of its required fields
        assert spec.by_name[spec.title_field].required, spec.name
