"""The parts of the record schema a front end shows or checks, so ui/ and cli/ import app/ only.

The schema lives in crdt/ (it validates every change, local or received, below the app); the
presentations need a few of its names to offer choices and check typed input: a workspace's
:class:`Stage`, the forecast and topic categories, the opportunity fields an import maps to,
and the check of a currency code with the error it raises. They are the same objects as in
crdt/, named here so that the layers contract can forbid presentations to import crdt/.
"""

from __future__ import annotations

from bullpen.crdt.checks import ValidationError, currency
from bullpen.crdt.schema import FORECAST_CATEGORIES, OPPORTUNITY, TOPIC_CATEGORIES, Stage
from bullpen.crdt.validation import normalise_choice

__all__ = [
    "FORECAST_CATEGORIES",
    "OPPORTUNITY",
    "TOPIC_CATEGORIES",
    "Stage",
    "ValidationError",
    "currency",
    "normalise_choice",
]
