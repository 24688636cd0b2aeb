"""Small shared helpers for in-process tests (not a test module; fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any


def opp_fields(**overrides: Any) -> dict[str, Any]:
    """A valid opportunity's fields, with ``overrides`` on top, so each test states only what
    it is about."""
    fields: dict[str, Any] = {
        "account": "Acme",
        "title": "Renewal",
        "amount": 50000,
        "stage": "proposal",
        "close_date": "2026-12-15",
    }
    fields.update(overrides)
    return fields
