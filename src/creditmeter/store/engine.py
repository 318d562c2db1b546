"""Opening the store: the engine, SQLite's pragmas, transactions and migrations."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from anyio import to_thread
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from ..errors import StoreUnavailable
from ..settings import Settings
from . import pg_timeouts, revisions
from .async_reads import AsyncReads
from .dialect import SQLITE, dialect_of, run
from .webhooks import OUTBOX_MARK

MIGRATIONS = Path(__file__).parent / "migrations"
CHECKPOINT_PAGES = 10_000  # SQLite's automatic checkpoint, in pages of WAL
_PG_MIGRATION_LOCK = 0x63726D74  # "crmt": serialises migrations of processes starting together


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and give them the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class ChangeWatch:
    """Tells whether anything was committed to a SQLite file since the last look, by any
    connection of any process: SQLite's `PRAGMA data_version`, on a connection of its own
    that never writes. Caches keyed by `generation()` can never serve data older than the
    last commit that finished before the look."""

    def __init__(self, path: str):
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def generation(self) -> int:
        with self._lock:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """One read statement, on this connection: autocommit, so one snapshot of its own."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._conn.close()


class WriterQueue:
    """The turn to write a SQLite file, for the writers of every process: an exclusive
    flock on `<database>-writer.lock`, taken before SQLite's own write lock.

    SQLite's busy handler polls, sleeping up to 100 ms between tries, so a process waiting
    for another's commit would wait long after it ended; the kernel hands a flock on at
    once. The turn is waited for with short naps up to the busy timeout, then refused as
    SQLite refuses (database is locked), so a stuck writer cannot hang the others."""

    NAP_S = 0.0005

    def __init__(self, database: str | None, timeout_s: float):
        self.path = database and database + "-writer.lock"  # None: no other process
        self.timeout_s = timeout_s
        self._thread_lock = threading.Lock()  # one thread of this process at a time
        self._fd: int | None = None
        self._pid = 0

    @property
    def lock_fd(self) -> int | None:
        """The lock file's descriptor in this process, once a turn has opened it."""
        return self._fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._file()
            deadline = time.monotonic() + self.timeout_s
            while fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise sqlite3.OperationalError(
                            "database is locked (by a writer of another process)"
                        ) from None
                    time.sleep(self.NAP_S)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int | None:
        """This process's own open file: a flock belongs to an open file, which a forked
        child would otherwise share with its parent."""
        if self.path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # Read-only is enough for a flock, so a user who may write the store but did not
            # create this file can still take the turn.
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class Store:
    """An engine and the two ways to use it: a read snapshot and a write transaction."""

    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.is_sqlite = dialect_of(engine) is SQLITE
        database = engine.url.database
        self._watch = (
            ChangeWatch(database)
            if self.is_sqlite and database and database != ":memory:"
            else None
        )
        self.writer_queue = WriterQueue(
            database if self._watch is not None else None, settings.sqlite_busy_timeout_ms / 1000
        )
        # (account_id, bot_id) pairs known to be in the bots table; bots are never deleted.
        self.known_bots: set[tuple[str, str]] = set()
        # PostgreSQL's reads from the event loop (look_async), made by the first of them.
        self._async_pool: AsyncReads | None = None
        # Called (from the writing thread) after a commit that wrote alert events: the
        # webhook deliverer's wake-up.
        self.after_outbox: list[Callable[[], None]] = []

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot: rollups and raw events are read as of the same instant
        (SQLite's read transaction; REPEATABLE READ on PostgreSQL, whose default gives each
        statement a snapshot of its own)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock first (BEGIN IMMEDIATE),
        so a busy database waits up to the busy timeout instead of failing mid-way.

        SQLite's busy handler polls rather than queues, so under steady contention one
        writer could lose for seconds; writers of this process therefore queue on a lock
        of their own first, and only one of them at a time contends with other processes."""
        if not self.is_sqlite:
            with self.engine.connect() as conn, self._noting_commits(conn), conn.begin():
                yield conn
            return
        with self.writer_turn(), self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with self._noting_commits(conn), conn.begin():
                yield conn

    @contextmanager
    def _noting_commits(self, conn: Connection) -> Iterator[None]:
        """Calls the `after_outbox` callbacks once a transaction that wrote alert events
        (webhooks.outbox marks its connection) has committed."""
        conn.info.pop(OUTBOX_MARK, None)
        try:
            yield
        except BaseException:
            conn.info.pop(OUTBOX_MARK, None)
            raise
        if conn.info.pop(OUTBOX_MARK, None):
            for callback in self.after_outbox:
                callback()

    @property
    def is_sqlite_file(self) -> bool:
        """SQLite in a file, which other processes can open too (not in memory)."""
        return self._watch is not None

    def writer_turn(self) -> AbstractContextManager[None]:
        """This process's turn to write to SQLite (see WriterQueue); write() takes it."""
        return self.writer_queue.turn()

    def generation(self) -> int | None:
        """A number that changes whenever anything is committed, or None when the store
        offers no cheap way to tell (PostgreSQL): then nothing may be cached."""
        return None if self._watch is None else self._watch.generation()

    def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of one read statement, which sees one snapshot: on SQLite on the change
        watch's own connection (autocommit), which never waits; on PostgreSQL through the
        pool."""
        if self._watch is not None:
            return self._watch.query(sql, params)
        with self.engine.connect() as conn:
            return run(conn, sql, params)

    async def query_async(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """query(), awaited: on PostgreSQL from the event loop (async_reads.py)."""
        if self.is_sqlite:
            return self.query(sql, params)
        reads = self._async_reads()
        if reads is None:
            return await to_thread.run_sync(self.query, sql, params)
        return await reads.fetch(sql, params)

    def _async_reads(self) -> AsyncReads | None:
        """The async pool of the running event loop; None on any other loop than the one it
        was made on (its connections and locks belong to that loop): such a caller (an app
        driven without its lifespan, whose every request may run on a loop of its own)
        reads through the sync pool on a thread instead."""
        loop = asyncio.get_running_loop()
        if self._async_pool is None:
            self._async_pool = AsyncReads(self.engine.url, self.settings, loop)
        return self._async_pool if self._async_pool.loop is loop else None

    def look(self, key_id: str, account_id: str | None) -> tuple[Any, ...] | None:
        """The key, the account it reads and that account's revision (store/revisions.py),
        in one statement: on SQLite on the change watch's own connection, which never
        waits; on PostgreSQL through the pool."""
        sql = revisions.look_sql(dialect_of(self.engine))
        if self._watch is not None:
            rows = self._watch.query(sql, (account_id, key_id))
            return rows[0] if rows else None
        with self.engine.connect() as conn:
            return revisions.look(conn, key_id, account_id)

    async def look_async(self, key_id: str, account_id: str | None) -> tuple[Any, ...] | None:
        """look(), awaited: on PostgreSQL one round trip from the event loop, with no
        thread hop (psycopg's async pool; its statements are prepared after a few uses)."""
        if self.is_sqlite:
            return self.look(key_id, account_id)
        reads = self._async_reads()
        if reads is None:
            return await to_thread.run_sync(self.look, key_id, account_id)
        return await reads.look(revisions.MANY_LOOKS_SQL, (account_id, key_id))

    async def close_async(self) -> None:
        """Closes what look_async opened, on the event loop that opened it."""
        pool = self._async_pool
        if pool is not None and pool.loop is asyncio.get_running_loop():
            self._async_pool = None
            await pool.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self.writer_queue.close()
        self.engine.dispose()


_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
_URL_FORMS = "sqlite:///relative.db, sqlite:////absolute/path.db or postgresql://user@host:5432/db"


def checked_url(url: str) -> str:
    """`url` with its driver (normalize_url), or StoreUnavailable saying which URLs work:
    a store that cannot be opened is named, never a driver's traceback."""
    try:
        parsed = make_url(normalize_url(url))
    except (exc.ArgumentError, ValueError):  # ValueError: a port that is no number
        hint = f"; for a SQLite file, sqlite:///{url}" if "://" not in url else ""
        raise StoreUnavailable(
            f"database URL: {url!r} is not a URL; use {_URL_FORMS}{hint}"
        ) from None
    if parsed.drivername not in _DRIVERS:
        raise StoreUnavailable(
            f"database URL: {parsed.drivername}:// is not supported; use {_URL_FORMS}"
        )
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and (not database or database == ":memory:"):
        raise StoreUnavailable(
            f"database URL: {url!r} names no file, and a store in memory would lose every "
            f"event when the process ends; use {_URL_FORMS}"
        )
    if parsed.get_backend_name() == "sqlite" and database:
        path = Path(database)
        if path.is_dir():
            raise StoreUnavailable(
                f"database URL: {database} is a directory; name a database file in it, "
                f"such as sqlite:///{path / 'creditmeter.db'}"
            )
        if path.exists() and not path.is_file():
            raise StoreUnavailable(f"database URL: {database} is not a regular file")
    return parsed.render_as_string(hide_password=False)


def open_store(settings: Settings, *, upgrade: bool = True) -> Store:
    """Make the engine for `settings.database_url` and bring its schema up to date."""
    url = checked_url(settings.database_url)
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url, settings)
    else:
        engine = _postgres_engine(url, settings)
    store = Store(engine, settings)
    if upgrade:
        upgrade_schema(store)
    return store


