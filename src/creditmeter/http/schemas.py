"""Pydantic models: admin request bodies, and the documented shape of every answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..categories import Category
from ..ids import SLUG_JSON_PATTERN

# Credits are written as exact JSON numbers by our own renderer (money.format_credits).
Credits = Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0})]
SlugStr = Annotated[str, Field(pattern=SLUG_JSON_PATTERN)]


class Error(BaseModel):
    code: int = Field(description="A stable error code, such as 40000 or 40127.")
    message: str = Field(description="What went wrong and, for bad input, the rule broken.")


class EventError(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    field: str = Field(description="The offending field.")
    message: str


class BatchError(Error):
    errors: list[EventError] = Field(default_factory=list)


class ConflictError(Error):
    ids: list[str] = Field(default_factory=list, description="Event ids reused with other content.")


class DayRow(BaseModel):
    date: str = Field(description="The local calendar day, YYYY-MM-DD.", examples=["2024-12-01"])
    start_date: str = Field(description="Equals `date` for a day row.")
    end_date: str = Field(description="Equals `date` for a day row.")
    total: Credits = Field(description="Exact sum of the eight categories.")
    chat: Credits
    knowledge_doc_indexing: Credits
    knowledge_doc_storage: Credits
    rerank: Credits
    database_processing: Credits
    tool_call: Credits
    asr: Credits
    tts: Credits


class BillTotal(BaseModel):
    start_date: str = Field(description="First local day the range touches.")
    end_date: str = Field(description="Last local day the range touches.")
    total: Credits
    chat: Credits
    knowledge_doc_indexing: Credits
    knowledge_doc_storage: Credits
    rerank: Credits
    database_processing: Credits
    tool_call: Credits
    asr: Credits
    tts: Credits


class UsageEventIn(BaseModel):
    """One usage event (documentation of the body; the server's own parser enforces it)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[!-~]{1,128}$",
        description="The client's idempotency key, unique within the account forever.",
    )
    account_id: SlugStr
    bot_id: SlugStr
    category: Category
    credits: Annotated[
        Decimal | str,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "minimum": 0, "maximum": 1000000, "multipleOf": 0.000001},
                    {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,6})(\.[0-9]{1,6})?$"},
                ],
                "description": "0 to 1000000 with at most 6 decimal places, plain notation.",
            }
        ),
    ]
    timestamp: Annotated[
        int | str,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 946684800000},
                    {"type": "string", "format": "date-time"},
                ],
                "description": "Milliseconds since the epoch, or RFC 3339 with an offset; "
                "from 2000-01-01 to 24 h ahead.",
            }
        ),
    ]
    conversation_id: str | None = Field(None, min_length=1, max_length=256)
    metadata: dict[str, object] | None = Field(
        None, description="A JSON object of at most 4 KiB as compact UTF-8 JSON."
    )
    run_id: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="The workflow run it belongs to; an event has at most one of "
        "conversation_id and run_id.",
    )


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[UsageEventIn] = Field(min_length=1, max_length=1000)


class IngestAnswer(BaseModel):
    accepted: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events already stored (or repeated in the batch).")


# Credits on input: a JSON number or a decimal string, read exactly from the body itself
# (credits.inputs); the model only documents it.
CreditsIn = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[0-9]{1,6})?$"},
                {"type": "null"},
            ]
        }
    ),
]
_THRESHOLD = (
    "Credits (at most 6 decimals, a JSON number or a string): credits.balance_low fires when "
    "the balance goes below it. null: none."
)


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: SlugStr
    name: str | None = Field(
        None, min_length=1, max_length=200, description="Printable characters."
    )
    timezone: str = Field("UTC", description="An IANA time zone name.", examples=["Asia/Shanghai"])
    low_balance_threshold: CreditsIn = Field(None, description=_THRESHOLD)


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=200, description="Printable characters."
    )
    timezone: str | None = Field(None, description="An IANA time zone name.")
    low_balance_threshold: CreditsIn = Field(None, description=_THRESHOLD + " Absent: unchanged.")


class AccountOut(BaseModel):
    id: str
    name: str
    timezone: str
    created_at: int = Field(description="Milliseconds since the epoch.")
    low_balance_threshold: Credits | None = Field(
        description="credits.balance_low fires when the balance goes below it; null: none."
    )


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_id: SlugStr | None = Field(None, description="Bind the key to this bot alone.")
    name: str | None = Field(
        None, min_length=1, max_length=100, description="A label: printable characters."
    )
    # strict: a JSON number, never true or a string ("1e-7")
    expires_in_days: float | None = Field(None, gt=0, le=36500, strict=True)


class KeyOut(BaseModel):
    key_id: str
    scope: Literal["read", "ingest", "admin"]
    account_id: str | None
    bot_id: str | None
    name: str | None
    created_at: int
    expires_at: int | None
    revoked_at: int | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The secret, shown only in this answer.")


class PortalTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_id: SlugStr | None = Field(None, description="Bind the link to this bot alone.")
    expires_in: int = Field(
        3600,
        ge=1,
        le=86400,
        strict=True,  # a JSON integer, never true or "60"
        description="Seconds until the token expires; at most 86400 (24 h).",
    )


class PortalTokenOut(BaseModel):
    token: str = Field(description="A read key that expires at `expires_at`; shown only here.")
    url: str = Field(
        description="The dashboard, signed in: the token travels in the URL fragment, which "
        "browsers never send to a server.",
        examples=["http://127.0.0.1:8000/dashboard#token=cmr_..."],
    )
    expires_at: int = Field(description="Milliseconds since the epoch; the token fails from then.")
    key_id: str = Field(description="The token's key id, to revoke it early.")


class AccountView(BaseModel):
    """What a read key sees of its own account: what the dashboard needs to start."""

    account_id: str
    name: str
    timezone: str = Field(description="The account's IANA zone: the default of `timezone`.")
    bot_id: str | None = Field(description="The bot this key is bound to, if any.")
    bots: list[str] = Field(description="The bots this key may read, by id.")
    expires_at: int | None = Field(description="When this key expires (ms since the epoch).")
