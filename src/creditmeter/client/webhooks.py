"""Receiving creditmeter's alert webhooks: verify_webhook checks a delivery's Standard
Webhooks signature and timestamp (by the `standardwebhooks` package) and answers the event,
credits as Decimal. Dedupe on `event.id` (the `webhook-id` header): delivery is at least
once."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from .calls import Call, Plan, json_body, path_segment, read_json


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


# --- the admin verbs (a platform key with scope admin) -------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    events: tuple[str, ...]
    status: str  # enabled, or disabled once it answered 410
    created_at: int
    # only in the answer of create_webhook; kept out of repr (logs, tracebacks) as NewKey's key
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebhookEndpoint:
        return cls(
            data["id"],
            data["url"],
            tuple(data["events"]),
            data["status"],
            data["created_at"],
            data.get("secret"),
        )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    event_id: str
    type: str
    created_at: int
    state: str  # pending, delivered, failed
    attempts: int
    last_status: int | None
    last_excerpt: str | None
    last_attempt_at: int | None
    next_attempt_at: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebhookDelivery:
        return cls(**{name: data[name] for name in cls.__slots__})


WEBHOOKS = "/v1/admin/webhooks"


def _create(url: str, events: Sequence[str] | None) -> Plan[WebhookEndpoint]:
    body = json_body({"url": url, "events": None if events is None else list(events)})
    response = yield Call("POST", WEBHOOKS, body=body, idempotent=False)
    return WebhookEndpoint.from_json(read_json(response))


def _list() -> Plan[list[WebhookEndpoint]]:
    response = yield Call("GET", WEBHOOKS)
    return [WebhookEndpoint.from_json(item) for item in read_json(response)]


def _delete(webhook_id: str) -> Plan[WebhookEndpoint]:
    response = yield Call("DELETE", f"{WEBHOOKS}/{path_segment(webhook_id)}")
    return WebhookEndpoint.from_json(read_json(response))


def _deliveries(webhook_id: str) -> Plan[list[WebhookDelivery]]:
    response = yield Call("GET", f"{WEBHOOKS}/{path_segment(webhook_id)}/deliveries")
    return [WebhookDelivery.from_json(item) for item in read_json(response)]


def _redeliver(event_id: str) -> Plan[int]:
    path = f"{WEBHOOKS}/events/{path_segment(event_id)}/redeliver"
    response = yield Call("POST", path)
    queued: int = read_json(response)["queued"]
    return queued


class WebhookVerbs:
    """The webhook admin verbs of the synchronous Client (it supplies _run)."""

    def _run(self, plan: Plan[Any]) -> Any:  # pragma: no cover - Client's own
        raise NotImplementedError

    def create_webhook(self, url: str, *, events: Sequence[str] | None = None) -> WebhookEndpoint:
        """Registers an endpoint; `.secret` (shown only here) verifies its deliveries."""
        result: WebhookEndpoint = self._run(_create(url, events))
        return result

    def list_webhooks(self) -> list[WebhookEndpoint]:
        result: list[WebhookEndpoint] = self._run(_list())
        return result

    def delete_webhook(self, webhook_id: str) -> WebhookEndpoint:
        result: WebhookEndpoint = self._run(_delete(webhook_id))
        return result

    def webhook_deliveries(self, webhook_id: str) -> list[WebhookDelivery]:
        """The endpoint's last 100 deliveries, newest first."""
        result: list[WebhookDelivery] = self._run(_deliveries(webhook_id))
        return result

    def redeliver_webhook(self, event_id: str) -> int:
        """Queues the event's failed deliveries again; how many."""
        result: int = self._run(_redeliver(event_id))
        return result


class AsyncWebhookVerbs:
    """WebhookVerbs for the AsyncClient (it supplies _run): the same arguments, awaited."""

    async def _run(self, plan: Plan[Any]) -> Any:  # pragma: no cover - AsyncClient's own
        raise NotImplementedError

    async def create_webhook(
        self, url: str, *, events: Sequence[str] | None = None
    ) -> WebhookEndpoint:
        result: WebhookEndpoint = await self._run(_create(url, events))
        return result

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        result: list[WebhookEndpoint] = await self._run(_list())
        return result

    async def delete_webhook(self, webhook_id: str) -> WebhookEndpoint:
        result: WebhookEndpoint = await self._run(_delete(webhook_id))
        return result

    async def webhook_deliveries(self, webhook_id: str) -> list[WebhookDelivery]:
        result: list[WebhookDelivery] = await self._run(_deliveries(webhook_id))
        return result

    async def redeliver_webhook(self, event_id: str) -> int:
        result: int = await self._run(_redeliver(event_id))
        return result