def _postgres_engine(url: str, settings: Settings) -> Engine:
    timeout_s = settings.store_timeout_s
    engine = create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_pre_ping=True,
        pool_timeout=timeout_s,
        connect_args=pg_timeouts.connect_args(timeout_s),
    )

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return pg_timeouts.connect(timeout_s, *cargs, **cparams)  # every wait bounded

    return engine


def _sqlite_engine(url: str, settings: Settings) -> Engine:
    database = make_url(url).database
    in_memory = not database or database == ":memory:"
    if database and not in_memory:
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(
                f"database URL: cannot make the directory of {database}: {error.strerror}"
            ) from None
    engine = create_engine(
        url,
        connect_args={
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
            "check_same_thread": False,
        },
        # One shared connection for an in-memory store (each would be its own database).
        # Writers queue on a lock and SQLite reads run in the event loop: few connections
        # are ever busy at once, and each holds its own cache of prepared statements.
        **(
            {"poolclass": StaticPool}
            if in_memory
            else {"pool_size": 4, "max_overflow": 12, "pool_timeout": settings.store_timeout_s}
        ),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={settings.sqlite_busy_timeout_ms}")
        # A checkpoint copies each page once, however often it was committed since the
        # last, and commit after commit rewrites the same pages (each series' current
        # rollup rows, each account's newest events): so every 10,000 pages of WAL (about
        # 40 MB), not 1,000. On every connection: whichever commits past its own threshold
        # runs the checkpoint, and a key or an account written by a serving worker would
        # otherwise checkpoint the writer process's WAL inside its own request.
        cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # On the driver's connection: SQLAlchemy's own execution path costs more than the
        # BEGIN of a short read.
        begin = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]

    return engine


