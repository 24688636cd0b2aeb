"""Record kinds and their fields (validation of input by them: :mod:`.validation`).

One table of field specs drives the CLI flags, import mapping, validation and the index, so a
new field is added in one place. Stored values are plain JSON-like Python values: ``str``,
``float``, ``int``, ``bool``, ``list[str]`` and ``dict[str, str]``; dates are ISO strings so
that they sort and compare as text and survive every export format unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .checks import MAX_AMOUNT, MAX_INT, ValidationError


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
