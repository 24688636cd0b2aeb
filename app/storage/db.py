"""Opening encrypted SQLite databases (SQLCipher) for the store and the index.

SQLCipher encrypts every page (and the WAL) with AES-256 and authenticates it with HMAC, so
the store and the search index hold no plaintext on disk while SQLite's WAL crash safety, FTS5
and sqlite-utils keep working unchanged. Chosen over per-row AES-GCM because the index (FTS5
shadow tables) could not be encrypted row by row, and over an in-memory index because the
10,000-record index would be rebuilt at every start of every CLI command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3
import sqlite_utils

DatabaseError = sqlcipher3.DatabaseError
Damaged = Callable[[Exception], Exception]
PRIVATE_FILE = 0o600


def private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only, or take group and other access away from an
    existing one (profiles made before this rule). SQLite gives its -wal and -shm files the
    database file's mode, so they follow."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def _guarded(damaged: Damaged) -> type[sqlcipher3.Connection]:
    """A connection class whose every statement and fetch turns SQLite's "damaged file"
    errors (a failed page HMAC, a malformed page) into ``damaged(exc)``, so a damaged page met
    in the middle of a command is reported like one met at open. Busy, I/O and constraint
    errors (subclasses of DatabaseError) pass unchanged."""

    def guard(call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except DatabaseError as exc:
            if type(exc) is not DatabaseError:
                raise
            raise damaged(exc) from exc

    class Cursor(sqlcipher3.Cursor):
        def execute(self, *args: Any) -> Any:
            return guard(super().execute, *args)

        def executemany(self, *args: Any) -> Any:
            return guard(super().executemany, *args)

        def fetchone(self) -> Any:
            return guard(super().fetchone)

        def fetchmany(self, *args: Any) -> Any:
            return guard(super().fetchmany, *args)

        def fetchall(self) -> Any:
            return guard(super().fetchall)

        def __next__(self) -> Any:
            return guard(super().__next__)

    class Connection(sqlcipher3.Connection):
        def cursor(self, factory: Any = Cursor) -> Any:
            return super().cursor(factory)

    return Connection


def connect(path: Path, key: bytes, *, synchronous: str = "FULL", damaged: Damaged | None = None
            ) -> sqlite_utils.Database:
    """An open WAL database keyed with ``key``, readable by its owner only; DatabaseError when
    the key or file is wrong. With ``damaged``, later errors of a damaged file are raised as
    what it returns (see :func:`_guarded`)."""
    private_file(path)
    factory = _guarded(damaged) if damaged else sqlcipher3.Connection
    conn = sqlcipher3.connect(str(path), timeout=30, isolation_level=None,
                              check_same_thread=False, factory=factory)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # no stderr noise on a wrong key
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # checks key and file
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise DatabaseError(f"cannot enable WAL (journal mode {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


def check_pages(db: sqlite_utils.Database) -> None:
    """Raise DatabaseError unless every page of the file passes its HMAC: random bytes written
    into a file are found at open (about 3 ms per MB), before a command reads or writes."""
    problems = db.conn.execute("PRAGMA cipher_integrity_check").fetchall()
    if problems:
        raise DatabaseError(f"{len(problems)} damaged page(s): {problems[0][0]}")
