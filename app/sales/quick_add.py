"""Quick add: one line of text ("Acme renewal 50k proposal Dec 15") to opportunity fields.

A rep adds a deal between two calls; a form with eight fields is too slow, so the line is read
for the three things that have a recognisable shape (an amount with an optional k/m suffix, a
stage name, a date) and the rest is the title. The account is a known account the title starts
with, else the title's first word. Anything missing gets a default the rep can fix inline.
Pure: no workspace access, so the parser is tested without Qt or a profile.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bullpen.crdt.schema import Stage
from bullpen.crdt.validation import normalise_choice

MONTHS = {
    name: number
    for number, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for name in names
}
_AMOUNT = re.compile(r"^[$€£]?(\d+(?:[.,]\d+)?)\s*([kKmM])?[$€£]?$")
_DAY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?,?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?$")
DEFAULT_CLOSE_DAYS = 30


@dataclass
class QuickAdd:
    """What the line said, plus which fields were defaulted (shown to the rep before saving)."""

    fields: dict[str, Any]
    defaulted: list[str] = field(default_factory=list)


def _future(month: int, day: int, today: dt.date) -> dt.date:
    """A month and day without a year mean the next such date (deals close in the future)."""
    date = dt.date(today.year, month, day)
    return date if date >= today else dt.date(today.year + 1, month, day)


def _take_date(words: list[str], i: int, today: dt.date) -> tuple[dt.date, int] | None:
    """A date starting at words[i]: (date, words used) or None."""
    word = words[i].lower().rstrip(",.")
    nxt = words[i + 1].lower().rstrip(",.") if i + 1 < len(words) else ""
    try:
        if _ISO.match(word):
            return dt.date.fromisoformat(word), 1
        if word in ("today",):
            return today, 1
        if word in ("tomorrow",):
            return today + dt.timedelta(days=1), 1
        if word == "next" and nxt in ("week", "month", "quarter"):
            days = {"week": 7, "month": 30, "quarter": 91}[nxt]
            return today + dt.timedelta(days=days), 2
        if word in ("eom", "eoq"):
            return _end_of(word, today), 1
        match = _NUMERIC_DATE.match(word)
        if match:  # month/day[/year], as US CRMs write it
            month, day, year = int(match[1]), int(match[2]), match[3]
            if year:
                full = int(year) + (2000 if len(year) == 2 else 0)
                return dt.date(full, month, day), 1
            return _future(month, day, today), 1
        if word in MONTHS:
            day = _DAY.match(nxt)
            if day:
                return _future(MONTHS[word], int(day[1]), today), 2
            return None
        day = _DAY.match(word)
        if day and nxt in MONTHS:
            return _future(MONTHS[nxt], int(day[1]), today), 2
    except ValueError:  # "Feb 30": not a date, so leave the words in the title
        return None
    return None


def _end_of(which: str, today: dt.date) -> dt.date:
    if which == "eom":
        first_next = dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return first_next - dt.timedelta(days=1)
    quarter_end_month = ((today.month - 1) // 3 + 1) * 3
    first_next = dt.date(today.year + quarter_end_month // 12, quarter_end_month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _take_amount(word: str) -> float | None:
    match = _AMOUNT.match(word)
    if not match:
        return None
    number = float(match[1].replace(",", "."))
    suffix = (match[2] or "").lower()
    return number * {"": 1, "k": 1_000, "m": 1_000_000}[suffix]


def _stage_names(stages: Sequence[Stage]) -> dict[str, str]:
    """Every way to write a stage (id, label, a label's distinctive last word) -> stage id."""
    names: dict[str, str] = {}
    for stage in stages:
        names[normalise_choice(stage.id)] = stage.id
        names[normalise_choice(stage.label)] = stage.id
    for stage in stages:  # "won" and "lost" for the closed stages, unless ambiguous
        last = normalise_choice(stage.label).split("_")[-1]
        names.setdefault(last, stage.id)
    return names


def parse_quick_add(
    text: str,
    stages: Sequence[Stage],
    accounts: Iterable[str] = (),
    today: dt.date | None = None,
) -> QuickAdd:
    """Read one line into opportunity fields; raises ValueError when nothing is left for a title.

    Stage names of two words ("closed won") are tried before single words; an amount is a number
    with a k/m suffix or currency sign, or a bare number of 100 or more (smaller bare numbers are
    more likely part of the title, like "Phase 2").
    """
    today = today or dt.date.today()
    words = text.split()
    names = _stage_names(stages)
    fields: dict[str, Any] = {}
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        pair = normalise_choice(" ".join(words[i : i + 2])) if i + 1 < len(words) else ""
        if "stage" not in fields and pair in names:
            fields["stage"] = names[pair]
            i += 2
            continue
        if "stage" not in fields and normalise_choice(word) in names:
            fields["stage"] = names[normalise_choice(word)]
            i += 1
            continue
        if "close_date" not in fields:
            found = _take_date(words, i, today)
            if found is not None:
                fields["close_date"] = found[0].isoformat()
                i += found[1]
                continue
        if "amount" not in fields:
            amount = _take_amount(word)
            bare = word.replace(",", "").replace(".", "").isdigit()
            if amount is not None and (not bare or amount >= 100):
                fields["amount"] = amount
                i += 1
                continue
        rest.append(word)
        i += 1
    title = " ".join(rest).strip()
    if not title:
        raise ValueError("say what the deal is: an account and a title, e.g. 'Acme renewal 50k'")
    fields["title"] = title
    known = sorted(accounts, key=len, reverse=True)
    lowered = title.lower()
    account = next(
        (a for a in known if a and (lowered == a.lower() or lowered.startswith(a.lower() + " "))),
        None,
    )
    fields["account"] = account or rest[0]
    defaulted = []
    if "amount" not in fields:
        fields["amount"] = 0.0
        defaulted.append("amount")
    if "stage" not in fields:
        fields["stage"] = stages[0].id if stages else "prospecting"
        defaulted.append("stage")
    if "close_date" not in fields:
        fields["close_date"] = (today + dt.timedelta(days=DEFAULT_CLOSE_DAYS)).isoformat()
        defaulted.append("close_date")
    return QuickAdd(fields, defaulted)
