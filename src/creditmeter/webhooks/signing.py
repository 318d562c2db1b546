"""Standard Webhooks 1.0 signatures, by the `standardwebhooks` package: `v1,` and the base64
HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed by the base64-decoded bytes after `whsec_`."""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook


def headers(*, event_id: str, secret: str, body: str, timestamp: int) -> dict[str, str]:
    """The three headers of one attempt (timestamp: Unix seconds of the attempt)."""
    signature = Webhook(secret).sign(event_id, datetime.fromtimestamp(timestamp, UTC), body)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
