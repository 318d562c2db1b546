"""SQL for balance alerts: endpoints, the outbox of events, deliveries and their attempts.
creditmeter.webhooks decides what to send and when; this only reads and writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from .dialect import dialect_of, run
from .tables import webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_events

# Set on a connection whose transaction wrote alert events: its Store wakes the deliverer
# once it commits.
OUTBOX_MARK = "creditmeter.outbox"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
ENABLED, DISABLED = "enabled", "disabled"


@dataclass(frozen=True, slots=True)
class EndpointRow:
    id: str
    url: str
    events: tuple[str, ...]
    status: str
    secret: str
    created_at: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery as listed: with its event's type."""

    event_id: str
    type: str
    created_at: int
    state: str
    attempts: int
    next_attempt_at: int | None  # None once delivered or failed
    last_status: int | None
    last_excerpt: str | None
    last_attempt_at: int | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed for one attempt, with what the attempt needs."""

    endpoint_id: str
    event_id: str
    attempts: int
    round_attempts: int
    lease_until: int
    url: str
    secret: str
    endpoint_status: str
    payload: str


def _endpoint(row: Sequence[object]) -> EndpointRow:
    id_, url, events, status, secret, created_at = row
    assert isinstance(events, str)
    return EndpointRow(
        str(id_),
        str(url),
        tuple(events.split(",")) if events else (),
        str(status),
        str(secret),
        int(str(created_at)),
    )


def insert_endpoint(conn: Connection, row: EndpointRow) -> None:
    conn.execute(
        insert(webhook_endpoints).values(
            id=row.id,
            url=row.url,
            events=",".join(row.events),
            status=row.status,
            secret=row.secret,
            created_at=row.created_at,
        )
    )


def endpoints(conn: Connection) -> list[EndpointRow]:
    query = select(webhook_endpoints).order_by(
        webhook_endpoints.c.created_at, webhook_endpoints.c.id
    )
    return [_endpoint(row) for row in conn.execute(query)]


def endpoint(conn: Connection, endpoint_id: str) -> EndpointRow | None:
    query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    row = conn.execute(query).one_or_none()
    return None if row is None else _endpoint(row)


def delete_endpoint(conn: Connection, endpoint_id: str) -> bool:
    """Removes the endpoint with its deliveries and attempts; False if there is none."""
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.endpoint_id == endpoint_id))
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id))
    result = conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    return bool(result.rowcount)


def disable_endpoint(conn: Connection, endpoint_id: str, now: int, why: str) -> None:
    """Disabled: nothing more is sent to it; what was pending for it fails."""
    conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(status=DISABLED)
    )
    conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.state == PENDING,
        )
        .values(state=FAILED, claimed_by=None, claimed_until=None, last_excerpt=why)
    )


def enabled_subscriptions(conn: Connection) -> list[tuple[str, tuple[str, ...]]]:
    """(id, types) of every enabled endpoint."""
    rows = run(
        conn, "SELECT id, events FROM webhook_endpoints WHERE status = 'enabled' ORDER BY id"
    )
    return [(id_, tuple(events.split(","))) for id_, events in rows]


def insert_events(
    conn: Connection,
    events: Sequence[tuple[str, str, int, str, str]],
    deliveries: Sequence[tuple[str, str, int]],
) -> None:
    """Events (id, type, created_at, account_id, payload) and their deliveries (endpoint_id,
    event_id, created_at), pending and due at once: one statement per table."""
    mark = dialect_of(conn).placeholder
    if events:
        row = "(" + ", ".join([mark] * 5) + ")"
        run(
            conn,
            "INSERT INTO webhook_events (id, type, created_at, account_id, payload) VALUES "
            + ", ".join([row] * len(events)),
            [v for event in events for v in event],
        )
    if deliveries:
        row = f"({mark}, {mark}, {mark}, 'pending', 0, 0, {mark})"
        run(
            conn,
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, created_at, state, attempts,"
            " round_attempts, next_attempt_at) VALUES " + ", ".join([row] * len(deliveries)),
            [v for e, i, c in deliveries for v in (e, i, c, c)],
        )


def events_of(conn: Connection, account_id: str) -> list[tuple[str, str, int, str]]:
    """The account's events, oldest first: (id, type, created_at, payload)."""
    query = (
        select(
            webhook_events.c.id,
            webhook_events.c.type,
            webhook_events.c.created_at,
            webhook_events.c.payload,
        )
        .where(webhook_events.c.account_id == account_id)
        .order_by(webhook_events.c.created_at, webhook_events.c.id)
    )
    return [(i, t, c, p) for i, t, c, p in conn.execute(query)]


def event_exists(conn: Connection, event_id: str) -> bool:
    query = select(webhook_events.c.id).where(webhook_events.c.id == event_id)
    return conn.execute(query).first() is not None


