"""The client's logic without I/O: requests to make, answers to read, when to retry.

Each API verb is a *plan*: a generator that yields the `Call`s it needs and receives their
successful answers (or, thrown in, their errors). `Client` and `AsyncClient` only drive
plans, so pagination, time zones and batching are written once for both.
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from ..days import dates_ms, to_ms, zone
from ..errors import InvalidInput
from .errors import ApiError
from .models import Account, BillTotal, DayRow, IngestResult, Key, NewKey, UsageEvent

T = TypeVar("T")

Instant = datetime | date | int
"""An aware `datetime`, a `date` (a whole local day), or milliseconds since the epoch."""
EventLike = UsageEvent | Mapping[str, Any]

MAX_EVENTS = 1000
MAX_BODY = 1 << 20  # the service's limit on an ingest body
_ENVELOPE = len(b'{"events":[]}')
PAGE = "/v1/account/bill/page"
TOTAL = "/v1/account/bill/total"


@dataclass(frozen=True, slots=True)
class Call:
    """One request. `idempotent`: safe to send again when the answer was lost."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    idempotent: bool = True


Plan = Generator[Call, httpx.Response, T]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Retried: connection failures (a request never sent, any call;
    a lost answer, idempotent calls only), 429 and 503 (after `Retry-After`), and 502 and
    504 from a proxy in front of the service (idempotent calls only). Waits between
    attempts double from `backoff` up to `max_backoff`, with jitter; `Retry-After` wins."""

    attempts: int = 8
    backoff: float = 0.25
    max_backoff: float = 10.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.max_backoff, self.backoff * 2.0**attempt) * random.uniform(0.5, 1.0)

    def retries_error(self, call: Call, error: httpx.TransportError, attempt: int) -> bool:
        if attempt + 1 >= self.attempts:
            return False
        unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        return unsent or call.idempotent

    def retries_status(self, call: Call, status: int, attempt: int) -> bool:
        if attempt + 1 >= self.attempts:
            return False
        return status in (429, 503) or (status in (502, 504) and call.idempotent)


def read_json(response: httpx.Response) -> Any:
    """A JSON answer with every fraction read as an exact `Decimal`."""
    return json.loads(response.content, parse_float=Decimal)


# --- time ------------------------------------------------------------------------------------


def _is_day(value: Instant) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def instant_ms(value: Instant, tz: ZoneInfo | None, *, end: bool) -> int:
    """Milliseconds since the epoch; a `date` is the first (or, for `end`, the last)
    millisecond of that local day in `tz`."""
    if isinstance(value, bool):
        raise TypeError("a time must be a datetime, a date or milliseconds, not a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(
                f"{value!r} is a naive datetime; give it a tzinfo (or pass a date or ms)"
            )
        return to_ms(value)
    if isinstance(value, date):
        assert tz is not None
        try:  # days.dates_ms: the service's own bounds, past which a day has no instants
            start, last = dates_ms(value, value, tz)
        except InvalidInput as error:
            raise ValueError(error.message) from None
        return last if end else start
    raise TypeError(f"a time must be a datetime, a date or milliseconds, not {value!r}")


def _zone(name: str) -> ZoneInfo:
    """The server's own check of a zone name (days.zone), as a ValueError."""
    try:
        return zone(name)
    except InvalidInput:
        raise ValueError(f"{name!r} is not an IANA time zone name") from None


# --- bills -----------------------------------------------------------------------------------


def _window_params(
    start_ms: int,
    end_ms: int,
    timezone: str | None,
    bot_id: str | None,
    account_id: str | None,
) -> list[tuple[str, str]]:
    params = [("start_time", str(start_ms)), ("end_time", str(end_ms))]
    for name, value in (("timezone", timezone), ("bot_id", bot_id), ("account_id", account_id)):
        if value is not None:
            params.append((name, value))
    return params


