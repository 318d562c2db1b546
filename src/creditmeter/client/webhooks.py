"""Receiving creditmeter's alert webhooks: verify_webhook checks a delivery's Standard
Webhooks signature and timestamp (by the `standardwebhooks` package) and answers the event,
credits as Decimal. Dedupe on `event.id` (the `webhook-id` header): delivery is at least
once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


class InvalidWebhook(Exception):
    """The delivery is not creditmeter's: a bad or missing signature, a timestamp more than
    5 minutes away, or a body that is not an event."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str  # the webhook-id header: the same on every attempt
    type: str  # credits.balance_low, .balance_depleted, .balance_recovered, .grant_expired
    created_at: int  # ms since the epoch
    account_id: str
    balance: Decimal  # the balance after the journal entry that caused it
    threshold: Decimal | None  # the account's low-balance threshold then
    seq: int  # that entry's seq
    grant_id: str | None  # the grant of that entry, if any (always for grant_expired)


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes | str) -> WebhookEvent:
    """The event of a delivery, once its signature (with the endpoint's `whsec_` secret)
    and timestamp check out; InvalidWebhook otherwise. Pass the body exactly as received."""
    try:
        Webhook(secret).verify(body, dict(headers.items()), json_parse=False)
    except (WebhookVerificationError, ValueError) as error:
        raise InvalidWebhook(str(error) or "the signature does not verify") from None
    text = body.decode() if isinstance(body, bytes) else body
    try:
        document: Any = json.loads(text, parse_float=Decimal)
        data = document["data"]
        event = WebhookEvent(
            id=document["id"],
            type=document["type"],
            created_at=document["created_at"],
            account_id=data["account_id"],
            balance=Decimal(data["balance"]),
            threshold=None if data["threshold"] is None else Decimal(data["threshold"]),
            seq=data["seq"],
            grant_id=data.get("grant_id"),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidWebhook(f"the body is not a creditmeter event ({error})") from None
    if event.id != {k.lower(): v for k, v in headers.items()}.get("webhook-id"):
        raise InvalidWebhook("the body's id is not the webhook-id header")
    return event
