"""`creditmeter backup`: a consistent copy of the SQLite store, taken while it serves."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from ..errors import Conflict, InvalidInput
from ..settings import Settings
from .engine import checked_url


def sqlite_path(settings: Settings) -> Path:
    """The file of a SQLite store; InvalidInput for any other store."""
    url = make_url(checked_url(settings.database_url))
    if url.get_backend_name() != "sqlite":
        raise InvalidInput(
            "backup copies a SQLite store; back up PostgreSQL with its own tools "
            "(pg_dump, or base backups and WAL archiving)"
        )
    if not url.database or url.database == ":memory:":
        raise InvalidInput("an in-memory SQLite store has nothing to back up")
    path = Path(url.database)
    if not path.is_file():
        raise InvalidInput(f"there is no SQLite store at {path}")
    return path


def backup_sqlite(*, settings: Settings, destination: Path, overwrite: bool = False) -> int:
    """Copies the store to `destination` with SQLite's online backup API; the size in bytes.

    The copy is one snapshot: it is taken in a single backup step, a read transaction that
    in WAL mode never blocks writers, so it holds every transaction committed before it
    began and none after, however many processes are writing. It is written next to
    `destination`, made durable, then renamed into place: `destination` is either the old
    file or the whole new copy. The copy is a single file (rollback journal mode); a store
    opened on it switches back to WAL."""
    source_path = sqlite_path(settings)
    store = source_path.resolve()
    ends = ("-wal", "-shm", "-journal", "-writer.lock")
    companions = {store.with_name(store.name + end) for end in ends}
    if destination.resolve() == store or destination.resolve() in companions:
        # its -wal holds committed transactions not yet in the file: replacing it loses them
        raise InvalidInput(
            "the backup must not be the store itself or one of its -wal, -shm, -journal or "
            "-writer.lock files"
        )
    if destination.exists() and not destination.is_file():  # a device, a directory: never
        raise InvalidInput(f"{destination} is not a regular file; name a file to write")
    if destination.exists() and not overwrite:
        raise Conflict(f"{destination} exists; pass --force to replace it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=settings.sqlite_busy_timeout_ms / 1000)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # pages=-1: every page in one step, one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
        _fsync(partial)
        os.replace(partial, destination)
        _fsync(destination.parent)
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    return destination.stat().st_size


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
