"""`creditmeter import`: events from JSON Lines or CSV, validated whole, then stored."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.progress import Progress

from .errors import Conflict, InvalidInput
from .events import MAX_BATCH, OPTIONAL, REQUIRED, parse_batch
from .ingest import ingest
from .jsonbody import JsonNumber
from .jsonbody import decode as decode_json
from .store import Store, directory, ledger

CSV_FIELDS = (*REQUIRED, *OPTIONAL)  # an event's fields, in the order of the contract
BOM = "\ufeff".encode()  # a UTF-8 byte order mark, which some editors put first


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
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


def _csv(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel's "CSV UTF-8" has a BOM
        reader = csv.DictReader(handle)
        unknown = set(reader.fieldnames or ()) - set(CSV_FIELDS)
        if unknown:
            raise InvalidInput(
                f"line 1: unknown column(s) {', '.join(sorted(unknown))}; "
                f"columns are {', '.join(CSV_FIELDS)}"
            )
        for row in reader:
            event: dict[str, Any] = {k: v for k, v in row.items() if v not in ("", None)}
            if event.get("timestamp", "").isdigit():
                event["timestamp"] = JsonNumber(event["timestamp"])
            if "metadata" in event:
                try:
                    event["metadata"] = decode_json(event["metadata"].encode())
                except InvalidInput as error:
                    raise InvalidInput(
                        f"line {reader.line_num}: metadata "
                        f"{error.message.removeprefix('body: ')}; nothing was imported"
                    ) from None
            yield reader.line_num, event


def _batches(path: Path, fmt: str) -> Iterator[tuple[list[int], list[Any]]]:
    lines: list[int] = []
    events: list[Any] = []
    for number, event in _csv(path) if fmt == "csv" else _jsonl(path):
        lines.append(number)
        events.append(event)
        if len(events) == MAX_BATCH:
            yield lines, events
            lines, events = [], []
    if events:
        yield lines, events


def _validated(lines: list[int], events: list[Any]) -> Any:
    try:
        return parse_batch({"events": events})
    except InvalidInput as error:
        details = [
            f"line {lines[e['index']]}: {e['field']} {e['message']}"
            for e in error.extra.get("errors", [])
        ]
        raise InvalidInput(
            f"{len(details) or 'some'} invalid event(s); nothing was imported",
            errors=details,
        ) from None


def _check_file(store: Store, path: Path, fmt: str) -> int:
    """The number of events, once every line is known good: valid, of a known account, and
    reusing no id with other content (in the file or in the store). Otherwise an error
    naming the lines, before anything is stored: a batch cannot see the other batches."""
    total = 0
    first_seen: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (line, content hash)
    account_lines: dict[str, int] = {}
    conflicts: list[str] = []
    for lines, raw_events in _batches(path, fmt):
        batch = _validated(lines, raw_events)
        total += len(batch)
        with store.read() as conn:
            stored = ledger.stored(conn, [event.key for event in batch])
        for line, event in zip(lines, batch, strict=True):
            account_lines.setdefault(event.account_id, line)
            first_line, content = first_seen.setdefault(event.key, (line, hash(event.content)))
            if content != hash(event.content):
                conflicts.append(
                    f"line {line}: id {event.event_id!r} was used at line {first_line} "
                    "with other content"
                )
            elif event.key in stored and stored[event.key].content != event.content:
                conflicts.append(
                    f"line {line}: id {event.event_id!r} is already stored with other content"
                )
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
    if conflicts:
        raise Conflict(
            f"{len(conflicts)} event id(s) reused with other content; nothing was imported; "
            f"first: {conflicts[0]}",
            errors=conflicts,
        )
    return total


def import_file(*, store: Store, path: Path, fmt: str) -> tuple[int, int]:
    """Checks every event first (nothing is stored if any is bad), then stores them."""
    total = _check_file(store, path, fmt)
    accepted = duplicates = 0
    with Progress(transient=False) as progress:
        task = progress.add_task(f"importing {path.name}", total=total)
        for lines, events in _batches(path, fmt):
            result = ingest(store=store, batch=_validated(lines, events))
            accepted += result.accepted
            duplicates += result.duplicates
            progress.advance(task, len(events))
    print(json.dumps({"events": total, "accepted": accepted, "duplicates": duplicates}))
    return accepted, duplicates
