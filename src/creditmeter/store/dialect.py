"""What differs between the two databases a store runs on, as one object each (SQLITE,
POSTGRESQL): how rows travel in one statement, how statements are cut, and whether writers
run one at a time. `dialect_of` is the one place that tells which a connection speaks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

SQLITE_MAX_PARAMS: Final = 32_000


def run(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Runs `sql` on the transaction's own DBAPI cursor: plain tuples, no per-row wrapping."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def _power_of_two_at_most(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def padded(rows: Sequence[Any], filler: Any) -> list[Any]:
    """`rows`, then as many `filler` as make their count a power of two."""
    return [*rows, *[filler] * ((1 << (len(rows) - 1).bit_length()) - len(rows))]


@dataclass(frozen=True)
class Dialect:
    """The SQL shapes the ledger's statements are built from. Rows are sent as one statement
    per table and batch: per-row parameter handling cost more than the database's own work."""

    name: str
    placeholder: str
    one_writer: bool  # whether write transactions run one at a time (no lock needed to read)
    insert: Callable[[Any], sqlite.Insert | postgresql.Insert]  # Core INSERT with ON CONFLICT
    least: str  # the SQL function of the smaller of two values
    greatest: str  # and of the larger

    def source(self, types: Sequence[str], count: int) -> str:
        """A FROM source of `count` rows of values of these SQL types."""
        raise NotImplementedError

    def params(self, rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
        """The parameters of `source` for these rows."""
        raise NotImplementedError

    def chunks(self, rows: Sequence[Any], width: int) -> Iterable[Sequence[Any]]:
        """`rows` cut into as many statements' worth as this database takes."""
        raise NotImplementedError

    def padded_chunks(self, rows: Sequence[Any], filler: Any, most: int) -> Iterable[list[Any]]:
        """Rows to look up, cut and padded with `filler` rows (that match nothing) so that
        few distinct statement texts exist."""
        raise NotImplementedError

    def packed(self, columns: str) -> str:
        """A SELECT list answering the rows of `columns`; `unpacked` reads them back."""
        return columns

    def unpacked(self, rows: list[tuple[Any, ...]]) -> list[Sequence[Any]]:
        return list(rows)


class _SQLite(Dialect):
    def source(self, types: Sequence[str], count: int) -> str:
        row = "(" + ", ".join("?" * len(types)) + ")"
        return "VALUES " + ", ".join([row] * count)

    def params(self, rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
        return tuple(chain.from_iterable(rows))

    def chunks(self, rows: Sequence[Any], width: int) -> Iterable[Sequence[Any]]:
        # Power-of-two sizes within the parameter limit: each connection caches its prepared
        # statements, and a large one per batch size grows the server (docs/benchmarks.md).
        limit = max(1, SQLITE_MAX_PARAMS // width)
        start = 0
        while start < len(rows):
            size = min(limit, _power_of_two_at_most(len(rows) - start))
            yield rows[start : start + size]
            start += size

    def padded_chunks(self, rows: Sequence[Any], filler: Any, most: int) -> Iterable[list[Any]]:
        for start in range(0, len(rows), most):
            yield padded(rows[start : start + most], filler)

    def packed(self, columns: str) -> str:
        # One row of JSON: one step of the statement, not one per row.
        return f"json_group_array(json_array({columns}))"

    def unpacked(self, rows: list[tuple[Any, ...]]) -> list[Sequence[Any]]:
        found: list[Sequence[Any]] = json.loads(rows[0][0])
        return found


class _PostgreSQL(Dialect):
    def source(self, types: Sequence[str], count: int) -> str:
        # One array per column: the statement text never depends on `count`.
        return "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")"

    def params(self, rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
        return tuple(list(column) for column in zip(*rows, strict=True))

    def chunks(self, rows: Sequence[Any], width: int) -> Iterable[Sequence[Any]]:
        if rows:
            yield rows

    def padded_chunks(self, rows: Sequence[Any], filler: Any, most: int) -> Iterable[list[Any]]:
        if rows:
            yield list(rows)


SQLITE: Final[Dialect] = _SQLite(
    "sqlite", "?", one_writer=True, insert=sqlite.insert, least="min", greatest="max"
)
POSTGRESQL: Final[Dialect] = _PostgreSQL(
    "postgresql",
    "%s",
    one_writer=False,
    insert=postgresql.insert,
    least="LEAST",
    greatest="GREATEST",
)


_BY_NAME: Final = {"sqlite": SQLITE, "postgresql": POSTGRESQL}


def dialect_of(engine: Engine | Connection) -> Dialect:
    """The dialect of this engine's (or connection's) database."""
    return _BY_NAME[engine.dialect.name]
