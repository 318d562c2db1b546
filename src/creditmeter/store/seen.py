"""The event keys an import has read so far, in a scratch SQLite file of its own.

`creditmeter import` must refuse a file that reuses an id with other content before it
stores anything, so its first pass remembers every key it reads. Kept in memory that cost
~350 bytes a line; kept here it costs a bounded page cache, whatever the file's length.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

Key = tuple[str, str]  # (account_id, event_id)
_CHUNK = 4096  # keys per look-up: 8192 parameters, far below SQLite's limit


class SeenKeys:
    """Each key's first line and a digest of the content it had there."""

    def __init__(self, directory: Path):
        self._conn = sqlite3.connect(directory / "seen-keys.db", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-8192"):
            self._conn.execute(f"PRAGMA {pragma}")  # scratch: nothing to keep after a crash
        self._conn.execute(
            "CREATE TABLE seen (account_id TEXT, event_id TEXT, line INTEGER, digest INTEGER,"
            " PRIMARY KEY (account_id, event_id)) WITHOUT ROWID"
        )

    def first_uses(self, keys: Sequence[Key]) -> dict[Key, tuple[int, int]]:
        """(line, digest) of those of `keys` seen before."""
        found: dict[Key, tuple[int, int]] = {}
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            values = ", ".join(["(?, ?)"] * len(chunk))
            rows = self._conn.execute(
                f"WITH k(a, e) AS (VALUES {values}) SELECT s.account_id, s.event_id, s.line,"
                " s.digest FROM k JOIN seen s ON s.account_id = k.a AND s.event_id = k.e",
                [part for key in chunk for part in key],
            )
            found.update(((a, e), (line, digest)) for a, e, line, digest in rows)
        return found

    def add(self, rows: Sequence[tuple[str, str, int, int]]) -> None:
        """Records (account_id, event_id, line, digest) of keys not seen before."""
        with self._conn:  # one transaction, not one per row
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._conn.close()
