"""The documented shapes of the credit endpoints (the routes parse bodies themselves, so
that every bad field is a 400 naming it; these models only describe them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from .schemas import Credits

# Balances, journal credits and allocations may be negative (overage, usage, expiry, void).
Signed = Annotated[Decimal, WithJsonSchema({"type": "number"})]
Amount = Credits  # a JSON number or a decimal string on input; an exact number on output
Instant = int | str


class GrantIn(BaseModel):
    id: str = Field(description="The client's idempotency key, 1-128 printable ASCII.")
    credits: Amount | str = Field(description="> 0, at most 1,000,000,000, 6 decimals.")
    kind: Literal["purchase", "plan", "promotion"]
    priority: int = Field(50, ge=1, le=100, description="Lower is used first.")
    expires_at: Instant | None = Field(None, description="ms or RFC 3339, in the future.")
    note: str | None = None


class GrantOut(BaseModel):
    id: str
    kind: str
    credits: Credits
    remaining: Credits
    priority: int
    expires_at: int | None
    status: Literal["active", "expired", "voided", "used"]
    note: str | None
    created_at: int


class VoidIn(BaseModel):
    reason: str | None = Field(None, description="Why, kept as the void entry's note.")


class BalanceOut(BaseModel):
    account_id: str
    balance: Signed = Field(description="What remains of the unexpired grants minus overage.")
    held: Credits
    available: Signed = Field(description="balance - held")
    overage: Credits
    seq: int = Field(description="The seq of the last journal entry counted.")
    grants: list[GrantOut]
    low_balance_threshold: Credits | None = Field(
        None,
        description="The account's low-balance threshold now (credits.balance_low fires "
        "below it); null when none is set.",
    )


class Allocation(BaseModel):
    grant_id: str
    credits: Signed = Field(description="Signed as the entry: negative for usage, expiry, void.")


class EventsSpan(BaseModel):
    count: int
    first_id: str
    last_id: str


class EntryOut(BaseModel):
    seq: int
    time: int = Field(description="ms since the epoch")
    type: Literal["grant", "usage", "expiry", "void"]
    credits: Signed = Field(description="Signed.")
    balance_after: Signed
    overage_after: Credits
    grant_id: str | None = None
    allocations: list[Allocation]
    events: EventsSpan | None = None
    note: str | None = None


class HoldIn(BaseModel):
    id: str = Field(description="Unique across all accounts; idempotent.")
    account_id: str
    credits: Amount | str
    expires_in_s: int = Field(900, ge=1, le=86_400)


class HoldOut(BaseModel):
    id: str
    account_id: str
    credits: Credits
    status: Literal["active", "released", "settled", "expired"]
    expires_at: int
    available: Signed
