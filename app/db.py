"""Opening encrypted SQLite databases (SQLCipher) for the store and the index.

SQLCipher encrypts every page (and the WAL) with AES-256 and authenticates it with HMAC, so
the store and the search index hold no plaintext on disk while SQLite's WAL crash safety, FTS5
and sqlite-utils keep working unchanged. Chosen over per-row AES-GCM because the index (FTS5
shadow tables) could not be encrypted row by row, and over an in-memory index because the
10,000-record index would be rebuilt at every start of every CLI command.
"""

from __future__ import annotations

from pathlib import Path

import sqlcipher3
import sqlite_utils

DatabaseError = sqlcipher3.DatabaseError


def connect(path: Path, key: bytes, *, synchronous: str = "FULL") -> sqlite_utils.Database:
    """An open WAL database keyed with ``key``; DatabaseError when the key or file is wrong."""
    conn = sqlcipher3.connect(str(path), timeout=30, isolation_level=None,
                              check_same_thread=False)
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
