"""Fixtures: a store on SQLite and on a real PostgreSQL, the app over it, and keys."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from creditmeter import accounts, keys
from creditmeter.http import create_app
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store
from creditmeter.store.engine import normalize_url
from creditmeter.store.tables import metadata
from tests.support.stores import POSTGRES_URL, throwaway_postgres

IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_answers(url: str) -> bool:
    try:
        engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def pytest_sessionstart(session: pytest.Session) -> None:
    # SIGTERM (`kill`, a CI runner's cancel) as Ctrl-C: pytest then runs the finalizers of
    # the fixtures in use, which stop the servers tests started in sessions of their own
    # (beyond the reach of a signal to pytest's process group) and drop their databases.
    signal.signal(signal.SIGTERM, _interrupted)
    if IN_CI and (not POSTGRES_URL or not _postgres_answers(POSTGRES_URL)):
        pytest.exit(
            "CI=true but no PostgreSQL answers at CREDITMETER_TEST_POSTGRES_URL "
            f"({POSTGRES_URL!r}); the PostgreSQL tests must run in CI",
            returncode=1,
        )


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the test server for this session (one per xdist worker)."""
    if not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    with throwaway_postgres() as url:
        open_store(Settings(database_url=url)).dispose()  # migrate once
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = open_store(Settings(database_url=f"sqlite:///{path}"))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    return path


def _store_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ledger.db"
        shutil.copy(template, path)
        return open_store(Settings(database_url=f"sqlite:///{path}"), upgrade=False)
    url: str = request.getfixturevalue("postgres_database")
    store = open_store(Settings(database_url=url), upgrade=False)
    with store.engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names}"))
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store under test, once on SQLite and once on PostgreSQL."""
    the_store = _store_for(request.param, request, tmp_path)
    yield the_store
    the_store.dispose()


@pytest.fixture
def postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A PostgreSQL store, for what only PostgreSQL does (mark the test postgres)."""
    the_store = _store_for("postgres", request, tmp_path)
    yield the_store
    the_store.dispose()


@pytest.fixture
def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    the_store = _store_for("sqlite", request, tmp_path)
    yield the_store
    the_store.dispose()


def test_settings(**overrides: Any) -> Settings:
    return Settings(**{"read_rate_limit": 0, **overrides})


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(test_settings(database_url=str(store.engine.url)), store=store)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def make_key(
    store: Store,
    scope: str,
    account_id: str | None = None,
    bot_id: str | None = None,
    expires_in_days: float | None = None,
) -> str:
    return keys.create_key(
        store=store,
        scope=scope,
        account_id=account_id,
        bot_id=bot_id,
        expires_in_days=expires_in_days,
    ).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ingest_key(store: Store) -> str:
    return make_key(store, "ingest")


@pytest.fixture
def admin_key(store: Store) -> str:
    return make_key(store, "admin")


@pytest.fixture
def shanghai(store: Store) -> str:
    """An account in Asia/Shanghai, as in GPTBots' own example; returns its read key."""
    accounts.create_account(store=store, account_id="acme", name="Acme", timezone="Asia/Shanghai")
    return make_key(store, "read", "acme")
