"""Upgrading a profile's store written by an older Bullpen, at open, without losing it.

Why this exists: sales reps upgrade the app in place (a new bundle over the old folder) and
expect yesterday's profile to open. The store records the layout it was written with in its
``meta`` table (``schema_version``, see :data:`bullpen.app.storage.store.SCHEMA_VERSION`). When the
app's version is higher, the steps registered here bring the store forward one version at a
time: step ``N`` turns a version-N store into a version-(N+1) store.

Guarantees, and how:

* **All or nothing.** Every pending step and the new ``schema_version`` run inside one SQLite
  transaction (``BEGIN IMMEDIATE``); a failing step rolls everything back, so the store is
  exactly as it was, and the error names the backup.
* **A copy first.** Before the first step, ``store.db`` (and its WAL) is copied to
  ``backups/store-v<N>-<UTC time>.db`` beside it, while the transaction holds SQLite's write
  lock, so no other process (the CLI beside a running node) can write in between and the copy
  is consistent. The copy is encrypted exactly as the store is (same file, same key).
* **Once.** The version is read again after the lock is taken: of two processes opening an old
  profile at the same moment, the second finds the work done and does nothing.
* Automerge documents need no migration (their format is automerge's, and old changes stay
  valid forever); steps are for the SQLite layout around them (tables, columns, meta keys).
  The search index (``index.db``) is derived and rebuilt when stale, so it has no steps.

Adding a step when the layout changes: bump ``SCHEMA_VERSION`` in store.py to N+1, then::

    @step(N)
    def _add_pinned_column(store: Store) -> None:
        '''Why the layout changed.'''
        store.db.execute("ALTER TABLE peers ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

and commit a profile fixture written by version N (tests/fixtures/make_profile_v1.py shows
how) so tests/test_migrations.py opens it with the new code.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bullpen.app.storage.store import Store

Step = Callable[["Store"], None]

#: from-version -> the step that turns a store of that version into the next version.
STEPS: dict[int, Step] = {}

BACKUP_DIR = "backups"


def step(from_version: int) -> Callable[[Step], Step]:
    """Register ``fn`` as the step from ``from_version`` to ``from_version + 1``."""

    def register(fn: Step) -> Step:
        if from_version in STEPS:
            raise ValueError(f"two migration steps from version {from_version}")
        STEPS[from_version] = fn
        return fn

    return register


def _error(message: str) -> Exception:
    """A StoreError (imported late: store.py imports this module), so the CLI shows one line."""
    from bullpen.app.storage.store import StoreError

    return StoreError(message)


def plan(current: int, target: int, steps: dict[int, Step] | None = None) -> list[int]:
    """The from-versions to run to go from ``current`` to ``target``; an error if one is
    missing (better to refuse than to open a store half understood)."""
    steps = STEPS if steps is None else steps
    missing = [v for v in range(current, target) if v not in steps]
    if missing:
        raise _error(f"no migration from store version {missing[0]} to {missing[0] + 1}; "
                     f"this Bullpen cannot open the profile (store version {current})")
    return list(range(current, target))


def backup(path: Path, version: int) -> Path:
    """Copy the store's files (db and WAL) to ``backups/``; the caller holds the write lock."""
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    dest = folder / f"{path.stem}-v{version}-{stamp}{path.suffix}"
    shutil.copy2(path, dest)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        shutil.copy2(wal, dest.with_name(dest.name + "-wal"))
    return dest


def migrate(store: Store, target: int, steps: dict[int, Step] | None = None) -> Path | None:
    """Bring ``store`` to version ``target``: one transaction, backup first. Returns the backup
    path, or None when the store was already current (the common case: one meta read)."""
    steps = STEPS if steps is None else steps
    version = store.get_meta("schema_version")
    if version is not None and int(version) >= target:
        return None
    saved: Path | None = None
    try:
        with store.transaction():
            version = store.get_meta("schema_version")  # again, under the write lock
            current = target if version is None else int(version)
            if current >= target:
                return None
            todo = plan(current, target, steps)
            saved = backup(store.path, current)
            for from_version in todo:
                steps[from_version](store)
                store.set_meta("schema_version", str(from_version + 1))
    except Exception as exc:
        if saved is None:
            raise
        raise _error(f"{store.path}: upgrading the store from version {version} to {target} "
                     f"failed ({exc}); nothing was changed, and a copy taken before the upgrade "
                     f"is at {saved}") from exc
    return saved
