"""Shared by the reliability suites: seeded stores served by `creditmeter serve` (the
process itself is `tests.support.server`), event loads with exact expected sums, what the
clients saw, and the figures each suite reports.

Sizes: CI runs every suite small; `CREDITMETER_RELIABILITY_SCALE=full` runs them at the
size docs/reliability.md reports. `CREDITMETER_RELIABILITY_REPORT=path` appends each
suite's figures to that file as JSON lines; `CREDITMETER_RELIABILITY_SEED` replays the
random load of a reported seed.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from tests.rollup_check import rollup_mismatches
from tests.support.server import Server
from tests.support.stores import opened_store, throwaway_store_url

from creditmeter import accounts, keys
from creditmeter.categories import CATEGORIES
from creditmeter.money import parse_credits
from creditmeter.store import Store

SCALE = os.environ.get("CREDITMETER_RELIABILITY_SCALE", "ci").lower()
FULL = SCALE == "full"

EVENTS = "/v1/usage/events"
BILL_TOTAL = "/v1/account/bill/total"
# Events fall in December 2024; the totals are asked over 2024-11-25 .. 2025-01-05 (UTC).
EVENT_START = 1733011200000  # 2024-12-01T00:00:00Z
EVENT_SPAN = 20 * 86_400_000
TOTAL_RANGE = {"start_time": "1732492800000", "end_time": "1736121599999"}
ZONES = {"acme": "Asia/Shanghai", "beta": "America/New_York", "gamma": "Asia/Kolkata"}


def run_seed() -> int:
    """The seed of a randomised load: CREDITMETER_RELIABILITY_SEED replays a reported one."""
    given = os.environ.get("CREDITMETER_RELIABILITY_SEED")
    return int(given) if given else random.SystemRandom().randrange(1_000_000)


def sized(ci: int, full: int) -> int:
    """`ci` in CI and by default, `full` with CREDITMETER_RELIABILITY_SCALE=full."""
    return full if FULL else ci


def report(suite: str, **figures: Any) -> None:
    """Prints a suite's figures, and appends them to CREDITMETER_RELIABILITY_REPORT if set."""
    line = json.dumps({"suite": suite, "scale": SCALE, **figures}, sort_keys=True)
    print(line)
    target = os.environ.get("CREDITMETER_RELIABILITY_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


# --- seeded stores -------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    ingest: str
    admin: str
    read: dict[str, str]  # account id -> a read key of it


def seed(url: str, zones: dict[str, str] | None = None) -> Keys:
    """Migrates the store and creates the accounts (id -> time zone) and a key of each kind."""
    zones = ZONES if zones is None else zones
    with opened_store(url) as store:
        for account_id, zone_name in zones.items():
            accounts.create_account(store=store, account_id=account_id, timezone=zone_name)
        return Keys(
            ingest=keys.create_key(store=store, scope="ingest").token,
            admin=keys.create_key(store=store, scope="admin").token,
            read={a: keys.create_key(store=store, scope="read", account_id=a).token for a in zones},
        )


@dataclass(frozen=True)
class StoredEvent:
    bot_id: str
    category: int
    credits: int  # micro-credits
    ts: int


def stored_events(url: str) -> dict[tuple[str, str], StoredEvent]:
    """Every event in the store, by (account_id, event_id), read with plain SQL."""
    with opened_store(url) as store, store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT account_id, event_id, bot_id, category, credits, ts FROM usage_events")
        )
        return {(r[0], r[1]): StoredEvent(r[2], r[3], r[4], r[5]) for r in rows}


def mismatches(url: str, account_ids: list[str]) -> int:
    """Rollup rows that differ from the raw events, over these accounts: 0 when consistent."""
    with opened_store(url) as store, store.engine.connect() as conn:
        return sum(rollup_mismatches(conn, a) for a in account_ids)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- loads ----------------------------------------------------------------------------------


def random_credits(rng: random.Random) -> str | int | float:
    """Credits in every accepted form: JSON integers, JSON numbers with decimals, strings."""
    value = rng.choice([0, 1, 999_999, 1_000_000, rng.randrange(0, 50_000_000)])
    text_form = f"{value // 1_000_000}.{value % 1_000_000:06d}".rstrip("0").rstrip(".")
    form = rng.randrange(3)
    if form == 0 or (form == 1 and value % 1_000_000) or value < 1000:
        return text_form  # (a float below 1e-4 would be written with an exponent)
    if form == 1:
        return value // 1_000_000
    # At most 14 significant digits: repr() writes the float back as exactly this decimal.
    return float(text_form)


def micro(event: dict[str, Any]) -> int:
    """The event's credits in micro-credits, exactly."""
    value = event["credits"]
    return parse_credits(repr(value) if isinstance(value, float) else str(value))


