"""`creditmeter import`: events from JSON Lines or CSV, validated whole, then stored."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.progress import Progress

from .errors import InvalidInput
from .ingest import MAX_BATCH, ingest, parse_batch
from .jsonbody import JsonNumber
from .jsonbody import decode as decode_json
from .store import Store

CSV_FIELDS = (
    "id",
    "account_id",
    "bot_id",
    "category",
    "credits",
    "timestamp",
    "conversation_id",
    "metadata",
)


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield number, decode_json(line)
                except InvalidInput as error:
                    raise InvalidInput(f"line {number}: {error.message}") from None


def _csv(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
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
                        f"line {reader.line_num}: metadata {error.message}"
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


def import_file(*, store: Store, path: Path, fmt: str) -> tuple[int, int]:
    """Checks every event first (nothing is stored if any is bad), then stores them."""
    total = 0
    for lines, events in _batches(path, fmt):
        _validated(lines, events)
        total += len(events)
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
