"""Balance alerts as Standard Webhooks (docs/webhooks.md): crossings decided where journal
entries are appended (alerts), written to the outbox in the same transaction (outbox),
endpoints registered by operators (endpoints), and sent by `serve`'s deliverer."""

from .alerts import (
    BALANCE_DEPLETED,
    BALANCE_LOW,
    BALANCE_RECOVERED,
    EVENT_TYPES,
    GRANT_EXPIRED,
)

__all__ = [
    "BALANCE_DEPLETED",
    "BALANCE_LOW",
    "BALANCE_RECOVERED",
    "EVENT_TYPES",
    "GRANT_EXPIRED",
]
