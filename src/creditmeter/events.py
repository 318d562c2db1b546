"""Usage events as clients send them, validated into Events: a whole batch at once,
and every error of a bad batch listed."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache
from operator import itemgetter, methodcaller
from typing import Any, NamedTuple

from .categories import ALL_CATEGORIES, CATEGORY_INDEX, MODERATION, STORAGE
from .clock import now_ms
from .days import parse_rfc3339_ms
from .errors import InvalidInput
from .ids import SLUG, SLUG_RULE, is_digits
from .jsonbody import NUMBER_TYPES, JsonNumber, canonical, number_text
from .money import MAX_CREDITS_MICRO, parse_credits

MAX_BATCH = 1000
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 64  # nested objects and arrays, the metadata object itself counted
MIN_TS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_AHEAD_MS = 24 * 3_600_000
EVENT_ID = re.compile(r"[!-~]{1,128}")
REQUIRED = ("id", "account_id", "bot_id", "category", "credits", "timestamp")
# hold_id settles a hold (credits.settlement reads it); it is not stored with the event
OPTIONAL = ("conversation_id", "metadata", "run_id", "hold_id")
FIELDS = frozenset(REQUIRED + OPTIONAL)


class Event(NamedTuple):
    """A validated event, ready to store: credits in micro-credits, ts in ms,
    metadata as canonical JSON text, category as its index in ALL_CATEGORIES."""

    account_id: str
    event_id: str
    bot_id: str
    category: int
    credits: int
    ts: int
    conversation_id: str | None
    metadata: str | None
    run_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.account_id, self.event_id)

    @property
    def content(self) -> tuple[Any, ...]:
        return tuple(self[2:])


class _FieldError(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _timestamp(value: Any, now: int) -> int:
    if (text := number_text(value)) is not None:
        if not is_digits(text) or len(text) > 16:
            raise _FieldError(
                "timestamp", "must be milliseconds since the Unix epoch as a JSON integer"
            )
        ts = int(text)
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
    text = value if isinstance(value, str) else number_text(value)  # a JsonNumber is a str
    if text is None:
        raise _FieldError("credits", "must be a JSON number or a decimal string")
    try:
        return parse_credits(text)
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
        text = canonical(value, max_depth=MAX_METADATA_DEPTH)
    except ValueError as exc:
        raise _FieldError("metadata", str(exc)) from None
    # Measured on the text stored (and compared when the event is sent again).
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise _FieldError("metadata", f"must be at most {MAX_METADATA_BYTES} bytes as compact JSON")
    return text


THREAD_ID = re.compile(r"[ -~]{1,256}")


def _thread_id(field: str, value: Any) -> str | None:
    """A conversation_id or run_id: null or 1-256 printable ASCII characters."""
    if value is None:
        return None
    if (
        isinstance(value, JsonNumber)
        or not isinstance(value, str)
        or not THREAD_ID.fullmatch(value)
    ):
        raise _FieldError(field, "must be null or 1-256 printable ASCII characters")
    return value


def _check_threads(event: Event) -> None:
    """PRODUCT.md's rules: at most one of conversation_id and run_id; neither on a
    knowledge_doc_storage event (charged per day), no run_id on a moderation event."""
    conversation_id, run_id = event.conversation_id, event.run_id
    if conversation_id is not None and run_id is not None:
        raise _FieldError("run_id", "an event has at most one of conversation_id and run_id")
    if event.category == STORAGE and (conversation_id is not None or run_id is not None):
        field = "conversation_id" if conversation_id is not None else "run_id"
        raise _FieldError(field, "a knowledge_doc_storage event has no conversation_id or run_id")
    if event.category == MODERATION and run_id is not None:
        raise _FieldError("run_id", "a moderation event has no run_id")


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
        raise _FieldError("category", f"must be one of {', '.join(ALL_CATEGORIES)}")
    event = Event(
        account_id=_slug("account_id", raw["account_id"]),
        event_id=event_id,
        bot_id=_slug("bot_id", raw["bot_id"]),
        category=CATEGORY_INDEX[category],
        credits=_credits(raw["credits"]),
        ts=_timestamp(raw["timestamp"], now),
        conversation_id=_thread_id("conversation_id", raw.get("conversation_id")),
        metadata=_metadata(raw.get("metadata")),
        run_id=_thread_id("run_id", raw.get("run_id")),
    )
    _check_threads(event)
    return event


def parse_batch(document: Any) -> list[Event]:
    """`{"events": [...]}` -> events; InvalidInput listing every bad event if any is bad."""
    if not isinstance(document, dict) or set(document) != {"events"}:
        raise InvalidInput('body: must be a JSON object {"events": [...]} and nothing else')
    raw_events = document["events"]
    if not isinstance(raw_events, list) or not 1 <= len(raw_events) <= MAX_BATCH:
        raise InvalidInput(f"events: must be a list of 1 to {MAX_BATCH} events")
    now = now_ms()
    events = parse_valid_batch(raw_events, now)
    if events is not None:
        return events
    events = []
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


def parse_valid_batch(raw_events: list[Any], now: int) -> list[Event] | None:
    """The events when every one is valid, else None, and then parse_event words each error.

    parse_event's checks made a field at a time over the whole batch, so that the loops run
    in C (map, set, min, max, a regex over a column) rather than once per event in Python.
    """
    if set(map(type, raw_events)) != {dict}:
        return None
    try:
        ids, accounts, bots, categories, credits, timestamps = [
            list(map(itemgetter(field), raw_events)) for field in REQUIRED
        ]
    except KeyError:  # a required field is missing
        return None
    if not (
        _every_string(ids, EVENT_ID)
        and _every_string(accounts, SLUG)
        and _every_string(bots, SLUG)
        and _every_string(categories, _CATEGORY)
    ):
        return None
    micros = micro_credits(credits)
    instants = _instants(timestamps, now)
    optional = _optional_fields(raw_events)
    if micros is None or instants is None or optional is None:
        return None
    category_indexes = map(CATEGORY_INDEX.__getitem__, categories)
    rows = zip(accounts, ids, bots, category_indexes, micros, instants, *optional, strict=True)
    events = list(map(Event._make, rows))
    if optional[0] is not optional[2]:  # some event has a conversation_id or a run_id
        try:
            for event in events:
                _check_threads(event)
        except _FieldError:
            return None
    return events


# longest first: "chat" must not match the start of another name
_CATEGORY = re.compile("|".join(map(re.escape, sorted(ALL_CATEGORIES, key=len, reverse=True))))


def _every_string(values: list[Any], pattern: re.Pattern[str]) -> bool:
    """Whether every value is a JSON string (a JsonNumber is a str, not a string) that
    `pattern` matches whole."""
    return set(map(type, values)) == {str} and every_match(pattern, set(values))


def every_match(pattern: re.Pattern[str], texts: Collection[str]) -> bool:
    """Whether `pattern`, which matches no newline, matches each text whole: one regex run over
    the texts joined by newlines, whose count catches a text that holds one itself."""
    joined = "\n".join(texts)
    return joined.count("\n") == len(texts) - 1 and _lines(pattern).fullmatch(joined) is not None


@cache
def _lines(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` for each of lines joined by newlines."""
    return re.compile(rf"(?:{pattern.pattern})(?:\n(?:{pattern.pattern}))*")


