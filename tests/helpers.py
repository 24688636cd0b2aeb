"""Small shared helpers for in-process tests (not a test module; fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
from automerge import core
from automerge.core import ROOT

from bullpen.app.workspace import Workspace


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


def readable(ws: Workspace) -> str:
    """Everything a profile holds as its owner reads it, decrypted: each document's content
    and every row of its store and its search index. The files on disk are encrypted, so
    looking for a name in them could never find it; look here instead."""
    docs = [repr(core.extract(ws.doc(doc_id), ROOT)) for doc_id in ws.doc_ids()]
    rows = [repr(row) for db in (ws.store.db, ws.index.db) for table in db.table_names()
            for row in db.execute(f'SELECT * FROM "{table}"').fetchall()]
    return "\n".join([*docs, *rows])
