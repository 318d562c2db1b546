"""creditmeter.client.verify_webhook against the server's own signing code: a good
delivery answers its event, credits as Decimal; a bad signature, another secret, a changed
body, a missing header or a timestamp more than 5 minutes old raise InvalidWebhook."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from creditmeter.client import InvalidWebhook, verify_webhook
from creditmeter.webhooks import outbox, signing
from creditmeter.webhooks.endpoints import new_secret

SECRET = new_secret()


def _delivery(timestamp: int | None = None) -> tuple[dict[str, str], str]:
    event_id = outbox.new_event_id(1_733_011_200_000)
    body = outbox.body(
        event_id=event_id,
        event_type="credits.balance_low",
        created_at=1_733_011_200_000,
        account_id="acme",
        balance=9_500_000,
        threshold=10_000_000,
        seq=3,
        grant_id=None,
    )
    stamp = int(time.time()) if timestamp is None else timestamp
    return signing.headers(event_id=event_id, secret=SECRET, body=body, timestamp=stamp), body


def test_a_good_delivery() -> None:
    headers, body = _delivery()
    event = verify_webhook(SECRET, headers, body.encode())
    assert event.id == headers["webhook-id"]
    assert (event.type, event.account_id, event.seq) == ("credits.balance_low", "acme", 3)
    assert (event.balance, event.threshold, event.grant_id) == (
        Decimal("9.5"),
        Decimal(10),
        None,
    )
    upper = {k.title(): v for k, v in headers.items()}  # header names in any case
    assert verify_webhook(SECRET, upper, body) == event


@pytest.mark.parametrize(
    "spoil",
    ["secret", "body", "signature", "old", "future", "missing", "id"],
)
def test_bad_deliveries_raise(spoil: str) -> None:
    headers, body = _delivery(
        int(time.time()) - 301
        if spoil == "old"
        else int(time.time()) + 400
        if spoil == "future"
        else None
    )
    secret = SECRET
    if spoil == "secret":
        secret = new_secret()
    elif spoil == "body":
        body = body.replace("9.5", "95")
    elif spoil == "signature":
        headers["webhook-signature"] = "v1,AAAA" + headers["webhook-signature"][7:]
    elif spoil == "missing":
        del headers["webhook-timestamp"]
    elif spoil == "id":
        other, _ = _delivery()
        body = body.replace(headers["webhook-id"], other["webhook-id"])
        headers = signing.headers(
            event_id=headers["webhook-id"],
            secret=SECRET,
            body=body,
            timestamp=int(time.time()),
        )
    with pytest.raises(InvalidWebhook):
        verify_webhook(secret, headers, body)
