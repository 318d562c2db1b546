"""The transactional outbox: an alert event, and one pending delivery per enabled endpoint
subscribed to its type, written in the transaction of the journal entry that caused it (a
rolled-back batch writes none; a crash after commit loses none)."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from ..money import format_credits
from ..store import webhooks as sql

_ORDER = itertools.count()


def new_event_id(created_at: int) -> str:
    """Unique, and sorting as written: the time, a counter of this process (events of one
    entry share their time), then randomness."""
    return f"evt_{created_at:012x}{next(_ORDER) % 0x1000000:06x}{secrets.token_hex(8)}"


def body(
    *,
    event_id: str,
    event_type: str,
    created_at: int,
    account_id: str,
    balance: int,
    threshold: int | None,
    seq: int,
    grant_id: str | None,
) -> str:
    """The event as sent, compact JSON with credits as exact decimal numbers."""
    data = (
        f'{{"account_id":{json.dumps(account_id)},"balance":{_credits(balance)},'
        f'"threshold":{"null" if threshold is None else _credits(threshold)},"seq":{seq}'
    )
    if grant_id is not None:
        data += f',"grant_id":{json.dumps(grant_id)}'
    return (
        f'{{"id":{json.dumps(event_id)},"type":{json.dumps(event_type)},'
        f'"created_at":{created_at},"data":{data}}}}}'
    )


def _credits(micro: int) -> str:
    return format_credits(micro)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert decided by a journal entry, written by write_all before its commit."""

    event_type: str
    created_at: int
    account_id: str
    balance: int
    threshold: int | None
    seq: int
    grant_id: str | None


def write_all(conn: Connection, alerts: Sequence[Alert]) -> None:
    """Writes the events and their deliveries in the open transaction: three statements
    whatever their number (the endpoints read once, then one insert per table)."""
    if not alerts:
        return
    subscribed = sql.enabled_subscriptions(conn)
    events: list[tuple[str, str, int, str, str]] = []
    deliveries: list[tuple[str, str, int]] = []
    for alert in alerts:
        event_id = new_event_id(alert.created_at)
        payload = body(
            event_id=event_id,
            event_type=alert.event_type,
            created_at=alert.created_at,
            account_id=alert.account_id,
            balance=alert.balance,
            threshold=alert.threshold,
            seq=alert.seq,
            grant_id=alert.grant_id,
        )
        events.append((event_id, alert.event_type, alert.created_at, alert.account_id, payload))
        deliveries += [
            (endpoint_id, event_id, alert.created_at)
            for endpoint_id, types in subscribed
            if alert.event_type in types
        ]
    sql.insert_events(conn, events, deliveries)
    conn.info[sql.OUTBOX_MARK] = True