def make_event(rng: random.Random, event_id: str, account_id: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "account_id": account_id,
        "bot_id": f"bot-{rng.randrange(4)}",
        "category": rng.choice(CATEGORIES),
        "credits": random_credits(rng),
        "timestamp": EVENT_START + rng.randrange(EVENT_SPAN),
    }
    # a knowledge_doc_storage event (charged per day) is in no conversation: a 400
    if rng.random() < 0.2 and event["category"] != "knowledge_doc_storage":
        event["conversation_id"] = f"conv-{rng.randrange(100)}"
    if rng.random() < 0.1:
        event["metadata"] = {"model": "gpt-4o", "tokens": rng.randrange(10_000)}
    return event


@dataclass
class Tally:
    """What a client saw: answers by status, acknowledged and abandoned events."""

    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    cut: int = 0  # requests in flight when the server died
    retries: int = 0
    acked: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    abandoned: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    retried_duplicates: int = 0  # events a retry found already stored: committed, not acked
    unexpected: list[str] = field(default_factory=list)

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def merge(self, other: Tally) -> None:
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.transport_errors += other.transport_errors
        self.cut += other.cut
        self.retries += other.retries
        self.acked.update(other.acked)
        self.abandoned.update(other.abandoned)
        self.retried_duplicates += other.retried_duplicates
        self.unexpected += other.unexpected

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + self.transport_errors


def expected_totals(events: dict[tuple[str, str], StoredEvent]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (account_id, _), stored in events.items():
        totals[account_id] = totals.get(account_id, 0) + stored.credits
    return totals


def served_total(client: httpx.Client, base: str, admin_key: str, account_id: str) -> int:
    """The account's total over the whole load, as the API answers it, in micro-credits."""
    answer = client.get(
        f"{base}{BILL_TOTAL}",
        params={**TOTAL_RANGE, "account_id": account_id, "timezone": "UTC"},
        headers=bearer(admin_key),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    total = json.loads(answer.text, parse_float=Decimal, parse_int=Decimal)["total"]
    return parse_credits(str(total))


def check_ledger(
    url: str,
    sent: dict[tuple[str, str], dict[str, Any]],
    acked: dict[tuple[str, str], dict[str, Any]],
    *,
    base: str,
    admin_key: str,
    account_ids: list[str],
) -> dict[str, int]:
    """The ledger after a load: every acknowledged event stored once with its content,
    nothing stored that was not sent, rollups equal to raw events, and the API's totals
    equal to the sum of the stored events. Returns figures."""
    stored = stored_events(url)
    lost = [key for key in acked if key not in stored]
    assert not lost, f"{len(lost)} acknowledged events were lost: {lost[:5]}"
    invented = [key for key in stored if key not in sent]
    assert not invented, f"events stored that were never sent: {invented[:5]}"
    for key, stored_event in stored.items():
        event = sent[key]
        assert (stored_event.bot_id, stored_event.credits) == (event["bot_id"], micro(event)), key
    assert mismatches(url, account_ids) == 0
    totals = expected_totals(stored)
    with httpx.Client() as client:
        for account_id in account_ids:
            assert served_total(client, base, admin_key, account_id) == totals.get(account_id, 0)
    return {"stored": len(stored), "lost": len(lost)}


@dataclass(frozen=True)
class Served:
    """A running server over a seeded store."""

    server: Server
    keys: Keys
    url: str  # the store's
    store: Store  # the same store, opened by the test

    def post(self, http: httpx.Client, events: list[dict[str, Any]]) -> httpx.Response:
        return http.post(
            f"{self.server.base_url}{EVENTS}",
            json={"events": events},
            headers=bearer(self.keys.ingest),
        )

    def new_account(self, http: httpx.Client, zone_name: str = "Asia/Shanghai") -> str:
        """A new account of its own for a test, made through the admin API."""
        account_id = f"t-{uuid.uuid4().hex[:16]}"
        answer = http.post(
            f"{self.server.base_url}/v1/admin/accounts",
            json={"id": account_id, "timezone": zone_name},
            headers=bearer(self.keys.admin),
        )
        assert answer.status_code == 201, answer.text
        return account_id

    def stored_ids(self, account_id: str) -> set[str]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT event_id FROM usage_events WHERE account_id = :a"), {"a": account_id}
            )
            return {row[0] for row in rows}

    def total(self, http: httpx.Client, account_id: str) -> int:
        return served_total(http, self.server.base_url, self.keys.admin, account_id)


@contextmanager
def serving(
    backend: str, directory: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """A new store of `backend`, seeded, with `creditmeter serve` over it."""
    with throwaway_store_url(backend, directory) as url:
        keys = seed(url)
        with (
            Server(url, directory / "serve.log", workers=workers, env=env) as server,
            opened_store(url) as store,
        ):
            yield Served(server, keys, url, store)
