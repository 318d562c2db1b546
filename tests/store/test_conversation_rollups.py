"""The per-conversation and per-run rollups and their hourly counts equal a grouping of
the raw events when many writers send overlapping batches at once (resends, late events,
the same new conversation in two batches), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from creditmeter import accounts
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.store import Store
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
