"""Small shared helpers for in-process tests (not a test module; fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio


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


async def until(predicate: Callable[[], Any], timeout: float, what: str,
                interval: float = 0.05) -> Any:
    """Inside a trio run: wait until ``predicate()`` is truthy and return it, or fail after
    ``timeout`` seconds naming ``what`` was awaited (the condition, never a guessed delay)."""
    deadline = trio.current_time() + timeout
    while not (value := predicate()):
        if trio.current_time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await trio.sleep(interval)
    return value