def deliveries(conn: Connection, endpoint_id: str, limit: int) -> list[DeliveryRow]:
    """The endpoint's deliveries, newest first."""
    d = webhook_deliveries
    query = (
        select(
            d.c.event_id,
            webhook_events.c.type,
            d.c.created_at,
            d.c.state,
            d.c.attempts,
            d.c.next_attempt_at,
            d.c.last_status,
            d.c.last_excerpt,
            d.c.last_attempt_at,
        )
        .join(webhook_events, webhook_events.c.id == d.c.event_id)
        .where(d.c.endpoint_id == endpoint_id)
        .order_by(d.c.created_at.desc(), d.c.event_id.desc())
        .limit(limit)
    )
    rows = []
    for row in conn.execute(query):
        fields = list(row)
        if fields[3] != PENDING:
            fields[5] = None
        rows.append(DeliveryRow(*fields))
    return rows


def next_due(conn: Connection) -> int | None:
    """When the earliest pending delivery is due (a claimed one: when its lease ends)."""
    query = select(func.min(webhook_deliveries.c.next_attempt_at)).where(
        webhook_deliveries.c.state == PENDING
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def claim(conn: Connection, *, owner: str, now: int, lease_ms: int, limit: int) -> list[Claimed]:
    """Claims up to `limit` due deliveries for one attempt each: their next attempt is put at
    the lease's end, so one whose process dies is due again then. PostgreSQL skips the rows
    other claimers hold locked; SQLite's write transactions run one at a time."""
    d = webhook_deliveries
    due = (
        select(d.c.endpoint_id, d.c.event_id)
        .where(d.c.state == PENDING, d.c.next_attempt_at <= now)
        .order_by(d.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    keys = [(e, v) for e, v in conn.execute(due)]
    if not keys:
        return []
    until = now + lease_ms
    for endpoint_id, event_id in keys:
        conn.execute(
            update(d)
            .where(d.c.endpoint_id == endpoint_id, d.c.event_id == event_id)
            .values(claimed_by=owner, claimed_until=until, next_attempt_at=until)
        )
    e = webhook_endpoints
    query = (
        select(
            d.c.endpoint_id,
            d.c.event_id,
            d.c.attempts,
            d.c.round_attempts,
            d.c.claimed_until,
            e.c.url,
            e.c.secret,
            e.c.status,
            webhook_events.c.payload,
        )
        .join(e, e.c.id == d.c.endpoint_id)
        .join(webhook_events, webhook_events.c.id == d.c.event_id)
        .where(d.c.claimed_by == owner, d.c.claimed_until == until)
    )
    wanted = set(keys)
    return [Claimed(*row) for row in conn.execute(query) if (row[0], row[1]) in wanted]


def record_attempt(
    conn: Connection,
    claimed: Claimed,
    *,
    owner: str,
    at: int,
    status: int | None,
    excerpt: str | None,
    duration_ms: int,
    state: str,
    next_attempt_at: int,
) -> bool:
    """Writes an attempt's outcome and releases the claim; False (nothing written) when the
    claim was lost (its lease ended and another process took the delivery over)."""
    d = webhook_deliveries
    result = conn.execute(
        update(d)
        .where(
            d.c.endpoint_id == claimed.endpoint_id,
            d.c.event_id == claimed.event_id,
            d.c.claimed_by == owner,
            d.c.claimed_until == claimed.lease_until,
        )
        .values(
            state=state,
            attempts=d.c.attempts + 1,
            round_attempts=d.c.round_attempts + 1,
            next_attempt_at=next_attempt_at,
            claimed_by=None,
            claimed_until=None,
            last_status=status,
            last_excerpt=excerpt,
            last_attempt_at=at,
        )
    )
    if not result.rowcount:
        return False
    conn.execute(
        insert(webhook_attempts).values(
            endpoint_id=claimed.endpoint_id,
            event_id=claimed.event_id,
            attempt=claimed.attempts + 1,
            at=at,
            status=status,
            excerpt=excerpt,
            duration_ms=duration_ms,
        )
    )
    return True


def attempts(
    conn: Connection, endpoint_id: str, event_id: str
) -> list[tuple[int, int, int | None, str | None]]:
    """(attempt, at, status, excerpt) of each attempt, in order."""
    a = webhook_attempts
    query = (
        select(a.c.attempt, a.c.at, a.c.status, a.c.excerpt)
        .where(a.c.endpoint_id == endpoint_id, a.c.event_id == event_id)
        .order_by(a.c.attempt)
    )
    return [(n, at, s, x) for n, at, s, x in conn.execute(query)]


def redeliver(conn: Connection, event_id: str, now: int) -> int:
    """Puts the event's failed deliveries to enabled endpoints back in the queue, due at once,
    with the whole retry schedule again; how many."""
    d = webhook_deliveries
    enabled = select(webhook_endpoints.c.id).where(webhook_endpoints.c.status == ENABLED)
    result = conn.execute(
        update(d)
        .where(and_(d.c.event_id == event_id, d.c.state == FAILED, d.c.endpoint_id.in_(enabled)))
        .values(state=PENDING, round_attempts=0, next_attempt_at=now)
    )
    return int(result.rowcount)


def queue(conn: Connection) -> tuple[int, int | None]:
    """How many deliveries are pending, and when the oldest of them was created."""
    query = select(func.count(), func.min(webhook_deliveries.c.created_at)).where(
        webhook_deliveries.c.state == PENDING
    )
    count, oldest = conn.execute(query).one()
    return int(count), None if oldest is None else int(oldest)
