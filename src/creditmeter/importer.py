"""`creditmeter import`: events from JSON Lines or CSV, validated whole, then stored."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from rich.progress import Progress
from sqlalchemy import Connection

from .credits import holds, settlement
from .errors import Conflict, InvalidInput
from .events import MAX_BATCH, OPTIONAL, REQUIRED, Event, parse_batch
from .ids import is_digits
from .ingest import Ingestion, conflicting
from .jsonbody import JsonNumber
from .jsonbody import decode as decode_json
from .store import Store, directory, writes
from .store.seen import Key, SeenKeys

CSV_FIELDS = (*REQUIRED, *OPTIONAL)  # an event's fields, in the order of the contract
BOM = "\ufeff".encode()  # a UTF-8 byte order mark, which some editors put first


class _Reader:
    """The lines of a file, and how many of its bytes have been read (for a progress bar)."""

    def __init__(self, path: Path):
        self.path = path
        self.size = path.stat().st_size
        self.position = 0


def _jsonl(reader: _Reader) -> Iterator[tuple[int, Any]]:
    with reader.path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            reader.position += len(line)
            if number == 1:
                line = line.removeprefix(BOM)
            if line.strip():
                try:
                    yield number, decode_json(line)
                except InvalidInput as error:
                    raise InvalidInput(
                        f"line {number}: {error.message.removeprefix('body: ')}; "
                        "nothing was imported"
                    ) from None


def _csv(reader: _Reader) -> Iterator[tuple[int, Any]]:
    with reader.path.open("rb") as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")  # Excel's BOM too
        rows = csv.DictReader(handle)
        try:
            yield from _csv_rows(reader, raw, rows)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{_first_bad_line(reader.path)}: not valid UTF-8; nothing was imported"
            ) from None
        except csv.Error as error:  # a field past csv's limit of 131,072 characters, a NUL...
            raise InvalidInput(
                f"the record after line {rows.line_num}: not CSV as expected ({error}); "
                "nothing was imported"
            ) from None


def _first_bad_line(path: Path) -> str:
    """Where the file stops being UTF-8 (the text layer decodes ahead, in chunks)."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return f"line {number}, byte {error.start + 1}"
    return "the end of the file"  # a multi-byte character cut short by the last byte


def _csv_rows(
    reader: _Reader, raw: BinaryIO, rows: csv.DictReader[str]
) -> Iterator[tuple[int, Any]]:
    columns = list(rows.fieldnames or ())
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise InvalidInput(f"line 1: column(s) {', '.join(twice)} appear more than once")
    unknown = set(columns) - set(CSV_FIELDS)
    if unknown:
        raise InvalidInput(
            f"line 1: unknown column(s) {', '.join(sorted(unknown))}; "
            f"columns are {', '.join(CSV_FIELDS)}"
        )
    for row in rows:
        reader.position = raw.tell()  # what the text layer has read ahead, near enough
        if None in row:  # DictReader's key for the fields past the header's columns
            raise InvalidInput(
                f"line {rows.line_num}: {len(row[None])} more field(s) than the header has "
                "columns; nothing was imported"
            )
        event: dict[str, Any] = {k: v for k, v in row.items() if v not in ("", None)}
        if is_digits(event.get("timestamp", "")):
            event["timestamp"] = JsonNumber(event["timestamp"])
        if "metadata" in event:
            try:
                event["metadata"] = decode_json(event["metadata"].encode())
            except InvalidInput as error:
                raise InvalidInput(
                    f"line {rows.line_num}: metadata "
                    f"{error.message.removeprefix('body: ')}; nothing was imported"
                ) from None
        yield rows.line_num, event


def _batches(reader: _Reader, fmt: str) -> Iterator[tuple[list[int], list[Any]]]:
    lines: list[int] = []
    events: list[Any] = []
    for number, event in _csv(reader) if fmt == "csv" else _jsonl(reader):
        lines.append(number)
        events.append(event)
        if len(events) == MAX_BATCH:
            yield lines, events
            lines, events = [], []
    if events:
        yield lines, events


def _validated(lines: list[int], events: list[Any]) -> list[Event]:
    try:
        return parse_batch({"events": events})
    except InvalidInput as error:
        raise _by_line(lines, error) from None


def _by_line(lines: list[int], error: InvalidInput) -> InvalidInput:
    details = [
        f"line {lines[e['index']]}: {e['field']} {e['message']}"
        for e in error.extra.get("errors", [])
    ]
    return InvalidInput(
        f"{len(details) or 'some'} invalid event(s); nothing was imported", errors=details
    )


