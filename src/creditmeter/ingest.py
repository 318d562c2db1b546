"""Ingestion: validate a whole batch, then store it exactly once with its rollups."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from .accounts import SLUG, SLUG_RULE
from .categories import CATEGORIES, CATEGORY_INDEX
from .clock import now_ms
from .days import day_number, parse_rfc3339_ms
from .errors import Conflict, InvalidInput
from .jsonbody import JsonNumber, plain
from .money import parse_credits
from .store import Store, directory, ledger
from .store.ledger import Event

MAX_BATCH = 1000
MAX_METADATA_BYTES = 4096
MIN_TS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_AHEAD_MS = 24 * 3_600_000
EVENT_ID = re.compile(r"[!-~]{1,128}")
FIELDS = frozenset(
    {
        "id",
        "account_id",
        "bot_id",
        "category",
        "credits",
        "timestamp",
        "conversation_id",
        "metadata",
    }
)
REQUIRED = ("id", "account_id", "bot_id", "category", "credits", "timestamp")


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int


class _FieldError(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _timestamp(value: Any, now: int) -> int:
    if isinstance(value, JsonNumber):
        if not value.isdigit() or len(value) > 16:
            raise _FieldError(
                "timestamp", "must be milliseconds since the Unix epoch as a JSON integer"
            )
        ts = int(value)
    elif isinstance(value, str):
        try:
            ts = parse_rfc3339_ms(value)
        except ValueError as exc:
            raise _FieldError("timestamp", str(exc)) from None
    else:
        raise _FieldError(
            "timestamp", "must be milliseconds since the epoch (integer) or an RFC 3339 string"
        )
    if ts < MIN_TS:
        raise _FieldError("timestamp", "must not be before 2000-01-01T00:00:00Z")
    if ts > now + MAX_AHEAD_MS:
        raise _FieldError("timestamp", "must not be more than 24 hours in the future")
    return ts


def _credits(value: Any) -> int:
    if not isinstance(value, str):  # JsonNumber is a str too; bool, null, lists are not
        raise _FieldError("credits", "must be a JSON number or a decimal string")
    try:
        return parse_credits(value)
    except ValueError as exc:
        raise _FieldError("credits", str(exc)) from None


def _slug(field: str, value: Any) -> str:
    if isinstance(value, JsonNumber) or not isinstance(value, str) or not SLUG.fullmatch(value):
        raise _FieldError(field, f"must be a string of {SLUG_RULE}")
    return value


def _metadata(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _FieldError("metadata", "must be a JSON object or null")
    try:
        text = json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError as exc:
        raise _FieldError("metadata", str(exc)) from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise _FieldError("metadata", f"must be at most {MAX_METADATA_BYTES} bytes as compact JSON")
    return text


def _conversation_id(value: Any) -> str | None:
    if value is None:
        return None
    if (
        isinstance(value, JsonNumber)
        or not isinstance(value, str)
        or not 1 <= len(value) <= 256
        or not value.isprintable()
    ):
        raise _FieldError("conversation_id", "must be null or 1-256 printable characters")
    return value


def parse_event(raw: Any, now: int) -> Event:
    if not isinstance(raw, dict):
        raise _FieldError("", "an event must be a JSON object")
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise _FieldError(unknown[0], f"unknown field; an event has {', '.join(sorted(FIELDS))}")
    for field in REQUIRED:
        if field not in raw:
            raise _FieldError(field, "is required")
    event_id = raw["id"]
    if (
        isinstance(event_id, JsonNumber)
        or not isinstance(event_id, str)
        or not EVENT_ID.fullmatch(event_id)
    ):
        raise _FieldError("id", "must be 1-128 printable ASCII characters without spaces")
    category = raw["category"]
    if (  # the str check first: an object or a list is unhashable (a 400, not a 500)
        not isinstance(category, str)
        or isinstance(category, JsonNumber)
        or category not in CATEGORY_INDEX
    ):
        raise _FieldError("category", f"must be one of {', '.join(CATEGORIES)}")
    return Event(
        account_id=_slug("account_id", raw["account_id"]),
        event_id=event_id,
        bot_id=_slug("bot_id", raw["bot_id"]),
        category=CATEGORY_INDEX[category],
        credits=_credits(raw["credits"]),
        ts=_timestamp(raw["timestamp"], now),
        conversation_id=_conversation_id(raw.get("conversation_id")),
        metadata=_metadata(raw.get("metadata")),
    )


def parse_batch(document: Any) -> list[Event]:
    """`{"events": [...]}` -> events; InvalidInput listing every bad event if any is bad."""
    if not isinstance(document, dict) or set(document) != {"events"}:
        raise InvalidInput('body: must be a JSON object {"events": [...]} and nothing else')
    raw_events = document["events"]
    if not isinstance(raw_events, list) or not 1 <= len(raw_events) <= MAX_BATCH:
        raise InvalidInput(f"events: must be a list of 1 to {MAX_BATCH} events")
    now = now_ms()
    events: list[Event] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_events):
        try:
            events.append(parse_event(raw, now))
        except _FieldError as error:
            errors.append({"index": index, "field": error.field, "message": error.message})
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"{len(errors)} of {len(raw_events)} events are invalid and nothing was stored; "
            f"first: events[{first['index']}].{first['field']} {first['message']}",
            errors=errors,
        )
    return events


def ingest(*, store: Store, batch: Sequence[Event]) -> IngestResult:
    """Stores the batch exactly once, all or nothing; returns once it is durably committed."""
    unique: dict[tuple[str, str], Event] = {}
    conflicts: set[tuple[str, str]] = set()
    for event in batch:
        earlier = unique.setdefault(event.key, event)
        if earlier.content != event.content:
            conflicts.add(event.key)
    with store.write() as conn:
        zones = directory.account_zones(conn, {e.account_id for e in unique.values()})
        _check_accounts(batch, zones)  # validation first: an invalid batch is a 400, not a 409
        if conflicts:
            raise _conflict(conflicts)
        new_bots = {(e.account_id, e.bot_id) for e in unique.values()} - store.known_bots
        directory.ensure_bots(conn, new_bots, now_ms())
        inserted = ledger.insert_new(conn, list(unique.values()))
        repeated = [key for key in unique if key not in inserted]
        if repeated:
            found = ledger.stored(conn, repeated)
            conflicts = {key for key in repeated if found[key].content != unique[key].content}
            if conflicts:
                raise _conflict(conflicts)  # rolls the whole batch back
        ledger.add_to_rollups(
            conn,
            (unique[key] for key in inserted),
            lambda account_id, ts: day_number(ts, zones[account_id]),
        )
    store.known_bots |= new_bots  # only once committed
    return IngestResult(accepted=len(inserted), duplicates=len(batch) - len(inserted))


def _check_accounts(batch: Sequence[Event], known: Collection[str]) -> None:
    errors = [
        {"index": i, "field": "account_id", "message": f"account {e.account_id!r} does not exist"}
        for i, e in enumerate(batch)
        if e.account_id not in known
    ]
    if errors:
        raise InvalidInput(
            f"{len(errors)} of {len(batch)} events name an unknown account and nothing was "
            f"stored; first: events[{errors[0]['index']}].account_id {errors[0]['message']}",
            errors=errors,
        )


def _conflict(keys: set[tuple[str, str]]) -> Conflict:
    ids = sorted(event_id for _, event_id in keys)
    shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
    return Conflict(
        f"{len(ids)} event id(s) reused with different content, nothing of this batch was "
        f"stored: {shown}",
        ids=ids,
    )
