"""The per-conversation and per-run rollups and their hourly counts equal a grouping of
the raw events when many writers send overlapping batches at once (resends, late events,
the same new conversation in two batches), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from creditmeter import accounts
from creditmeter.conversations import CONVERSATIONS, RUNS
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.settings import Settings
from creditmeter.store import Store, conversation_credits, open_store
from creditmeter.store.conversation_credits import DAY_MS, HOUR_MS
from creditmeter.store.dialect import SQLITE, dialect_of
from tests.rollup_check import conversation_mismatches

T = 1_733_011_200_000
MINUTE = 60_000


def _events(seed: int, count: int) -> list[Event]:
    rng = random.Random(seed)
    made = []
    for n in range(count):
        thread = f"t{rng.randrange(40)}"
        in_run = rng.random() < 0.4
        made.append(
            Event(
                "acme",
                f"e{n}",
                rng.choice(["b1", "b2"]),
                rng.choice([0, 3, 5, 8, 9] if in_run else [0, 3, 5, 8, 9, 10]),
                rng.randrange(1, 10**6),
                T + rng.randrange(0, 3 * 24 * 60) * MINUTE,
                None if in_run else thread,
                None,
                thread if in_run else None,
            )
        )
    return made


def test_concurrent_writers_keep_rollups_and_counts_exact(store: Store) -> None:
    accounts.create_account(store=store, account_id="acme", name="Acme")
    events = _events(5, 2000)
    rng = random.Random(9)
    # overlapping batches: each event in two of them, in shuffled order
    batches = []
    for _ in range(2):
        shuffled = events[:]
        rng.shuffle(shuffled)
        batches += [shuffled[i : i + 100] for i in range(0, len(shuffled), 100)]
    rng.shuffle(batches)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(Ingestion.of(store).ingest, batches))
    assert sum(r.accepted for r in results) == len(events)
    with store.read() as conn:
        assert conversation_mismatches(conn, "acme") == 0


def test_counts_at_ms_exact_day_and_hour_edges(store: Store) -> None:
    """Conversations created on, just before and just after whole days and hours; windows
    starting and ending on, before and after them: the count (daily, hourly and index
    pieces) and the page equal a brute-force filter, in one statement and in count()."""
    accounts.create_account(store=store, account_id="acme", name="Acme")
    day, hour = DAY_MS, HOUR_MS
    edges = [T + d * day + h * hour for d in (0, 1, 2, 30) for h in (0, 1, 23)]
    times = sorted({t + delta for t in edges for delta in (-1, 0, 1)})
    events = [
        Event("acme", f"e{i}", f"b{i % 2}", 0, 1 + i, ts, f"c{i}", None, None)
        for i, ts in enumerate(times)
    ]
    # a late event of c0 moves its create time a day earlier, across a day and an hour
    events.append(Event("acme", "late", "b0", 0, 5, times[0] - day, "c0", None, None))
    ingestion = Ingestion.of(store)
    for start in range(0, len(events), 7):
        ingestion.ingest(events[start : start + 7])
    created = {f"c{i}": ts for i, ts in enumerate(times)}
    created["c0"] = times[0] - day
    rng = random.Random(3)
    dialect = dialect_of(store.engine)
    with store.read() as conn:
        assert conversation_mismatches(conn, "acme") == 0
    for _ in range(120):
        start = rng.choice(times) + rng.choice([-1, 0, 1])
        end = min(start + rng.choice([0, hour, day, 29 * day + hour, 30 * day]), start + 30 * day)
        end = rng.choice([end, max(start, rng.choice(times) + rng.choice([-1, 0, 1]))])
        end = min(end, start + 30 * day)
        bot = rng.choice([None, "b0"])
        expected = sorted(
            (
                (-ts, c)
                for c, ts in created.items()
                if start <= ts <= end and (bot is None or int(c[1:]) % 2 == 0)
            ),
        )
        selection = conversation_credits.Selection("acme", bot, None, start, end)
        with store.read() as conn:
            assert conversation_credits.count(conn, CONVERSATIONS, selection) == len(expected)
        statement = conversation_credits.list_statement(
            dialect, CONVERSATIONS, selection, limit=5, offset=2
        )
        total, page = conversation_credits.list_rows(store.query(*statement))
        assert total == len(expected)
        assert [(r[0], r[1]) for r in page] == [(c, -t) for t, c in expected[2:7]]


def test_one_id_is_read_by_its_primary_key(tmp_path: Path) -> None:
    """A list of one conversation (run) looks its rows up by the primary key: walking the
    page index over the range instead read every conversation of a month (1M a month made
    it seconds). SQLite's plan, which has no statistics to go by."""
    store = open_store(Settings(database_url=f"sqlite:///{tmp_path / 'plan.db'}"))
    try:
        for listing, bot in ((CONVERSATIONS, None), (RUNS, "b1")):
            selection = conversation_credits.Selection("acme", bot, "c1", T, T + DAY_MS)
            sql, params = conversation_credits.list_statement(
                SQLITE, listing, selection, limit=20, offset=0
            )
            plan = [row[3] for row in store.query(f"EXPLAIN QUERY PLAN {sql}", params)]
            reads = [step for step in plan if step.startswith("SEARCH " + listing.table)]
            assert len(reads) == 3, plan  # the page and the two pieces of the count
            assert all("USING PRIMARY KEY" in step for step in reads), plan
    finally:
        store.dispose()
