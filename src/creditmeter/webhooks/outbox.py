"""The transactional outbox: an alert event, and one pending delivery per enabled endpoint
subscribed to its type, written in the transaction of the journal entry that caused it (a
rolled-back batch writes none; a crash after commit loses none)."""

from __future__ import annotations

import itertools
import json
import secrets

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


def write(
    conn: Connection,
    *,
    event_type: str,
    created_at: int,
    account_id: str,
    balance: int,
    threshold: int | None,
    seq: int,
    grant_id: str | None,
) -> str:
    """Writes the event and its deliveries in the open transaction; its id."""
    event_id = new_event_id(created_at)
    payload = body(
        event_id=event_id,
        event_type=event_type,
        created_at=created_at,
        account_id=account_id,
        balance=balance,
        threshold=threshold,
        seq=seq,
        grant_id=grant_id,
    )
    sql.insert_event(
        conn,
        event_id=event_id,
        event_type=event_type,
        created_at=created_at,
        account_id=account_id,
        payload=payload,
        endpoint_ids=sql.subscribers(conn, event_type),
    )
    conn.info[sql.OUTBOX_MARK] = True
    return event_id