def micro_credits(values: list[Any]) -> list[int] | None:
    """_credits of each value, or None if one is invalid."""
    texts = values
    if (types := set(map(type, values))) != {str}:
        if not types <= NUMBER_TYPES | {str}:
            return None
        texts = list(map(str, values))  # the text sent for each number, which _credits reads
    if not every_match(_PLAIN_DECIMAL, texts):
        return None
    # parse_credits' whole * MICRO + fraction padded to 6 digits, as one int of all the digits
    micros = [int(whole + fraction.ljust(6, "0")) for whole, _, fraction in map(_at_point, texts)]
    return micros if max(micros) <= MAX_CREDITS_MICRO else None


# parse_credits' form, but at most 7 digits before the point: more are out of its range
_PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,6})(?:\.[0-9]{1,6})?")
_at_point = methodcaller("partition", ".")


def _instants(values: list[Any], now: int) -> list[int] | None:
    """_timestamp of each value, or None if one is invalid."""
    if set(map(type, values)) != {int}:  # not all ms sent as JSON integers (by decode_fast)
        try:
            values = [value if type(value) is int else _timestamp(value, now) for value in values]
        except (_FieldError, ValueError):  # ValueError: a CSV timestamp such as "²", see importer
            return None
    # _timestamp's range; an int in it was sent as plain digits, the only text _timestamp takes
    if min(values) < MIN_TS or max(values) > now + MAX_AHEAD_MS:
        return None
    return values


def _optional_fields(raw_events: list[Any]) -> list[list[str | None]] | None:
    """[conversation_ids, metadata, run_ids], one of each per event (the same list object
    for every field that no event has); None if one is invalid or if an event has a field
    that is not in FIELDS."""
    nothing: list[str | None] = [None] * len(raw_events)
    if max(map(len, raw_events)) == len(REQUIRED):  # no event has more than the required
        return [nothing, nothing, nothing]
    present = set().union(*raw_events)
    if not FIELDS.issuperset(present):
        return None
    try:
        return [
            [_thread_id("conversation_id", raw.get("conversation_id")) for raw in raw_events]
            if "conversation_id" in present
            else nothing,
            [_metadata(raw.get("metadata")) for raw in raw_events],
            [_thread_id("run_id", raw.get("run_id")) for raw in raw_events]
            if "run_id" in present
            else nothing,
        ]
    except _FieldError:
        return None