def _alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def schema_is_current(store: Store) -> bool:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def upgrade_schema(store: Store, *, attempts: int = 30, revision: str = "head") -> None:
    """Apply every pending migration (up to `revision`); safe when several processes start
    at once."""
    for attempt in range(attempts):
        try:
            with store.engine.begin() as conn, _unbounded(conn):
                if not store.is_sqlite:
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                    )
                command.upgrade(_alembic_config(conn), revision)
            return
        except exc.OperationalError as error:
            if attempt == attempts - 1:
                raise StoreUnavailable(f"the store cannot be migrated: {error.orig}") from None
            time.sleep(0.2)
        except exc.DatabaseError as error:  # SQLite: "file is not a database"
            raise StoreUnavailable(
                f"the store cannot be opened: {error.orig}; is "
                f"{store.engine.url.render_as_string(hide_password=True)} a creditmeter store?"
            ) from None
        except CommandError:
            if (why := _unknown_revision(store)) is None:
                raise  # the store's revision is known: the `revision` asked for is not
            raise StoreUnavailable(why) from None


@contextmanager
def _unbounded(conn: Connection) -> Iterator[None]:
    """No store timeout for a migration, which may rewrite big tables (and waits for another
    process's); PostgreSQL only."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, pg_timeouts.BoundedConnection):
        yield
        return
    conn.execute(text("SET LOCAL statement_timeout = 0"))
    bound, driver.round_trip_s = driver.round_trip_s, None
    try:
        yield
    finally:
        driver.round_trip_s = bound


def _unknown_revision(store: Store) -> str | None:
    """Why a store whose schema revision this version does not know cannot be used, or
    None when this version knows it."""
    with store.engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    scripts = ScriptDirectory(str(MIGRATIONS))
    if revision is None or revision in {s.revision for s in scripts.walk_revisions()}:
        return None
    head = scripts.get_current_head()
    return (
        f"the store's schema is at revision {revision!r}, which this version of creditmeter "
        f"does not know (its newest is {head!r}): a newer version has upgraded it. Run that "
        "version, or restore a backup taken before the upgrade (docs/deploy.md)"
    )
