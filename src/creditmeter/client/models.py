"""What the API answers and takes, as typed values: credits are `Decimal`, days are `date`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from ..categories import CATEGORIES, Category


def _credits(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise TypeError(f"credits must be a JSON number, not {value!r}")
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class DayRow:
    """One local day of `GET /v1/account/bill/page`, attributes named as the API's fields."""

    date: dt.date
    start_date: dt.date
    end_date: dt.date
    total: Decimal
    chat: Decimal
    knowledge_doc_indexing: Decimal
    knowledge_doc_storage: Decimal
    rerank: Decimal
    database_processing: Decimal
    tool_call: Decimal
    asr: Decimal
    tts: Decimal

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> DayRow:
        return cls(
            date=dt.date.fromisoformat(row["date"]),
            start_date=dt.date.fromisoformat(row["start_date"]),
            end_date=dt.date.fromisoformat(row["end_date"]),
            total=_credits(row["total"]),
            **{name: _credits(row[name]) for name in CATEGORIES},
        )

    def categories(self) -> dict[str, Decimal]:
        """The eight categories, in the API's order."""
        return {name: getattr(self, name) for name in CATEGORIES}


@dataclass(frozen=True, slots=True)
class BillTotal:
    """`GET /v1/account/bill/total`: the sums over a range and the first and last day."""

    start_date: dt.date
    end_date: dt.date
    total: Decimal
    chat: Decimal
    knowledge_doc_indexing: Decimal
    knowledge_doc_storage: Decimal
    rerank: Decimal
    database_processing: Decimal
    tool_call: Decimal
    asr: Decimal
    tts: Decimal

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> BillTotal:
        return cls(
            start_date=dt.date.fromisoformat(body["start_date"]),
            end_date=dt.date.fromisoformat(body["end_date"]),
            total=_credits(body["total"]),
            **{name: _credits(body[name]) for name in CATEGORIES},
        )

    def categories(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in CATEGORIES}


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One usage event, as `POST /v1/usage/events` takes it.

    `credits` may be a `Decimal`, an `int` or plain decimal text; `timestamp` milliseconds
    since the epoch or an aware `datetime` (sent as milliseconds, truncated)."""

    id: str
    account_id: str
    bot_id: str
    category: Category
    credits: Decimal | int | str
    timestamp: int | dt.datetime
    conversation_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": self.id,
            "account_id": self.account_id,
            "bot_id": self.bot_id,
            "category": self.category,
            "credits": self.credits,
            "timestamp": self.timestamp,
        }
        if self.conversation_id is not None:
            event["conversation_id"] = self.conversation_id
        if self.metadata is not None:
            event["metadata"] = dict(self.metadata)
        if self.run_id is not None:
            event["run_id"] = self.run_id
        return event


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What `ingest` did: events stored now, and events already stored (sent before, by
    this call's own retries after a lost answer too, or repeated in the input)."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    timezone: str
    created_at: int  # ms since the epoch, as the API writes it
    low_balance_threshold: Decimal | None = None  # credits.balance_low fires below it

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Account:
        threshold = body.get("low_balance_threshold")
        return cls(
            id=body["id"],
            name=body["name"],
            timezone=body["timezone"],
            created_at=body["created_at"],
            low_balance_threshold=None if threshold is None else Decimal(threshold),
        )


@dataclass(frozen=True, slots=True)
class Key:
    """An API key as the admin API lists it; never its secret. Times are ms since the epoch."""

    key_id: str
    scope: Literal["read", "ingest", "admin"]
    account_id: str | None
    bot_id: str | None
    name: str | None
    created_at: int
    expires_at: int | None
    revoked_at: int | None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Key:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: `key` is its secret, shown only now (and kept out of `repr`)."""

    record: Key
    key: str = field(repr=False)

    @property
    def key_id(self) -> str:
        return self.record.key_id

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> NewKey:
        return cls(record=Key.from_json(body), key=body["key"])