def _named_holds(
    lines: list[int], events: list[Any], batch: list[Event]
) -> dict[tuple[str, str], str]:
    """The hold each event names (as the API reads it: settlement.named_holds), by key."""
    try:
        return settlement.named_holds({"events": events}, batch)
    except InvalidInput as error:
        raise _by_line(lines, error) from None


def _check_holds(
    conn: Connection, lines: list[int], batch: list[Event], named: dict[tuple[str, str], str]
) -> None:
    """InvalidInput naming the lines whose hold does not exist for their account."""
    try:
        holds.check_named(conn, named)
    except holds.UnknownHolds as unknown:
        raise _by_line(lines, settlement.worded(unknown, batch)) from None


class _Findings:
    """What the first pass found wrong: counted in full, worded for the first MAX_SHOWN."""

    MAX_SHOWN = 100

    def __init__(self) -> None:
        self.count = 0
        self.shown: list[str] = []

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.shown) < self.MAX_SHOWN:
            self.shown.append(message)


def _check_reuse(
    seen: SeenKeys, stored: dict[Key, Event], lines: list[int], batch: list[Event]
) -> Iterator[str]:
    """A message for each event of the batch whose id was read before (earlier in the file
    or in this batch) or is stored, with other content. Records the batch's first uses."""
    digests = [hash(event.content) for event in batch]
    earlier = seen.first_uses(list({event.key: None for event in batch}))
    new: dict[Key, tuple[int, int]] = {}
    for line, event, digest in zip(lines, batch, digests, strict=True):
        first = earlier.get(event.key) or new.setdefault(event.key, (line, digest))
        if first[1] != digest:
            yield (
                f"line {line}: id {event.event_id!r} was used at line {first[0]} with other content"
            )
        elif event.key in stored and conflicting(event, stored[event.key]):
            yield f"line {line}: id {event.event_id!r} is already stored with other content"
    seen.add([(*key, line, digest) for key, (line, digest) in new.items()])


def check_file(*, store: Store, path: Path, fmt: str, progress: Progress | None = None) -> int:
    """The number of events, once every line is known good: valid, of a known account, and
    reusing no id with other content (in the file or in the store). Otherwise an error
    naming the lines, before anything is stored: a batch cannot see the other batches.
    Memory stays bounded: the keys read so far are kept in a scratch file (SeenKeys) and
    the store is asked about each batch's keys in turn."""
    reader, total = _Reader(path), 0
    account_lines: dict[str, int] = {}
    conflicts = _Findings()
    progress = progress or Progress(disable=True)
    task = progress.add_task(f"checking {path.name}", total=reader.size)
    with tempfile.TemporaryDirectory(prefix="creditmeter-import-") as scratch:
        seen = SeenKeys(Path(scratch))
        try:
            for lines, raw_events in _batches(reader, fmt):
                batch = _validated(lines, raw_events)
                named = _named_holds(lines, raw_events, batch)
                total += len(batch)
                for line, event in zip(lines, batch, strict=True):
                    account_lines.setdefault(event.account_id, line)
                with store.read() as conn:
                    stored = writes.stored(conn, [event.key for event in batch])
                    if named:
                        _check_holds(conn, lines, batch, named)
                for message in _check_reuse(seen, stored, lines, batch):
                    conflicts.add(message)
                progress.update(task, completed=reader.position)
        finally:
            seen.close()
    with store.read() as conn:
        known = directory.account_zones(conn, account_lines)
    unknown = [
        f"line {line}: account_id: account {account_id!r} does not exist"
        for account_id, line in account_lines.items()
        if account_id not in known
    ]
    if unknown:  # validation first, as in the API: an invalid and conflicting file is invalid
        raise InvalidInput(
            f"{len(unknown)} unknown account(s); nothing was imported; first: {unknown[0]}",
            errors=unknown,
        )
    if conflicts.count:
        raise Conflict(
            f"{conflicts.count} event id(s) reused with other content; nothing was imported; "
            f"first: {conflicts.shown[0]}",
            errors=conflicts.shown,
        )
    return total


def import_file(*, ingestion: Ingestion, path: Path, fmt: str) -> tuple[int, int]:
    """Checks every event first (nothing is stored if any is bad), then stores them; a
    progress bar for each pass."""
    accepted = duplicates = 0
    with Progress(transient=False) as progress:
        total = check_file(store=ingestion.store, path=path, fmt=fmt, progress=progress)
        task = progress.add_task(f"importing {path.name}", total=total)
        for lines, events in _batches(_Reader(path), fmt):
            batch = _validated(lines, events)
            result = ingestion.ingest(batch, _named_holds(lines, events, batch) or None)
            accepted += result.accepted
            duplicates += result.duplicates
            progress.advance(task, len(events))
    print(json.dumps({"events": total, "accepted": accepted, "duplicates": duplicates}))
    return accepted, duplicates
