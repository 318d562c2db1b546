"""Throwaway stores: a database of its own on the test PostgreSQL, or a SQLite file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from creditmeter.settings import Settings
from creditmeter.store import Store, open_store
from creditmeter.store.engine import normalize_url

POSTGRES_URL = os.environ.get("CREDITMETER_TEST_POSTGRES_URL")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards (even if a
    connection is still open)."""
    assert POSTGRES_URL, "CREDITMETER_TEST_POSTGRES_URL is not set"
    server = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"creditmeter_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(POSTGRES_URL)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@contextmanager
def throwaway_store_url(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty store: a SQLite file in `directory`, or a PostgreSQL
    database (`backend` "postgres") dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'ledger.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


@contextmanager
def opened_store(url: str) -> Iterator[Store]:
    """The store at `url`, migrated, disposed of afterwards."""
    store = open_store(Settings(database_url=url))
    try:
        yield store
    finally:
        store.dispose()
