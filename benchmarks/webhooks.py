"""Webhook figures (issue 19): ingestion with an endpoint registered and alerts firing vs
without, in-process, alternated in one run; and the time from the commit of a crossing
batch to the receiver's 200 through `creditmeter serve` (default settings, private
addresses allowed for the loopback receiver), on an otherwise idle server.

    python -m benchmarks.webhooks --database-url sqlite:////tmp/webhooks-bench.db

The ingestion comparison puts every account just above its threshold before each timed
batch (a grant, not timed), so that every batch crosses for every account: 20 alert events
and 20 deliveries written in each batch's transaction, the worst case. Side A does the same
with no threshold and no endpoint.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from tests.support.receiver import Receiver, receiving

from creditmeter import accounts, keys
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.money import MICRO
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store
from creditmeter.webhooks import endpoints
from creditmeter.webhooks.endpoints import EndpointRequest

from . import servers

ACCOUNTS = 20
BATCH = 1000
PER_EVENT = 1_000  # micro-credits: a batch draws 0.05 credits from each account
DRAWN = BATCH // ACCOUNTS * PER_EVENT
THRESHOLD = 1_000 * MICRO
ABOVE = THRESHOLD + DRAWN // 2  # where each batch starts: it ends below the threshold


def _batch(prefix: str, side: str) -> list[Event]:
    ts = int(time.time() * 1000) - 3_600_000
    return [
        Event(
            f"{side.lower()}-{n % ACCOUNTS}",
            f"{prefix}-{n}",
            f"bot-{n % 5}",
            n % 8,
            PER_EVENT,
            ts + n,
            None,
            None,
        )
        for n in range(BATCH)
    ]


def _credits(micro: int) -> str:
    return f"{micro // MICRO}.{micro % MICRO:06d}"


def _grant(store: Store, account: str, grant_id: str, micro: int) -> None:
    body = {"id": grant_id, "credits": _credits(micro), "kind": "plan"}
    create_grant(store=store, account_id=account, request=GrantRequest.parse(body))


def _top_up(store: Store, side: str, round_: int, balances: dict[str, int]) -> None:
    """Each account of the side back to just above THRESHOLD (the next batch crosses it)."""
    for n in range(ACCOUNTS):
        account = f"{side.lower()}-{n}"
        want = ABOVE
        if balances[account] < want:
            _grant(store, account, f"top-{round_}", want - balances[account])
            balances[account] = want


def ingest_rates(url: str, rounds: int, batches: int) -> tuple[float, float, int]:
    """Events/s without alerts (A) and with an endpoint and every account crossing its
    threshold in every batch (B), alternated; the best of each, and B's events written."""
    store = open_store(Settings(database_url=url, webhook_allow_private=True))
    ingestion = Ingestion.of(store)
    balances: dict[str, int] = {}
    for side in ("A", "B"):
        for n in range(ACCOUNTS):
            account = f"{side.lower()}-{n}"
            threshold = THRESHOLD if side == "B" else None
            accounts.create_account(
                store=store, account_id=account, low_balance_threshold=threshold
            )
            _grant(store, account, "start", ABOVE)
            balances[account] = ABOVE
    endpoints.create_endpoint(
        store=store, request=EndpointRequest.parse({"url": "http://127.0.0.1:9/bench"})
    )
    best = {"A": 0.0, "B": 0.0}
    alerts = 0
    for r in range(rounds):
        for side in ("A", "B"):
            elapsed = 0.0
            for b in range(batches):
                _top_up(store, side, r * batches + b, balances)
                work = _batch(f"{side}{r}-{b}", side)
                started = time.perf_counter()
                result = ingestion.ingest(work)
                elapsed += time.perf_counter() - started
                if side == "B":
                    alerts += result.alerts
                for n in range(ACCOUNTS):
                    balances[f"{side.lower()}-{n}"] -= DRAWN
            best[side] = max(best[side], batches * BATCH / elapsed)
    store.dispose()
    return best["A"], best["B"], alerts


def latencies(url: str, samples: int) -> list[tuple[float, float]]:
    """(from the request's start, from its 200) to the receiver's read of the event, in
    seconds, for `samples` crossing batches sent one at a time through `serve`."""
    store = open_store(Settings(database_url=url, webhook_allow_private=True))
    accounts.create_account(store=store, account_id="lat", low_balance_threshold=THRESHOLD)
    admin_key = keys.create_key(store=store, scope="admin").token
    ingest_key = keys.create_key(store=store, scope="ingest").token
    found: list[tuple[float, float]] = []
    receiver = Receiver()
    with receiving(receiver):
        endpoints.create_endpoint(
            store=store,
            request=EndpointRequest.parse({"url": receiver.url, "events": ["credits.balance_low"]}),
        )
        store.dispose()
        env = {"CREDITMETER_WEBHOOK_ALLOW_PRIVATE": "true"}
        with (
            servers.creditmeter(url, env=env) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            balance = 0
            for n in range(samples + 1):  # the first warms the writer up: not counted
                top = THRESHOLD + MICRO - balance  # to 1 credit above the threshold
                answer = http.post(
                    "/v1/admin/accounts/lat/grants",
                    json={"id": f"g{n}", "credits": _credits(top), "kind": "plan"},
                    headers={"Authorization": f"Bearer {admin_key}"},
                )
                assert answer.status_code == 201, answer.text
                balance += top
                time.sleep(0.2)  # idle: the deliverer is waiting
                seen = len(receiver.requests())
                event = {
                    "id": f"e{n}", "account_id": "lat", "bot_id": "b", "category": "chat",
                    "credits": "2", "timestamp": int(time.time() * 1000),
                }  # fmt: skip
                sent = time.time()
                answer = http.post(
                    "/v1/usage/events",
                    json={"events": [event]},
                    headers={"Authorization": f"Bearer {ingest_key}"},
                )
                answered = time.time()
                assert answer.status_code == 200, answer.text
                balance -= 2 * MICRO
                deadline = time.monotonic() + 30
                while len(receiver.requests()) <= seen:
                    assert time.monotonic() < deadline, "no webhook within 30 s"
                    time.sleep(0.001)
                arrived = receiver.requests()[seen].at
                if n:
                    found.append((arrived - sent, arrived - answered))
    return found


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--latency-database-url",
        help="A fresh store for the served latency run (default: the SQLite file's name "
        "with -latency; required for PostgreSQL)",
    )
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    if not args.skip_ingest:
        without, with_alerts, alerts = ingest_rates(args.database_url, args.rounds, args.batches)
        print(
            f"ingest events/s: no alerts {without:,.0f}; endpoint + {ACCOUNTS} crossings per "
            f"batch {with_alerts:,.0f} ({(1 - with_alerts / without) * 100:+.1f}% slower; "
            f"{alerts} events written)"
        )
    lat_url = args.latency_database_url or args.database_url.replace(".db", "-latency.db")
    if lat_url == args.database_url:
        parser.error("--latency-database-url: a store of its own is needed")
    found = latencies(lat_url, args.samples)
    from_send = [a * 1000 for a, _ in found]
    from_answer = [b * 1000 for _, b in found]
    print(
        f"commit to receiver, {len(found)} crossings: from the request's start p50 "
        f"{statistics.median(from_send):.1f} ms, p99 {_p(from_send, 0.99):.1f} ms, max "
        f"{max(from_send):.1f} ms; from its 200 p50 {statistics.median(from_answer):.1f} ms, "
        f"p99 {_p(from_answer, 0.99):.1f} ms"
    )


if __name__ == "__main__":
    main()
