"""Credit figures: ingestion with and without the draw-down (three grants per account),
balance reads at 32 connections (wrk, through `creditmeter serve`), and hold
create + release pairs per second on one account. Short runs; compare in one run.

    python -m benchmarks.credits --database-url sqlite:////tmp/credits-bench.db
"""

from __future__ import annotations

import argparse
import asyncio
import time
from unittest import mock

import httpx

from creditmeter import accounts, keys
from creditmeter.credits import journal
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.settings import Settings
from creditmeter.store import open_store

from . import servers, wrk

ACCOUNTS = 20
BATCH = 1000


def _batches(prefix: str, count: int) -> list[list[Event]]:
    ts = int(time.time() * 1000) - 3_600_000
    return [
        [
            Event(
                f"acct-{n % ACCOUNTS}",
                f"{prefix}-{b}-{n}",
                f"bot-{n % 5}",
                n % 8,
                1_000 + n,
                ts + n,
                None,
                None,
            )
            for n in range(BATCH)
        ]
        for b in range(count)
    ]


def ingest_rates(url: str, rounds: int, batches: int) -> tuple[float, float]:
    """Events/s without the draw-down (A) and with it, every account holding three grants
    (B), alternated `rounds` times in one process; the best of each."""
    store = open_store(Settings(database_url=url))
    ingestion = Ingestion.of(store)
    for n in range(ACCOUNTS):
        account = f"acct-{n}"
        accounts.create_account(store=store, account_id=account)
        for g, priority in enumerate((10, 50, 90)):
            body = {
                "id": f"g{g}",
                "credits": "1000000000",
                "kind": "plan",
                "priority": priority,
                "expires_at": int(time.time() * 1000) + 86_400_000 * (g + 1),
            }
            create_grant(store=store, account_id=account, request=GrantRequest.parse(body))
    best = {"A": 0.0, "B": 0.0}
    for r in range(rounds):
        for side in ("A", "B"):
            work = _batches(f"{side}{r}", batches)
            patch = (
                mock.patch.object(journal, "draw_down", return_value=None) if side == "A" else None
            )
            if patch:
                patch.start()
            started = time.perf_counter()
            for batch in work:
                ingestion.ingest(batch)
            rate = batches * BATCH / (time.perf_counter() - started)
            if patch:
                patch.stop()
            best[side] = max(best[side], rate)
    store.dispose()
    return best["A"], best["B"]


async def _hold_pairs(base_url: str, key: str, seconds: float, clients: int) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(c: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
            n = 0
            while time.perf_counter() < deadline:
                hold_id = f"h-{c}-{n}-{time.time_ns()}"
                answer = await http.post(
                    "/v1/credits/holds", json={"id": hold_id, "account_id": "acct-0", "credits": 1}
                )
                assert answer.status_code == 201, answer.text
                answer = await http.post(f"/v1/credits/holds/{hold_id}/release")
                assert answer.status_code == 200, answer.text
                done += 1
                n += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in range(clients)))
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    without, with_grants = ingest_rates(args.database_url, args.rounds, args.batches)
    print(
        f"ingest events/s: without draw-down {without:,.0f}, with 3 grants/account "
        f"{with_grants:,.0f} ({(1 - with_grants / without) * 100:.1f}% lower)"
    )
    store = open_store(Settings(database_url=args.database_url))
    read = keys.create_key(store=store, scope="read", account_id="acct-0").token
    ingest_key = keys.create_key(store=store, scope="ingest").token
    store.dispose()
    with servers.creditmeter(args.database_url, workers=args.workers) as server:
        url = f"{server.base_url}/v1/account/credits/balance"
        result = wrk.run(
            url, connections=32, seconds=args.seconds, headers={"Authorization": f"Bearer {read}"}
        )
        print(
            f"balance reads, 32 connections: {result.requests_per_second:,.0f}/s, "
            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}"
        )
        pairs = asyncio.run(_hold_pairs(server.base_url, ingest_key, args.seconds, 8))
        print(f"hold create + release: {pairs:,.0f} pairs/s (8 clients)")


if __name__ == "__main__":
    main()
