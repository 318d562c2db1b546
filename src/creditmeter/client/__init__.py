"""A typed Python client for creditmeter's API, synchronous and asyncio, on httpx.

    from creditmeter.client import Client

    with Client("http://127.0.0.1:8000", read_key) as meter:
        for row in meter.bill_page(date(2024, 12, 1), date(2024, 12, 31)):
            print(row.date, row.total, row.chat)

See docs/client.md.
"""

from ..categories import Category
from .calls import EventLike, Instant, RetryPolicy
from .clients import AsyncClient, Client
from .conversations import ConversationCredits, RunCredits
from .credits import CreditBalance, CreditEntry, CreditGrant, Hold
from .errors import (
    ApiError,
    Conflict,
    Forbidden,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    RateLimited,
    ServerError,
    StoreUnavailable,
    Unauthorized,
)
from .models import (
    Account,
    BillTotal,
    DayRow,
    IngestResult,
    Key,
    NewKey,
    UsageEvent,
)
from .webhooks import (
    InvalidWebhook,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    verify_webhook,
)

__all__ = [
    "Account",
    "ApiError",
    "AsyncClient",
    "BillTotal",
    "Category",
    "Client",
    "Conflict",
    "ConversationCredits",
    "CreditBalance",
    "CreditEntry",
    "CreditGrant",
    "DayRow",
    "EventLike",
    "Forbidden",
    "Hold",
    "IngestResult",
    "Instant",
    "InvalidInput",
    "InvalidWebhook",
    "Key",
    "MethodNotAllowed",
    "NewKey",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "RateLimited",
    "RetryPolicy",
    "RunCredits",
    "ServerError",
    "StoreUnavailable",
    "Unauthorized",
    "UsageEvent",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "verify_webhook",
]
