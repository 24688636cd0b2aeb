"""Record kinds, their fields, and validation of user input into stored values.

One table of field specs drives the CLI flags, import mapping, validation and the index, so a
new field is added in one place. Stored values are plain JSON-like Python values: ``str``,
``float``, ``int``, ``bool``, ``list[str]`` and ``dict[str, str]``; dates are ISO strings so
that they sort and compare as text and survive every export format unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from .checks import MAX_AMOUNT, MAX_INT, ValidationError, check_span, currency, text, timezone
from .iso4217 import currency_code


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # str | float | int | bool | date | datetime | list | map | enum
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    searchable: bool = False  # goes into the full-text index
    help: str = ""


@dataclass(frozen=True)
class KindSpec:
    """A record kind: which collection document holds it and what fields it has."""

    name: str
    collection: str  # the automerge document id that stores records of this kind
    fields: tuple[FieldSpec, ...]
    title_field: str
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    probability: int
    category: str


FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "closed", "omitted")

# Defaults follow the EspoCRM/Salesforce convention; a workspace may replace the list.
DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("prospecting", "Prospecting", 10, "pipeline"),
    Stage("qualification", "Qualification", 10, "pipeline"),
    Stage("proposal", "Proposal", 75, "best_case"),
    Stage("negotiation", "Negotiation", 90, "commit"),
    Stage("closed_won", "Closed Won", 100, "closed"),
    Stage("closed_lost", "Closed Lost", 0, "omitted"),
)

TOPIC_CATEGORIES = ("general", "competitive", "product", "ideas")

S, F, INT, B = "str", "float", "int", "bool"

OPPORTUNITY = KindSpec(
    "opportunity",
    "pipeline",
    (
        FieldSpec("account", S, required=True, searchable=True),
        FieldSpec("title", S, required=True, searchable=True),
        FieldSpec("amount", F, required=True, minimum=0, maximum=MAX_AMOUNT),
        FieldSpec("currency", "currency"),
        FieldSpec("stage", "enum", required=True),  # choices come from the workspace
        FieldSpec("probability", INT, minimum=0, maximum=100),
        FieldSpec("category", "enum", choices=FORECAST_CATEGORIES),
        FieldSpec("close_date", "date", required=True),
        FieldSpec("owner", S, searchable=True),
        FieldSpec("next_step", S, searchable=True),
        FieldSpec("notes", S, searchable=True),
        FieldSpec("contact_ids", "list"),
        FieldSpec("external_id", S),
        FieldSpec("followers", "list"),
    ),
    "title",
)

CONTACT = KindSpec(
    "contact",
    "contacts",
    (
        FieldSpec("name", S, required=True, searchable=True),
        FieldSpec("company", S, searchable=True),
        FieldSpec("title", S, searchable=True),
        FieldSpec("emails", "list", searchable=True),
        FieldSpec("phones", "list"),
        FieldSpec("notes", S, searchable=True),
        FieldSpec("external_id", S),
    ),
    "name",
)

EVENT = KindSpec(
    "event",
    "calendar",
    (
        FieldSpec("title", S, required=True, searchable=True),
        FieldSpec("start", "datetime", required=True),
        FieldSpec("end", "datetime"),
        FieldSpec("all_day", B),
        FieldSpec("timezone", "timezone"),
        FieldSpec("location", S, searchable=True),
        FieldSpec("attendees", "list"),
        FieldSpec("opportunity_id", S),
        FieldSpec("description", S, searchable=True),
        FieldSpec("rrule", S),
        FieldSpec("exdates", "list"),
        FieldSpec("external_id", S),
    ),
    "title",
)

TOPIC = KindSpec(
    "topic",
    "discussions",
    (
        FieldSpec("title", S, required=True, searchable=True),
        FieldSpec("category", "enum", choices=TOPIC_CATEGORIES),
        FieldSpec("body", S, searchable=True),
        FieldSpec("followers", "list"),
    ),
    "title",
)

POST = KindSpec(
    "post",
    "discussions",
    (
        FieldSpec("topic_id", S, required=True),
        FieldSpec("text", S, required=True, searchable=True),
        FieldSpec("reply_to", S),
        FieldSpec("reactions", "map"),  # member peer id -> reaction ("helpful", "+1", ...)
    ),
    "text",
)

ANNOUNCEMENT = KindSpec(
    "announcement",
    "messages",
    (
        FieldSpec("text", S, required=True, searchable=True),
        FieldSpec("title", S, searchable=True),
        FieldSpec("pinned", B),
        FieldSpec("read_by", "map"),  # member peer id -> ISO time read
    ),
    "text",
)

RESOURCE = KindSpec(
    "resource",
    "resources",
    (
        FieldSpec("name", S, required=True, searchable=True),
        FieldSpec("size", INT, minimum=0, maximum=MAX_INT),
        FieldSpec("mime", S),
        FieldSpec("sha256", S, required=True),
        FieldSpec("description", S, searchable=True),
        FieldSpec("reactions", "map"),
    ),
    "name",
)

# A co-edited document's body lives in an automerge document of its own ("doc:<id>"), so a long
# proposal never rides along with pipeline changes; its catalogue entry (title) lives in the
# small "catalogue" document (or in a shared space), so listing documents needs no bodies.
DOCUMENT = KindSpec(
    "document",
    "catalogue",
    (
        FieldSpec("title", S, required=True, searchable=True),
        FieldSpec("reactions", "map"),
    ),
    "title",
)

# A space is a room shared with customer guests (a deal room): its own collection document
# ("space:<id>") holding the topics, posts, resources and document entries shared there, so a
# guest's peer receives exactly those documents and nothing of the pipeline or other spaces.
SPACE = KindSpec(
    "space",
    "space:*",  # a space's own record lives in its document, so its guests receive it
    (
        FieldSpec("title", S, required=True, searchable=True),
        FieldSpec("guests", "list"),  # peer ids of the guests who see this space
        # A deal room (app/rooms): whose it is, what deal it is for, what its guests are told
        # of the deal, and whether it is closed (read-only). Only the owner or a manager
        # removes guests, closes, reopens or hands the room over (app/members/authz.py).
        FieldSpec("owner", S),  # peer id; the creator when unset
        FieldSpec("account", S, searchable=True),
        FieldSpec("opportunity_id", S),
        FieldSpec("status", S, searchable=True),  # the deal's status as the customer sees it
        FieldSpec("next_steps", S, searchable=True),
        FieldSpec("closed", B),
        FieldSpec("closed_at", "datetime"),
        FieldSpec("invites", "map"),  # invite secret's hash -> the contact's email
    ),
    "title",
)

# One task of a deal room's mutual action plan: for the customer's side or the vendor's. A
# guest adds and ticks off only the customer side's tasks (app/members/authz.py).
PLAN_SIDES = ("customer", "vendor")
PLAN_TASK = KindSpec(
    "plan_task",
    "space:*",  # only ever in a deal room's document
    (
        FieldSpec("title", S, required=True, searchable=True),
        FieldSpec("side", "enum", required=True, choices=PLAN_SIDES),
        FieldSpec("assignee", S, searchable=True),
        FieldSpec("due", "date"),
        FieldSpec("done", B),
        FieldSpec("reactions", "map"),
    ),
    "title",
)

KINDS: dict[str, KindSpec] = {
    k.name: k
    for k in (OPPORTUNITY, CONTACT, EVENT, TOPIC, POST, ANNOUNCEMENT, RESOURCE, DOCUMENT,
              SPACE, PLAN_TASK)
}

# The forecast call (app/sales/submissions.py): a rep's submitted forecast for a period, and a
# manager's adjustment of a rep's or a team's number. Both live in the "forecasts" document and
# are never changed once written (a resubmission is a new record, the latest counts), so the
# rep's own number and the manager's adjustment are both kept, each with who and when.
FORECAST_SCOPES = ("rep", "team")
_CALL_FIELDS = (
    FieldSpec("period", S, required=True),  # a canonical period label: 2026-Q4, 2026-11 ...
    FieldSpec("commit", F, required=True, minimum=0, maximum=MAX_AMOUNT),
    FieldSpec("best_case", F, required=True, minimum=0, maximum=MAX_AMOUNT),
    FieldSpec("comment", S, searchable=True),
)
FORECAST_SUBMISSION = KindSpec(
    "forecast_submission", "forecasts",
    (*_CALL_FIELDS, FieldSpec("rep", S, required=True)),  # the submitting rep's peer id
    "period",
)
FORECAST_ADJUSTMENT = KindSpec(
    "forecast_adjustment", "forecasts",
    (*_CALL_FIELDS,
     FieldSpec("scope", "enum", required=True, choices=FORECAST_SCOPES),
     FieldSpec("target", S, required=True)),  # the rep's, or the team's manager's, peer id
    "period",
)

# An action item (app/sales/action_items.py): it lands in its owner's tasks. Anyone on the
# team creates one for anyone; only its owner or a manager edits or completes it.
TASK_STATUSES = ("open", "done")
ACTION_ITEM = KindSpec(
    "action_item",
    "tasks",
    (
        FieldSpec("text", S, required=True, searchable=True),
        FieldSpec("owner", S, required=True),  # the owner's peer id
        FieldSpec("due", "date"),
        FieldSpec("status", "enum", required=True, choices=TASK_STATUSES),
        FieldSpec("opportunity_id", S),
        FieldSpec("event_id", S),
    ),
    "text",
)

# Documents whose every change, by any role, is judged record by record
# (app/members/office_rules.py), with the only kinds each holds and is listed from.
RULED_DOCS: dict[str, tuple[str, ...]] = {
    FORECAST_SUBMISSION.collection: (FORECAST_SUBMISSION.name, FORECAST_ADJUSTMENT.name),
    ACTION_ITEM.collection: (ACTION_ITEM.name,),
}
KINDS.update((k.name, k) for k in (FORECAST_SUBMISSION, FORECAST_ADJUSTMENT, ACTION_ITEM))


def listed_from(kind: Any, doc_id: str) -> bool:
    """May a record of ``kind`` found in ``doc_id`` be listed? A ruled document's kinds only
    from that document (a rep's forged submission in the pipeline, which is not judged record
    by record, is never one), and a ruled document only its kinds."""
    home = next((d for d, kinds in RULED_DOCS.items() if kind in kinds), None)
    if home is not None:
        return doc_id == home
    return doc_id not in RULED_DOCS


# The small workspace document every member (guests too) holds: settings, membership, invites.
INDEX_DOC = "index"
# The team's numbers only managers set (quotas, exchange rates, forecast snapshots): a document
# of its own, so a change to it is judged by its author's role alone; guests never receive it.
ADMIN_DOC = "admin"
ADMIN_MAPS = ("quotas", "rates", "forecast_snapshots")
# Documents every workspace starts with; each co-edited document adds a "doc:<id>", each shared
# space a "space:<id>".
COLLECTIONS: tuple[str, ...] = tuple(
    sorted({k.collection for k in KINDS.values() if ":" not in k.collection}
           | {INDEX_DOC, ADMIN_DOC})
)


SPACE_KINDS = ("topic", "post", "resource", "document", "plan_task")  # a space holds


def text_doc_id(document_id: str) -> str:
    return f"doc:{document_id}"


def space_doc_id(space_id: str) -> str:
    return f"space:{space_id}"


def genesis_shape(doc_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(text objects, settings maps) that document ``doc_id``'s genesis creates."""
    if doc_id.startswith(text_doc_id("")):
        return ("body",), ()
    if doc_id == ADMIN_DOC:
        return (), ADMIN_MAPS
    return (), ()


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValidationError(f"unknown record kind {kind!r}") from None


