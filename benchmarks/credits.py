"""Credit figures: ingestion with and without the draw-down (three grants per account),
balance reads at 32 connections (wrk, through `creditmeter serve`), and hold
create + release pairs per second on one account (through `serve` with N clients, and with
--desk through a HoldDesk in-process, without HTTP). Short runs; compare in one run.

    python -m benchmarks.credits --database-url sqlite:////tmp/credits-bench.db
    python -m benchmarks.credits --database-url URL --holds-only --hello --desk \
        --hold-clients 8,32 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from unittest import mock

from creditmeter import accounts, keys
from creditmeter.credits import journal
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.credits.hold_desk import HoldDesk
from creditmeter.credits.holds import HoldRequest, Release
from creditmeter.errors import Conflict
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


HOLD_PAIRS_LUA = """
-- One connection per wrk thread: each alternates a hold's create and its release, the
-- release sent once the create is answered (no pipelining). The state moves on in
-- response(), not in request(): wrk builds one request at start that it never sends.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end
local n = 0
local open = nil
local taken = false
local headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
request = function()
  if taken then
    return wrk.format("POST", "/v1/credits/holds/" .. open .. "/release", headers)
  end
  n = n + 1
  open = string.format("h%(run)s-%%d-%%d", number, n)
  local body = string.format('{"id":"%%s","account_id":"acct-0","credits":1}', open)
  return wrk.format("POST", "/v1/credits/holds", headers, body)
end
response = function(status, headers, body)
  if status == 201 then taken = true elseif status == 200 then taken = false end
end
"""


def hold_pairs(base_url: str, key: str, seconds: int, clients: int) -> wrk.WrkResult:
    """Hold create + release on one account from `clients` connections (wrk, one thread
    each); pairs/s is half its requests/s, and every answer must be a 2xx."""
    lua = HOLD_PAIRS_LUA % {"key": key, "run": time.time_ns()}
    return wrk.run(
        f"{base_url}/v1/credits/holds",
        connections=clients,
        threads=clients,
        seconds=seconds,
        lua=lua,
    )


def desk_pairs(url: str, clients: int, seconds: float) -> tuple[float, float]:
    """Hold create + release pairs/s on acct-0 through one HoldDesk in this process, with no
    HTTP (the store's side alone), and the mean requests per group."""
    store = open_store(Settings(database_url=url))
    desk = HoldDesk(store)
    done = 0

    async def client(number: int, deadline: float) -> None:
        nonlocal done
        n = 0
        while time.perf_counter() < deadline:
            hold_id = f"d{time.time_ns()}-{number}-{n}"
            body = {"id": hold_id, "account_id": "acct-0", "credits": 1}
            for ask in (HoldRequest.parse(body), Release(hold_id)):
                outcome = await desk.ask(ask)
                assert not isinstance(outcome, Exception), outcome
            done += 1
            n += 1

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(c, deadline) for c in range(clients)))
        return time.perf_counter() - started

    took = asyncio.run(run())
    store.dispose()
    return done / took, 2 * done / max(desk.groups, 1)


def _grant_one(url: str) -> None:
    """acct-0 with one grant large enough for every hold (the holds phase alone)."""
    store = open_store(Settings(database_url=url))
    with contextlib.suppress(Conflict):  # a store this phase ran on before
        accounts.create_account(store=store, account_id="acct-0")
    body = {"id": "g0", "credits": "1000000000", "kind": "purchase"}
    create_grant(store=store, account_id="acct-0", request=GrantRequest.parse(body))
    store.dispose()


def _server_cpu(server: servers.Watched) -> float:
    """CPU seconds so far of the server's processes: workers, supervisor, writer."""
    return sum(server.cpu_seconds().values())


def _per_request_us(
    server: servers.Watched, before: float, result: wrk.WrkResult, seconds: int
) -> float:
    """The server's CPU per request answered since `before` (less moved by a busy
    machine than the latency: a stalled request costs no CPU)."""
    answered = max(result.requests_per_second * seconds, 1)
    return (_server_cpu(server) - before) / answered * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--hold-clients", default="8", help="comma-separated: one holds run per figure"
    )
    parser.add_argument(
        "--holds-only", action="store_true", help="no ingestion and no balance reads"
    )
    parser.add_argument(
        "--hello",
        action="store_true",
        help="first the uvicorn hello-world with as many connections (the HTTP ceiling)",
    )
    parser.add_argument(
        "--desk",
        action="store_true",
        help="also hold pairs through a HoldDesk in this process, without HTTP",
    )
    args = parser.parse_args()
    if args.hello:
        with servers.hello_world() as hello:
            for clients in map(int, args.hold_clients.split(",")):
                result = wrk.run(
                    f"{hello.base_url}/",
                    connections=clients,
                    threads=clients,
                    seconds=args.seconds,
                )
                print(f"hello-world, {clients} clients: {result.requests_per_second:,.0f} req/s")
    if args.holds_only:
        _grant_one(args.database_url)
    else:
        without, with_grants = ingest_rates(args.database_url, args.rounds, args.batches)
        print(
            f"ingest events/s: without draw-down {without:,.0f}, with 3 grants/account "
            f"{with_grants:,.0f} ({(1 - with_grants / without) * 100:.1f}% lower)"
        )
    if args.desk:
        for clients in map(int, args.hold_clients.split(",")):
            pairs, per_group = desk_pairs(args.database_url, clients, args.seconds)
            print(
                f"hold create + release in-process (HoldDesk, no HTTP), {clients} clients: "
                f"{pairs:,.0f} pairs/s, {per_group:.1f} requests per transaction"
            )
    store = open_store(Settings(database_url=args.database_url))
    read = keys.create_key(store=store, scope="read", account_id="acct-0").token
    ingest_key = keys.create_key(store=store, scope="ingest").token
    store.dispose()
    with servers.creditmeter(args.database_url, workers=args.workers) as server:
        if not args.holds_only:
            url = f"{server.base_url}/v1/account/credits/balance"
            before = _server_cpu(server)
            result = wrk.run(
                url,
                connections=32,
                seconds=args.seconds,
                headers={"Authorization": f"Bearer {read}"},
            )
            cost = _per_request_us(server, before, result, args.seconds)
            print(
                f"balance reads, 32 connections: {result.requests_per_second:,.0f}/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                f"non-2xx {result.non_2xx}, server CPU {cost:,.0f} us per request"
            )
        for clients in map(int, args.hold_clients.split(",")):
            before = _server_cpu(server)
            served = hold_pairs(server.base_url, ingest_key, args.seconds, clients)
            cost = _per_request_us(server, before, served, args.seconds)
            print(
                f"hold create + release, {clients} clients, {args.workers} worker(s): "
                f"{served.requests_per_second / 2:,.0f} pairs/s, request p50 "
                f"{served.p50_ms:.2f} ms, p99 {served.p99_ms:.2f} ms, non-2xx {served.non_2xx}, "
                f"server CPU {cost:,.0f} us per request"
            )


if __name__ == "__main__":
    main()