class BillWindow:
    """`start` and `end` made milliseconds. Dates need the zone the days are counted in:
    `timezone` when given, else the account's, which only the service knows. It says so
    in `X-Timezone` on every bill answer; the zone is asked for once (a one-millisecond
    `bill/total`), remembered per account, and checked on every answer after, so a zone
    changed meanwhile is noticed and the bounds computed again."""

    def __init__(
        self,
        start: Instant,
        end: Instant,
        timezone: str | None,
        bot_id: str | None,
        account_id: str | None,
        zones: dict[str | None, str],
    ):
        self.start, self.end = start, end
        self.timezone, self.bot_id, self.account_id = timezone, bot_id, account_id
        self.zones = zones
        self.learns_zone = timezone is None and (_is_day(start) or _is_day(end))
        # Bad arguments fail here, before any request.
        tz = _zone(timezone) if timezone is not None else None
        for value, is_end in ((start, False), (end, True)):
            if tz is not None or not _is_day(value):
                instant_ms(value, tz, end=is_end)

    def zone_name(self) -> str | None:
        return self.timezone if self.timezone is not None else self.zones.get(self.account_id)

    def params(self, zone_name: str | None) -> list[tuple[str, str]]:
        tz = _zone(zone_name) if zone_name is not None else None
        return _window_params(
            instant_ms(self.start, tz, end=False),
            instant_ms(self.end, tz, end=True),
            self.timezone,
            self.bot_id,
            self.account_id,
        )

    def probe(self) -> Call:
        """The cheapest answer carrying the account's zone, with the same access rules."""
        return Call("GET", TOTAL, tuple(_window_params(0, 0, None, self.bot_id, self.account_id)))

    def answered_in(self, response: httpx.Response, zone_name: str | None) -> bool:
        """Whether the service counted days in the zone the bounds were computed in;
        if not, it remembers the zone the service named."""
        if not self.learns_zone:
            return True
        named: str | None = response.headers.get("x-timezone")
        if named is None:
            raise ValueError("the service does not name the zone it counts days in; pass timezone=")
        self.zones[self.account_id] = named
        return named == zone_name


def bill_page(window: BillWindow, page_size: int) -> Plan[list[DayRow]]:
    for _ in range(5):
        zone_name = window.zone_name()
        if window.learns_zone and zone_name is None:
            probe = yield window.probe()
            window.answered_in(probe, None)
            zone_name = window.zone_name()
        params = window.params(zone_name)
        rows: list[DayRow] = []
        page = 1
        while True:
            query = (*params, ("page", str(page)), ("page_size", str(page_size)))
            response = yield Call("GET", PAGE, query)
            if not window.answered_in(response, zone_name):
                break  # the account's zone changed: compute the bounds again
            rows.extend(DayRow.from_json(row) for row in read_json(response))
            if page * page_size >= int(response.headers["x-total-count"]):
                return rows
            page += 1
    raise RuntimeError("the account's time zone kept changing during the request")


def bill_total(window: BillWindow) -> Plan[BillTotal]:
    for _ in range(5):
        zone_name = window.zone_name()
        if window.learns_zone and zone_name is None:
            probe = yield window.probe()
            window.answered_in(probe, None)
            zone_name = window.zone_name()
        response = yield Call("GET", TOTAL, tuple(window.params(zone_name)))
        if window.answered_in(response, zone_name):
            return BillTotal.from_json(read_json(response))
    raise RuntimeError("the account's time zone kept changing during the request")


# --- ingestion -------------------------------------------------------------------------------