def parse_date(value: Any, name: str = "date") -> str:
    """Accept ISO dates (and date objects); store ``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValidationError(f"{name}: {value!r} is not a date (use YYYY-MM-DD)") from None


def parse_datetime(value: Any, name: str = "datetime") -> str:
    """Accept ISO date-times or dates; store ISO text (dates stay dates for all-day events)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ValidationError(
            f"{name}: {value!r} is not a date-time (use YYYY-MM-DDTHH:MM)"
        ) from None


def _number(spec: FieldSpec, value: Any, cast: type) -> float | int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{spec.name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValidationError(f"{spec.name}: {value!r} is not a finite number")
    if abs(number) > MAX_INT and cast is int:
        raise ValidationError(f"{spec.name}: {value!r} is out of range")
    number = cast(number)
    if spec.minimum is not None and number < spec.minimum:
        raise ValidationError(f"{spec.name}: {value!r} must be at least {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValidationError(f"{spec.name}: {value!r} must be at most {spec.maximum:g}")
    return number


def _bool(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValidationError(f"{spec.name}: {value!r} is not yes/no")


def _list(spec: FieldSpec, value: Any) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        raise ValidationError(f"{spec.name}: {value!r} is not a list")
    return [text(v, spec.name) for v in items if v]


def coerce(spec: FieldSpec, value: Any, choices: tuple[str, ...] = ()) -> Any:
    """Turn one user-supplied value into its stored form, or raise ValidationError."""
    if value is None:
        return None
    kind = spec.type
    if kind == "str":
        return text(value, spec.name)
    if kind == "currency":
        return currency(value, spec.name)
    if kind == "timezone":
        return timezone(value, spec.name)
    if kind == "float":
        return float(_number(spec, value, float))
    if kind == "int":
        return int(_number(spec, value, int))
    if kind == "bool":
        return _bool(spec, value)
    if kind == "date":
        return parse_date(value, spec.name)
    if kind == "datetime":
        return parse_datetime(value, spec.name)
    if kind == "list":
        return _list(spec, value)
    if kind == "map":
        if not isinstance(value, dict):
            raise ValidationError(f"{spec.name}: {value!r} is not a mapping")
        return {text(k, spec.name): text(v, spec.name) for k, v in value.items()}
    if kind == "enum":
        allowed = choices or spec.choices
        choice = normalise_choice(str(value))
        if choice not in allowed:
            raise ValidationError(
                f"{spec.name}: unknown value {value!r} (one of: {', '.join(allowed)})"
            )
        return choice
    raise AssertionError(f"unhandled field type {kind}")


def normalise_choice(text: str) -> str:
    """'Closed Won', 'closed-won' and 'closed_won' are the same choice."""
    return "_".join(text.strip().lower().replace("-", " ").replace("/", " ").split())


def validate(
    kind: str,
    values: dict[str, Any],
    *,
    partial: bool = False,
    choices: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Validate and coerce fields of ``kind``; ``partial`` is for updates (nothing required).

    ``choices`` supplies workspace-configured enums (the stage list). Unknown field names are
    an error rather than silently dropped, so a typo in a CLI flag or import map is caught.
    """
    spec = kind_spec(kind)
    out: dict[str, Any] = {}
    for name, value in values.items():
        fspec = spec.by_name.get(name)
        if fspec is None:
            raise ValidationError(f"{kind} has no field {name!r}")
        coerced = coerce(fspec, value, (choices or {}).get(name, ()))
        if fspec.required and coerced in (None, ""):
            raise ValidationError(f"{name} must not be empty")
        out[name] = coerced
    if not partial:
        missing = [f.name for f in spec.fields if f.required and f.name not in out]
        if missing:
            raise ValidationError(f"{kind} needs {', '.join(missing)}")
    check_span(out)
    return out


def readable(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A stored record as views may use it, whoever wrote it (a modified client writes what it
    likes): numbers that are not numbers, not finite or out of their field's range, time zones
    that do not exist and lists that are not lists become None; currencies are upper-cased and
    other text fields hold text. Every peer computes the same, so all show the same."""
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        return data
    out = dict(data)
    for f in spec.fields:
        value = out.get(f.name)
        if value is None:
            continue
        if f.type in ("float", "int", "timezone"):
            try:
                out[f.name] = coerce(f, value)
            except ValidationError:
                out[f.name] = None
        elif f.type == "currency":
            out[f.name] = currency_code(value) or str(value)
        elif f.type == "list" and not isinstance(value, list):
            out[f.name] = None
        elif f.type == "str" and not isinstance(value, str):
            out[f.name] = str(value)
    return out
