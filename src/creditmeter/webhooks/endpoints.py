"""Webhook endpoints (admin verbs): registered with a secret shown once, listed, removed;
their deliveries listed; a failed event sent again."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..store import Store
from ..store import webhooks as sql
from ..store.webhooks import DeliveryRow, EndpointRow
from . import addresses
from .alerts import EVENT_TYPES

FIELDS = frozenset({"url", "events"})
MAX_DELIVERIES = 100


@dataclass(frozen=True, slots=True)
class EndpointRequest:
    url: str
    events: tuple[str, ...]

    @classmethod
    def parse(cls, document: Any) -> EndpointRequest:
        if not isinstance(document, dict):
            raise InvalidInput("body: must be a JSON object")
        unknown = sorted(set(document) - FIELDS)
        if unknown:
            raise InvalidInput(f"{unknown[0]}: is not a field of this body (events, url)")
        if document.get("url") is None:
            raise InvalidInput("url: is required")
        return cls(addresses.check_url(document["url"]), event_types(document.get("events")))


def event_types(value: Any) -> tuple[str, ...]:
    """The types subscribed to, in EVENT_TYPES order; absent or null: every type."""
    if value is None:
        return EVENT_TYPES
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"events: must be a non-empty list of: {', '.join(EVENT_TYPES)}")
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"events: {unknown[0]!r} is not an event type ({', '.join(EVENT_TYPES)})"
        )
    return tuple(t for t in EVENT_TYPES if t in value)


def new_secret() -> str:
    """`whsec_` and 24 random bytes in base64, as Standard Webhooks' libraries read it."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create_endpoint(*, store: Store, request: EndpointRequest) -> EndpointRow:
    """Registers the endpoint, enabled; it receives the events written from now on."""
    if not store.settings.webhook_allow_private:
        addresses.check_public(request.url)
    row = EndpointRow(
        f"wh_{secrets.token_hex(8)}",
        request.url,
        request.events,
        sql.ENABLED,
        new_secret(),
        now_ms(),
    )
    with store.write() as conn:
        sql.insert_endpoint(conn, row)
    return row


def list_endpoints(*, store: Store) -> list[EndpointRow]:
    with store.read() as conn:
        return sql.endpoints(conn)


def remove_endpoint(*, store: Store, endpoint_id: str) -> EndpointRow:
    """Removes it with its deliveries (nothing more is sent to it); the endpoint as it was."""
    with store.write() as conn:
        row = sql.endpoint(conn, endpoint_id)
        if row is None or not sql.delete_endpoint(conn, endpoint_id):
            raise NotFound(f"webhook endpoint {endpoint_id!r} does not exist")
    return row


def list_deliveries(
    *, store: Store, endpoint_id: str, limit: int = MAX_DELIVERIES
) -> list[DeliveryRow]:
    with store.read() as conn:
        if sql.endpoint(conn, endpoint_id) is None:
            raise NotFound(f"webhook endpoint {endpoint_id!r} does not exist")
        return sql.deliveries(conn, endpoint_id, limit)


def redeliver(*, store: Store, event_id: str) -> int:
    """Sends the event again to every enabled endpoint whose delivery of it failed, with
    the whole retry schedule; how many deliveries were queued (NotFound: no such event)."""
    with store.write() as conn:
        if not sql.event_exists(conn, event_id):
            raise NotFound(f"webhook event {event_id!r} does not exist")
        queued = sql.redeliver(conn, event_id, now_ms())
        if queued:
            conn.info[sql.OUTBOX_MARK] = True  # wakes this process's deliverer
    return queued