def _plain_credits(value: Any) -> Any:
    """Credits as the service reads them: plain decimal notation, never an exponent."""
    if isinstance(value, float):
        value = Decimal(repr(value))  # the shortest text that reads back as this float
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_event(event: EventLike) -> bytes:
    """One event as compact JSON: `Decimal` and float credits in plain notation, an aware
    `datetime` timestamp as milliseconds."""
    fields = event.to_json() if isinstance(event, UsageEvent) else dict(event)
    if "credits" in fields:
        fields["credits"] = _plain_credits(fields["credits"])
    moment = fields.get("timestamp")
    if isinstance(moment, datetime):
        fields["timestamp"] = instant_ms(moment, None, end=False)
    return json.dumps(
        fields, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode()


def batches(events: Iterable[EventLike]) -> Iterator[list[bytes]]:
    """Encoded events in batches of at most 1000 events and 1 MiB."""
    batch: list[bytes] = []
    size = _ENVELOPE
    for event in events:
        encoded = encode_event(event)
        if batch and (len(batch) == MAX_EVENTS or size + 1 + len(encoded) > MAX_BODY):
            yield batch
            batch, size = [], _ENVELOPE
        batch.append(encoded)
        size += len(encoded) + (1 if len(batch) > 1 else 0)
    if batch:
        yield batch


def ingest(events: Iterable[EventLike]) -> Plan[IngestResult]:
    """Every batch in turn; an error names events by their position in `events`."""
    accepted = duplicates = offset = 0
    for batch in batches(events):
        body = b'{"events":[' + b",".join(batch) + b"]}"
        try:
            response = yield Call("POST", "/v1/usage/events", body=body)
        except ApiError as error:
            error.ingested = IngestResult(accepted, duplicates)
            error.details["errors"] = [
                {**item, "index": item["index"] + offset}
                if isinstance(item, dict) and isinstance(item.get("index"), int)
                else item
                for item in error.errors
            ]
            raise
        except Exception as error:
            error.add_note(f"{accepted + duplicates} earlier events were stored")
            raise
        answer = read_json(response)
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]
        offset += len(batch)
    return IngestResult(accepted, duplicates)


# --- administration --------------------------------------------------------------------------


def json_body(fields: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


def create_account(
    account_id: str,
    name: str | None,
    timezone: str | None,
    low_balance_threshold: Decimal | int | str | None = None,
) -> Plan[Account]:
    threshold = None if low_balance_threshold is None else str(low_balance_threshold)
    body = json_body(
        {"id": account_id, "name": name, "timezone": timezone, "low_balance_threshold": threshold}
    )
    response = yield Call("POST", "/v1/admin/accounts", body=body, idempotent=False)
    return Account.from_json(read_json(response))


def get_account(account_id: str) -> Plan[Account]:
    response = yield Call("GET", f"/v1/admin/accounts/{path_segment(account_id)}")
    return Account.from_json(read_json(response))


def list_accounts() -> Plan[list[Account]]:
    response = yield Call("GET", "/v1/admin/accounts")
    return [Account.from_json(item) for item in read_json(response)]


def update_account(
    account_id: str,
    name: str | None,
    timezone: str | None,
    low_balance_threshold: Decimal | int | str | None = None,
    clear_low_balance_threshold: bool = False,
) -> Plan[Account]:
    if clear_low_balance_threshold and low_balance_threshold is not None:
        raise ValueError("give low_balance_threshold or clear_low_balance_threshold, not both")
    threshold = None if low_balance_threshold is None else str(low_balance_threshold)
    given = {"name": name, "timezone": timezone, "low_balance_threshold": threshold}
    fields: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if clear_low_balance_threshold:
        fields["low_balance_threshold"] = None  # null clears it
    body = json.dumps(fields).encode()
    response = yield Call("PATCH", f"/v1/admin/accounts/{path_segment(account_id)}", body=body)
    return Account.from_json(read_json(response))


def create_key(
    account_id: str, bot_id: str | None, name: str | None, expires_in_days: float | None
) -> Plan[NewKey]:
    body = json_body({"bot_id": bot_id, "name": name, "expires_in_days": expires_in_days})
    path = f"/v1/admin/accounts/{path_segment(account_id)}/keys"
    response = yield Call("POST", path, body=body, idempotent=False)
    return NewKey.from_json(read_json(response))


def list_keys(account_id: str) -> Plan[list[Key]]:
    response = yield Call("GET", f"/v1/admin/accounts/{path_segment(account_id)}/keys")
    return [Key.from_json(item) for item in read_json(response)]


def revoke_key(key_id: str) -> Plan[Key]:
    response = yield Call("DELETE", f"/v1/admin/keys/{path_segment(key_id)}")
    return Key.from_json(read_json(response))


def path_segment(value: str) -> str:
    """A path segment, so an id can never change which route is asked."""
    return quote(value, safe="")
