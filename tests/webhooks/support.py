"""What the delivery tests share: a store with an account, keys and an endpoint at a
receiver on loopback, and `creditmeter serve` over it allowed to send there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from creditmeter import accounts, keys
from creditmeter.client import WebhookEvent, verify_webhook
from creditmeter.money import MICRO
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store
from creditmeter.webhooks import endpoints
from creditmeter.webhooks.endpoints import EndpointRequest
from tests.support.receiver import Receiver
from tests.support.server import Server, wait_until

WEBHOOK_ENV = {
    "CREDITMETER_WEBHOOK_ALLOW_PRIVATE": "true",
    "CREDITMETER_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2",
}


@dataclass
class World:
    url: str
    admin: str
    ingest: str
    endpoint_id: str
    secret: str

    def ingest_events(self, server: Server, spends: list[tuple[str, Decimal]]) -> None:
        body = {
            "events": [
                {
                    "id": event_id,
                    "account_id": "acme",
                    "bot_id": "bot",
                    "category": "chat",
                    "credits": str(credits),
                    "timestamp": 1_733_011_200_000,
                }
                for event_id, credits in spends
            ]
        }
        answer = httpx.post(
            f"{server.base_url}/v1/usage/events",
            json=body,
            headers={"Authorization": f"Bearer {self.ingest}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text

    def grant(self, server: Server, grant_id: str, credits: int, **fields: Any) -> None:
        answer = httpx.post(
            f"{server.base_url}/v1/admin/accounts/acme/grants",
            json={"id": grant_id, "credits": credits, "kind": "purchase", **fields},
            headers={"Authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text

    def deliveries(self, server: Server) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{server.base_url}/v1/admin/webhooks/{self.endpoint_id}/deliveries",
            headers={"Authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found

    def verified(self, receiver: Receiver) -> list[WebhookEvent]:
        """Every request the receiver got, verified as the client verifies them."""
        return [verify_webhook(self.secret, r.headers, r.body) for r in receiver.requests()]


@contextmanager
def world(url: str, receiver: Receiver, threshold: int | None = 10) -> Iterator[World]:
    """Account acme (threshold in credits), keys, and an endpoint at the receiver."""
    store = open_store(Settings(database_url=url, webhook_allow_private=True))
    try:
        yield make_world(store, url, receiver, threshold)
    finally:
        store.dispose()


def make_world(store: Store, url: str, receiver: Receiver, threshold: int | None) -> World:
    accounts.create_account(
        store=store,
        account_id="acme",
        low_balance_threshold=None if threshold is None else threshold * MICRO,
    )
    admin = keys.create_key(store=store, scope="admin").token
    ingest = keys.create_key(store=store, scope="ingest").token
    endpoint = endpoints.create_endpoint(
        store=store, request=EndpointRequest.parse({"url": receiver.url})
    )
    return World(url, admin, ingest, endpoint.id, endpoint.secret)


def serve(url: str, log: Path, **env: str) -> Server:
    return Server(url, log, env={**WEBHOOK_ENV, **env})


def wait_for_requests(receiver: Receiver, count: int, timeout: float = 30) -> None:
    wait_until(
        lambda: len(receiver.requests()) >= count,
        timeout=timeout,
        what=f"{count} webhook requests",
    )


def types(events: list[WebhookEvent]) -> list[str]:
    return [e.type for e in events]


def body_of(receiver: Receiver, index: int) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(receiver.requests()[index].body, parse_float=Decimal)
    return found
