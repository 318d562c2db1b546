"""The documented shapes of the webhook admin API (bodies are checked by
webhooks.endpoints; answers are written by webhook_routes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal[
    "credits.balance_low",
    "credits.balance_depleted",
    "credits.balance_recovered",
    "credits.grant_expired",
]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="http or https; its host must resolve to public addresses only "
        "(unless CREDITMETER_WEBHOOK_ALLOW_PRIVATE=true).",
        examples=["https://hooks.example.com/creditmeter"],
    )
    events: list[EventType] | None = Field(None, description="The types sent; absent: all.")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[EventType]
    status: Literal["enabled", "disabled"] = Field(
        description="disabled once the endpoint answered 410: nothing is sent to it then."
    )
    created_at: int = Field(description="Milliseconds since the epoch.")


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="`whsec_` and base64: the Standard Webhooks signing key, shown only here."
    )


class DeliveryOut(BaseModel):
    event_id: str = Field(description="Also the `webhook-id` header of every attempt.")
    type: EventType
    created_at: int
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = Field(description="HTTP status of the last attempt, if any.")
    last_excerpt: str | None = Field(description="The start of the last answer, or why not.")
    last_attempt_at: int | None
    next_attempt_at: int | None = Field(description="When it is tried next (pending only).")


class RedeliveryOut(BaseModel):
    event_id: str
    queued: int = Field(description="Failed deliveries of the event queued again.")
